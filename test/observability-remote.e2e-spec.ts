import 'reflect-metadata';
import {
  type CacheEviction,
  OUTPUT_CACHE_STORE,
  OutputCacheEvents,
  OutputCacheModule,
  OutputCacheProvider,
} from '../lib/index.js';
import { TieredOutputCacheStore } from '../lib/redis.js';
import { EdgeController } from './fixtures/edge.controller.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { uniqueName } from './helpers/unique-name.js';
import { until } from './helpers/wait.js';

// The bus channel is `{prefix}evictions`: unique with the prefix.
const prefix = `${uniqueName('oc_obs_remote')}:`;

describe('observability (e2e, real Redis): evictions received over the bus', () => {
  let a: TestApp;
  let b: TestApp;
  const instance = () =>
    createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          store: new TieredOutputCacheStore({
            redis: { url: REDIS_URL, prefix, redis: { commandTimeout: 2000 } },
          }),
        }),
      ],
      controllers: [EdgeController],
    });

  beforeAll(async () => {
    await clearRedisPrefix(prefix);
    a = await instance();
    b = await instance();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await clearRedisPrefix(prefix);
  });

  it('reports them on the other instance as remote, with their cause and values', async () => {
    const received: CacheEviction[] = [];
    b.app.get(OutputCacheEvents).listen({ eviction: (e) => received.push(e) });
    // Both instances' buses subscribed (a store connects its bus on first use).
    for (const t of [a, b]) await t.app.get<TieredOutputCacheStore>(OUTPUT_CACHE_STORE).start();
    const cache = a.app.get(OutputCacheProvider);
    await cache.invalidateByTag('Thing:11');
    await cache.invalidateByRoute('Edge/thing');
    await cache.invalidateByPrefix('/edge');
    await cache.invalidateAll();
    await until(() => received.length >= 4, 'four evictions over the bus');
    expect(received).toEqual([
      { cause: 'tag', values: ['Thing:11'], remote: true },
      { cause: 'route', values: ['Edge/thing'], remote: true },
      { cause: 'prefix', values: ['/edge'], remote: true },
      { cause: 'all', values: [], remote: true },
    ]);
    const { evictions } = b.app.get(OutputCacheProvider).stats();
    expect(evictions.calls).toMatchObject({ tag: 1, route: 1, prefix: 1, all: 1 });
  });
});
