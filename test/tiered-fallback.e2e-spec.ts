import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { TieredOutputCacheStore } from '../lib/redis.js';
import { availability, AvailabilityController } from './fixtures/availability.controller.js';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { uniqueName } from './helpers/unique-name.js';

/**
 * Stale-if-error when the shared store is gone too: the tiered store's L1 copy is the last
 * resort. It may have missed an eviction (the bus is down with Redis), so it is never served as
 * a hit: the page is rendered, and the copy answers only when that render fails as well.
 */
describe('Tiered store: the L1 copy answers a failed render while Redis is down (e2e, a real redis-server killed)', () => {
  let redis: ScratchRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = new ScratchRedis(await freePort());
    await redis.start();
    // l1Revalidate 0: every read asks Redis, so each request below meets the dead server.
    const store = new TieredOutputCacheStore({
      redis: { url: redis.url, prefix: `${uniqueName('oc_fallback')}:` },
      l1Revalidate: 0,
    });
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store, reasonHeader: true })],
      controllers: [AvailabilityController],
    });
  });
  afterAll(async () => {
    availability.failing = false;
    await t?.close();
    await redis?.kill();
  });

  it('renders first, serves the L1 copy only when the render fails, and never as a hit', async () => {
    const cache = t.app.get(OutputCacheProvider);
    availability.failing = false;
    const first = await t.http().get('/avail/sie').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    await t.http().get('/avail/sie').expect(200).expect('X-Cache', 'HIT');

    await redis.kill();
    const since = statsSince(cache);
    const rendersBefore = availability.renders;

    // The render succeeds: its page is served, not the copy.
    const fresh = await t.http().get('/avail/sie').expect(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(availability.renders).toBe(rendersBefore + 1);
    expect(fresh.text).toContain(`render ${rendersBefore + 1}`);

    // The render fails (the database is down as well): the L1 copy answers instead of a 500.
    availability.failing = true;
    const kept = await t.http().get('/avail/sie').expect(200);
    expect(availability.renders).toBe(rendersBefore + 2);
    expect(kept.text).toBe(first.text);
    expect(kept.headers['x-cache-reason']).toBe('stale-if-error');
    const counted = since();
    expect(counted.staleIfError).toBe(1);
    expect(kept.headers['x-cache']).not.toBe('HIT');
  });

  it('answers 500 for a page it never held (nothing to fall back on)', async () => {
    availability.failing = true;
    await t.http().get('/avail/sie?other=1').expect(500);
  });
});
