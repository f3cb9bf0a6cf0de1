import { Injectable } from '@nestjs/common';

/** A snapshot of the cache's counters since start. */
export interface OutputCacheStatsSnapshot {
  hits: number;
  misses: number;
  stored: number;
  /** Requests that waited for a concurrent render of the same key and got its entry. */
  collapsed: number;
  /** Requests that did not use the cache, by reason. */
  bypassed: Record<string, number>;
  /** Rendered responses that were not stored, by reason. */
  notStored: Record<string, number>;
  /** Store calls that failed (served uncached). */
  storeErrors: number;
  /** Store calls not made because the circuit breaker was open (served uncached). */
  storeSkipped: number;
  /** Stale entries served while a background render refreshed them (grace). */
  stale: number;
  /** Stale entries served because the render failed (stale-if-error). */
  staleIfError: number;
  /** Conditional requests answered 304 from the cache. */
  notModified: number;
  /** Entries read but unservable (deleted, and the page rendered anew). */
  unservable: number;
}

/** Counters of hits, misses, bypasses and reasons; read them through `OutputCacheProvider.stats()`. */
@Injectable()
export class OutputCacheStats {
  hits = 0;
  misses = 0;
  stored = 0;
  collapsed = 0;
  storeErrors = 0;
  storeSkipped = 0;
  stale = 0;
  staleIfError = 0;
  notModified = 0;
  unservable = 0;
  private readonly bypassed = new Map<string, number>();
  private readonly notStored = new Map<string, number>();

  bypass(reason: string): void {
    this.bypassed.set(reason, (this.bypassed.get(reason) ?? 0) + 1);
  }

  skip(reason: string): void {
    this.notStored.set(reason, (this.notStored.get(reason) ?? 0) + 1);
  }

  snapshot(): OutputCacheStatsSnapshot {
    return {
      hits: this.hits,
      misses: this.misses,
      stored: this.stored,
      collapsed: this.collapsed,
      storeErrors: this.storeErrors,
      storeSkipped: this.storeSkipped,
      stale: this.stale,
      staleIfError: this.staleIfError,
      notModified: this.notModified,
      unservable: this.unservable,
      bypassed: Object.fromEntries(this.bypassed),
      notStored: Object.fromEntries(this.notStored),
    };
  }
}
