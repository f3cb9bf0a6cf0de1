import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { handlerRuns, PagesController } from './fixtures/pages.controller.js';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends requests from `workers` loops until `until()`; records status and latency. */
async function traffic(t: TestApp, workers: number, until: () => boolean) {
  const samples: { at: number; ms: number; status: number; xcache: string }[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; !until(); i++) {
        const started = Date.now();
        const res = await t
          .http()
          .get(`/page?x=${(w * 7 + i) % 20}`)
          .timeout(5000);
        samples.push({
          at: started,
          ms: Date.now() - started,
          status: res.status,
          xcache: String(res.headers['x-cache']),
        });
      }
    }),
  );
  return samples;
}

const p99 = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.99)] ?? 0;
};

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

  it('serves every request, fast, while Redis is down, and hits again once it is back', async () => {
    // Warm up, then a baseline of hits and misses with Redis up.
    for (let x = 0; x < 20; x++) await t.http().get(`/page?x=${x}`).expect(200);
    const start = Date.now();
    const before = await traffic(t, 8, () => Date.now() - start > 1500);
    await redis.kill();
    const killedAt = Date.now();
    const during = await traffic(t, 8, () => Date.now() - killedAt > 2500);
    await redis.start(); // an empty Redis again: pages render and are stored anew
    const back = Date.now();
    let resumedAfter = -1;
    while (Date.now() - back < 10_000) {
      const res = await t.http().get('/page?x=3').expect(200);
      if (res.headers['x-cache'] === 'HIT') {
        resumedAfter = Date.now() - back;
        break;
      }
      await sleep(100);
    }
    const all = [...before, ...during];
    const errors = all.filter((s) => s.status >= 500);
    const slowest = Math.max(...all.map((s) => s.ms));
    const added = p99(during.map((s) => s.ms)) - p99(before.map((s) => s.ms));
    const stats = t.app.get(OutputCacheProvider).stats();
    console.log(
      `outage: ${before.length} requests before (p99 ${p99(before.map((s) => s.ms))} ms), ` +
        `${during.length} during (p99 ${p99(during.map((s) => s.ms))} ms, ` +
        `${during.filter((s) => s.xcache === 'MISS').length} rendered uncached), ` +
        `5xx: ${errors.length}, slowest ${slowest} ms, p99 added ${added} ms, ` +
        `store calls failed ${stats.storeErrors}, skipped by the open breaker ${stats.storeSkipped}, ` +
        `hits resumed ${resumedAfter} ms after restart`,
    );
    expect(errors).toHaveLength(0);
    expect(during.every((s) => s.status === 200)).toBe(true);
    expect(slowest).toBeLessThan(1000);
    expect(added).toBeLessThan(200);
    expect(resumedAfter).toBeGreaterThanOrEqual(0);
    expect(stats.storeSkipped).toBeGreaterThan(0); // the breaker did open
  }, 60_000);
});
