import type { OutputCacheProvider, OutputCacheStatsSnapshot } from '../../lib/index.js';

type Numeric = {
  [
    K in keyof OutputCacheStatsSnapshot as OutputCacheStatsSnapshot[K] extends number ? K : never
  ]: number;
};

/** What changed in the cache's counters since {@link statsSince} was called. */
export type StatsDelta = Numeric & {
  /** Requests that bypassed the cache since, by reason (a reason not seen is 0). */
  bypassed(reason: string): number;
  /** Renders not stored since, by reason (a reason not seen is 0). */
  notStored(reason: string): number;
};

/**
 * The cache's counters as they move from now on. Stats live as long as the app, which the tests
 * of a file share: a bare `stats().notStored['set-cookie'] >= 1` already holds from an earlier
 * test. A delta counts only what this test did (and still works when `OutputCacheStats.reset()`
 * runs elsewhere: it is taken from the snapshots, not from zero).
 *
 * @example
 * ```ts
 * const since = statsSince(cache);
 * await http.get('/cookie');
 * expect(since().notStored('set-cookie')).toBe(1);
 * ```
 */
export function statsSince(cache: Pick<OutputCacheProvider, 'stats'>): () => StatsDelta {
  const start = cache.stats();
  return () => {
    const now = cache.stats();
    const delta: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(now)) {
      const before = (start as unknown as Record<string, unknown>)[name];
      if (typeof value === 'number' && typeof before === 'number') delta[name] = value - before;
    }
    delta.bypassed = (reason: string) =>
      (now.bypassed[reason] ?? 0) - (start.bypassed[reason] ?? 0);
    delta.notStored = (reason: string) =>
      (now.notStored[reason] ?? 0) - (start.notStored[reason] ?? 0);
    return delta as StatsDelta;
  };
}
