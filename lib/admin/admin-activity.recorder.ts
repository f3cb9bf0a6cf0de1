import { LRUCache } from 'lru-cache';
import type { CacheDecision } from '../observability/output-cache-events.js';

/** Hits and misses of one minute. */
export interface MinuteActivity {
  /** Start of the minute, epoch milliseconds. */
  minute: number;
  /** Requests served from the cache (hit, stale, stale-if-error, 304, collapsed). */
  hits: number;
  /** Requests rendered by the handler. */
  misses: number;
}

/** Minutes the timeline keeps. */
export const TIMELINE_MINUTES = 60;

const MINUTE = 60_000;

/** Decisions that served an entry, for the hit ratio. */
const SERVED = new Set(['hit', 'stale', 'stale-if-error', 'not-modified', 'collapsed']);

/**
 * What the admin endpoints show beyond the store: hits per entry key (a bounded LRU) and hits
 * and misses per minute over the last hour (a ring of {@link TIMELINE_MINUTES} buckets). Fed by
 * the event hub's decisions; each costs a map update, and the memory stays bounded whatever the
 * traffic.
 *
 * @example
 * ```ts
 * const activity = new AdminActivity(10_000);
 * events.listen({ decision: (d) => activity.record(d) });
 * activity.hitsOf(key); // 3
 * ```
 */
export class AdminActivity {
  private readonly hits: LRUCache<string, number>;
  private readonly ring: MinuteActivity[] = Array.from({ length: TIMELINE_MINUTES }, () => ({
    minute: -1,
    hits: 0,
    misses: 0,
  }));

  constructor(trackedKeys: number) {
    this.hits = new LRUCache<string, number>({ max: trackedKeys });
  }

  /** Counts one decision of the request pipeline. */
  record(decision: CacheDecision, now = Date.now()): void {
    const served = SERVED.has(decision.result);
    if (decision.result === 'stored' && decision.key !== undefined) {
      // A new entry under the key: its hits start from zero.
      this.hits.delete(decision.key);
      return;
    }
    if (!served && decision.result !== 'miss') return;
    if (served && decision.key !== undefined) {
      this.hits.set(decision.key, (this.hits.get(decision.key) ?? 0) + 1);
    }
    const minute = now - (now % MINUTE);
    const bucket = this.ring[Math.floor(minute / MINUTE) % TIMELINE_MINUTES];
    if (bucket.minute !== minute) {
      // A bucket last used an hour (or more) ago starts again.
      bucket.minute = minute;
      bucket.hits = 0;
      bucket.misses = 0;
    }
    if (served) bucket.hits++;
    else bucket.misses++;
  }

  /** Responses served from the entry under `key` since it was stored (0 when unknown). */
  hitsOf(key: string): number {
    return this.hits.peek(key) ?? 0;
  }

  /** Forgets the hits of a purged key. */
  forget(key: string): void {
    this.hits.delete(key);
  }

  /** The last {@link TIMELINE_MINUTES} minutes, oldest first, with empty minutes as zeros. */
  timeline(now = Date.now()): MinuteActivity[] {
    const current = now - (now % MINUTE);
    const minutes: MinuteActivity[] = [];
    for (let i = TIMELINE_MINUTES - 1; i >= 0; i--) {
      const minute = current - i * MINUTE;
      const bucket = this.ring[Math.floor(minute / MINUTE) % TIMELINE_MINUTES];
      minutes.push(bucket.minute === minute ? { ...bucket } : { minute, hits: 0, misses: 0 });
    }
    return minutes;
  }
}
