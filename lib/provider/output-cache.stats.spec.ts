import { OutputCacheEvents } from '../observability/output-cache-events.js';
import { OutputCacheStats } from './output-cache.stats.js';

describe('OutputCacheStats', () => {
  function setup() {
    const events = new OutputCacheEvents();
    const stats = new OutputCacheStats(events);
    return { events, stats };
  }

  it('counts every served result as a hit, and each in its own counter too', () => {
    const { events, stats } = setup();
    for (const result of ['hit', 'stale', 'stale-if-error', 'collapsed'] as const) {
      events.decision({ result, route: 'A/a' });
    }
    events.decision({ result: 'miss', route: 'A/a' });
    expect(stats.snapshot()).toMatchObject({
      hits: 4,
      misses: 1,
      stale: 1,
      staleIfError: 1,
      collapsed: 1,
      hitRatio: 0.8,
    });
  });

  it('counts a 304 as a hit, a not-modified, and what it validated (its reason)', () => {
    const { events, stats } = setup();
    events.decision({ result: 'not-modified', route: 'A/a', reason: 'stale' });
    events.decision({ result: 'not-modified', route: 'A/a', reason: 'hit' });
    expect(stats.snapshot()).toMatchObject({ hits: 2, notModified: 2, stale: 1 });
  });

  it('keeps reasons and routes apart', () => {
    const { events, stats } = setup();
    events.decision({ result: 'bypass', route: 'A/a', reason: 'method' });
    events.decision({ result: 'bypass', route: 'B/b', reason: 'method' });
    events.decision({ result: 'not-stored', route: 'B/b', reason: 'status' });
    const snap = stats.snapshot();
    expect(snap.bypassed).toEqual({ method: 2 });
    expect(snap.routes['A/a'].bypassed).toEqual({ method: 1 });
    expect(snap.routes['B/b'].notStored).toEqual({ status: 1 });
    expect(snap.routes['B/b'].hitRatio).toBe(0);
  });

  it('counts evictions by cause: entries taken, or one a value when the store did not say', () => {
    const { events, stats } = setup();
    events.eviction({ cause: 'tag', values: ['a', 'b'], count: 7 });
    events.eviction({ cause: 'tag', values: ['c', 'd'], remote: true });
    events.eviction({ cause: 'all', values: [], remote: true });
    const { evictions } = stats.snapshot();
    expect(evictions.byCause.tag).toBe(9);
    expect(evictions.calls.tag).toBe(2);
    expect(evictions.byCause.all).toBe(1);
    expect(evictions.total).toBe(10);
  });

  it('reads the breaker and the usage from its sources; reset() zeroes the counters', () => {
    const { events, stats } = setup();
    expect(stats.snapshot().usage).toBeUndefined();
    stats.useSources({ breaker: () => 'open', usage: () => ({ entries: 3, bytes: 300 }) });
    events.decision({ result: 'hit', route: 'A/a' });
    stats.storeErrors = 2;
    expect(stats.snapshot()).toMatchObject({
      breaker: { state: 'open' },
      usage: { entries: 3, bytes: 300 },
    });
    stats.reset();
    expect(stats.snapshot()).toMatchObject({ hits: 0, storeErrors: 0, routes: {} });
  });

  it('stops listening when the module is destroyed', () => {
    const { events, stats } = setup();
    stats.onModuleDestroy();
    events.decision({ result: 'hit', route: 'A/a' });
    expect(stats.snapshot().hits).toBe(0);
  });
});
