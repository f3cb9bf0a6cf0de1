import 'reflect-metadata';
import { OutputCacheModule } from '../lib/index.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { handlerRuns, PagesController, runs } from './fixtures/pages.controller.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { uniqueName } from './helpers/unique-name.js';

const prefix = `${uniqueName('oc_lock')}:`;

/** Two instances of an app (own Nest app, own Redis connection) sharing one Redis store. */
async function instance(): Promise<TestApp> {
  return createTestApp({
    imports: [
      OutputCacheModule.forRoot({
        store: new RedisOutputCacheStore({
          url: REDIS_URL,
          prefix,
          redis: { commandTimeout: 2000 },
        }),
        storeTimeout: 2,
        distributedLock: true,
        lockTimeout: 5,
      }),
    ],
    controllers: [PagesController],
  });
}

describe('distributed render lock (e2e)', () => {
  let a: TestApp;
  let b: TestApp;

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

  it('renders a cold page once across instances; the others wait for its entry', async () => {
    handlerRuns.clear();
    // The same public host on both, as behind a load balancer (the host is part of the key).
    const get = (app: TestApp) => app.http().get('/slow').set('Host', 'shop.example');
    const responses = await Promise.all([
      ...Array.from({ length: 10 }, () => get(a)),
      ...Array.from({ length: 10 }, () => get(b)),
    ]);
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.text).toBe('<p>slow 1</p>');
    }
    expect(runs('slow')).toBe(1);
    expect(responses.filter((r) => r.headers['x-cache'] === 'MISS')).toHaveLength(1);
  });
});
