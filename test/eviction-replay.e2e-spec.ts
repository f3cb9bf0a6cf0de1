import 'reflect-metadata';
import {
  type CacheEviction,
  OutputCacheEvents,
  OutputCacheModule,
  OutputCacheProvider,
} from '../lib/index.js';
import { PagesController, runs } from './fixtures/pages.controller.js';
import { FaultyStore } from './helpers/faulty-store.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { drainMicrotasks, until } from './helpers/wait.js';

/**
 * An eviction the store refused (down at the moment of an edit) is not forgotten: the call still
 * rejects, and the eviction is made again once the store answers, so the page the edit made stale
 * does not live until it expires (the soak caught one served 1.5 s after the edit, and it would
 * have been served for the whole TTL).
 */
describe('Evictions the store refused are made again once it answers (e2e)', () => {
  let t: TestApp;
  let store: FaultyStore;
  let cache: OutputCacheProvider;
  const evictions: CacheEviction[] = [];

  beforeAll(async () => {
    store = new FaultyStore();
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({ store, circuitBreaker: { failures: 100, openFor: 1 } }),
      ],
      controllers: [PagesController],
    });
    cache = t.app.get(OutputCacheProvider);
    t.app.get(OutputCacheEvents).listen({ eviction: (e) => evictions.push(e) });
  });
  afterAll(() => t?.close());

  it('rejects the eviction, keeps it, and makes it when replayed: the page renders anew', async () => {
    const page = '/products/71';
    await t.http().get(page).expect(200).expect('X-Cache', 'MISS');
    await t.http().get(page).expect(200).expect('X-Cache', 'HIT');
    const rendered = runs('product-71');

    store.failNext = 2; // the eviction and its one retry
    await expect(cache.invalidateByTag('Product:71')).rejects.toThrow('connection reset');
    expect(cache.pendingEvictions).toBe(1);
    expect(evictions.filter((e) => e.values.includes('Product:71'))).toEqual([]);
    // Not evicted yet: the store still holds the page.
    await t.http().get(page).expect(200).expect('X-Cache', 'HIT');

    await cache.replayEvictions();
    expect(cache.pendingEvictions).toBe(0);
    expect(evictions.filter((e) => e.values.includes('Product:71'))).toEqual([
      { cause: 'tag', values: ['Product:71'], count: 1 },
    ]);
    await t.http().get(page).expect(200).expect('X-Cache', 'MISS');
    expect(runs('product-71')).toBe(rendered + 1);
  });

  it('replays on its own, in order, while the store keeps failing it waits', async () => {
    await t.http().get('/products/72').expect(200);
    await t.http().get('/products/73').expect(200);
    store.mode = 'fail';
    await expect(cache.invalidateByTag('Product:72')).rejects.toThrow();
    await expect(cache.invalidateByRoute('Pages/product')).rejects.toThrow();
    expect(cache.pendingEvictions).toBe(2);
    await cache.replayEvictions(); // the store still fails: both wait
    expect(cache.pendingEvictions).toBe(2);

    store.mode = 'ok';
    await until(() => cache.pendingEvictions === 0, 'the queued evictions to be replayed', 60_000);
    const replayed = evictions.slice(-2).map((e) => e.cause);
    expect(replayed).toEqual(['tag', 'route']);
    await t.http().get('/products/73').expect(200).expect('X-Cache', 'MISS');
  });

  it('replays as soon as the store answers a request again, not at the next scheduled try', async () => {
    await t.http().get('/products/74').expect(200);
    store.mode = 'fail';
    await expect(cache.invalidateByTag('Product:74')).rejects.toThrow();
    // A request meets the failing store too (a page not in the synchronous first look, so the
    // store is asked, and fails: served uncached): the store is known to be down.
    await t.http().get('/products/76').expect(200).expect('X-Cache', 'MISS');
    expect(cache.pendingEvictions).toBe(1);

    store.mode = 'ok';
    // The first request the store answers sets the replay going (the scheduled try is a second
    // away; the memory store answers within a few turns of the event loop).
    await t.http().get('/products/75').expect(200);
    for (let turn = 0; turn < 5 && cache.pendingEvictions > 0; turn++) await drainMicrotasks();
    expect(cache.pendingEvictions).toBe(0);
  });
});
