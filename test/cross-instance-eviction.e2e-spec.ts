import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { edge, EdgeController } from './fixtures/edge.controller.js';
import { connectRedis, deletePrefix, REDIS_URL } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { until } from './helpers/wait.js';

const prefix = `oc-xinst:${process.pid}:`;

/** An instance of the app on the plain Redis store: no bus, nothing shared but Redis. */
function instance(): Promise<TestApp> {
  return createTestApp({
    imports: [
      OutputCacheModule.forRoot({
        store: new RedisOutputCacheStore({
          url: REDIS_URL,
          prefix,
          redis: { commandTimeout: 2000 },
        }),
        storeTimeout: 2,
      }),
    ],
    controllers: [EdgeController],
  });
}

describe('eviction across instances, no bus (e2e, real Redis)', () => {
  let a: TestApp;
  let b: TestApp;
  const get = (t: TestApp, path: string) => t.http().get(path).set('Host', 'shop.example');

  beforeAll(async () => {
    const admin = await connectRedis();
    await deletePrefix(admin, prefix);
    admin.disconnect();
    a = await instance();
    b = await instance();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const admin = await connectRedis();
    await deletePrefix(admin, prefix);
    admin.disconnect();
  });
  beforeEach(async () => {
    edge.renders = 0;
    edge.gate = Promise.resolve();
    await a.app.get(OutputCacheProvider).invalidateAll();
  });

  const evictions: [string, (cache: OutputCacheProvider) => Promise<unknown>][] = [
    ['a tag', (cache) => cache.invalidateByTag('Thing:11')],
    ['the route', (cache) => cache.invalidateByRoute('Edge/thing')],
    ['a path prefix', (cache) => cache.invalidateByPrefix('/edge')],
    ['everything', (cache) => cache.invalidateAll()],
    ['a tag, softly', (cache) => cache.invalidateByTag('Thing:11', { soft: true })],
  ];

  it.each(evictions)(
    'a render under way on A is not stored once B evicted %s (A stored the old page before)',
    async (_what, evict) => {
      let open!: () => void;
      edge.gate = new Promise<void>((resolve) => (open = resolve));
      const rendering = get(a, '/edge/thing').then((res) => res);
      await until(() => edge.renders === 1, 'A to start rendering');
      // The row changes and B evicts; the eviction call has returned.
      await evict(b.app.get(OutputCacheProvider));
      open();
      const old = await rendering;
      expect(old.text).toBe('<p>thing 1</p>'); // A's own client gets what A rendered
      // From now on no instance serves what the eviction overtook.
      for (const t of [a, b, a]) {
        const res = await get(t, '/edge/thing');
        expect(res.status).toBe(200);
        expect(res.text).not.toBe('<p>thing 1</p>');
      }
      expect(
        a.app.get(OutputCacheProvider).stats().notStored['evicted-during-render'],
      ).toBeGreaterThan(0);
    },
  );

  it('a render that began after the eviction is stored and shared', async () => {
    await b.app.get(OutputCacheProvider).invalidateByTag('Thing:11');
    const stored = a.app.get(OutputCacheProvider).stats().stored;
    await get(a, '/edge/thing');
    // A's store write goes on after its response: wait for it, then B is served it.
    await until(() => a.app.get(OutputCacheProvider).stats().stored > stored, "A's write");
    const hit = await get(b, '/edge/thing');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe('<p>thing 1</p>');
  });
});
