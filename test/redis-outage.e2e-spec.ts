import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { handlerRuns, PagesController } from './fixtures/pages.controller.js';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { eventually } from './helpers/wait.js';

/**
 * Sends `perWorker` requests from each of `workers` loops (a count, not a duration: what is
 * sent does not depend on the machine's speed); records status and X-Cache. A request that
 * hangs fails after 10 s (a dead store must never hold a request: that is a hang, not latency).
 */
async function traffic(t: TestApp, workers: number, perWorker: number) {
  const samples: { status: number; xcache: string }[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) {
        const res = await t
          .http()
          .get(`/page?x=${(w * 7 + i) % 20}`)
          .timeout(10_000);
        samples.push({ status: res.status, xcache: String(res.headers['x-cache']) });
      }
    }),
  );
  return samples;
}

describe('Redis outage (e2e, a real redis-server killed mid-traffic)', () => {
  let redis: ScratchRedis;
  let t: TestApp;
  let store: RedisOutputCacheStore;

  beforeAll(async () => {
    redis = new ScratchRedis(await freePort());
    await redis.start();
    store = new RedisOutputCacheStore({ url: redis.url, prefix: 'outage:' });
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store, circuitBreaker: { failures: 3, openFor: 1 } })],
      controllers: [PagesController],
    });
    handlerRuns.clear();
  });
  afterAll(async () => {
    await t?.close();
    await redis?.kill();
  });

  it('serves every request while Redis is down, mostly without asking it, and hits again once it is back', async () => {
    const cache = t.app.get(OutputCacheProvider);
    // Warm up, then a baseline with Redis up.
    for (let x = 0; x < 20; x++) await t.http().get(`/page?x=${x}`).expect(200);
    const before = await traffic(t, 8, 25);
    expect(before.every((s) => s.status === 200)).toBe(true);

    await redis.kill();
    const down = statsSince(cache);
    const during = await traffic(t, 8, 25);
    const outage = down();

    await redis.start(); // an empty Redis again: pages render and are stored anew
    const resumed = await eventually(
      () => t.http().get('/page?x=3').expect(200),
      (res) => res.headers['x-cache'] === 'HIT',
      'hits to resume after Redis came back',
      20_000,
    );

    console.log(
      `outage: ${during.length} requests while Redis was down ` +
        `(${during.filter((s) => s.xcache === 'MISS').length} rendered uncached), ` +
        `store calls failed ${outage.storeErrors}, skipped by the open breaker ${outage.storeSkipped}`,
    );
    // Every request answered, none with an error (a hang fails in `traffic`).
    expect(during.filter((s) => s.status !== 200)).toEqual([]);
    // Nothing is served from a dead store: every answer was rendered.
    expect(during.every((s) => s.xcache === 'MISS')).toBe(true);
    // Fast, as a property rather than a duration: the breaker opened, and most store calls were
    // not made at all (each one made could cost up to storeTimeout; a skipped one costs nothing).
    expect(outage.storeErrors).toBeGreaterThanOrEqual(3);
    expect(outage.storeSkipped).toBeGreaterThan(outage.storeErrors);
    expect(resumed.headers['x-cache']).toBe('HIT');
  }, 180_000); // 420 requests and a restart: minutes on a loaded 2-core machine
});
