import { Injectable } from '@nestjs/common';

/**
 * What the cache did with one request (or one rendered response).
 * - `hit`, `stale` (served in grace while refreshed), `stale-if-error`, `not-modified` (304),
 *   `collapsed` (waited for another request's render and got its entry): served from the cache;
 * - `miss`: rendered by the handler; then `stored` or `not-stored` (with its reason);
 * - `bypass`: the cache was not used (with its reason);
 * - `unservable`: an entry was read but could not be served (corrupt, old format).
 */
export type CacheDecisionResult =
  | 'hit'
  | 'stale'
  | 'stale-if-error'
  | 'not-modified'
  | 'collapsed'
  | 'miss'
  | 'stored'
  | 'not-stored'
  | 'bypass'
  | 'unservable';

/** One decision of the request pipeline, as listeners receive it. */
export interface CacheDecision {
  result: CacheDecisionResult;
  /** The route id (`Catalog/category`), or `vc:Name` for a component. */
  route: string;
  /** Why, for `bypass` and `not-stored` (e.g. `session`, `set-cookie`, `no-store`, `status`). */
  reason?: string;
  /** The request's path and query, when known. */
  url?: string;
  /** The entry's key, when one was computed. */
  key?: string;
  /** Milliseconds from the cache seeing the request to the response being written, when known. */
  durationMs?: number;
  /**
   * The request the decision was made for (the platform's own object), when there is one. For
   * listeners that need more than the URL: refresh-ahead copies its `Host` and the headers that
   * decide vary-by values, to replay the page later. Read it during the call; never keep it.
   */
  request?: unknown;
}

/**
 * Why entries left the cache: an app's eviction (`tag`, `route`, `prefix`, `key`, `all`), the
 * store's bound (`lru`) or their lifetime (`expiry`), or a render that was `overtaken` by an
 * eviction and so not stored.
 */
export type EvictionCause =
  'tag' | 'route' | 'prefix' | 'key' | 'all' | 'lru' | 'expiry' | 'overtaken';

/** One eviction, as listeners receive it. */
export interface CacheEviction {
  cause: EvictionCause;
  /** The tags, route ids, prefixes or keys evicted (empty for `all`, `lru`, `expiry`). */
  values: readonly string[];
  /** How many entries it took, when the store says. */
  count?: number;
  /** Marked stale rather than deleted. */
  soft?: boolean;
  /** Made by another instance and received over the bus. */
  remote?: boolean;
}

/** Receives the cache's decisions and evictions; both methods are optional and must not throw. */
export interface OutputCacheListener {
  decision?(decision: CacheDecision): void;
  eviction?(eviction: CacheEviction): void;
}

/**
 * The cache's event hub: every stage of the request pipeline reports its decision here, and
 * `OutputCacheProvider` every eviction. Stats, the decision log, Prometheus metrics, a CDN purger
 * and refresh-ahead are listeners. Reporting costs one loop over the listeners; a listener that
 * throws is dropped from that one call and never breaks a request.
 *
 * @example
 * ```ts
 * constructor(events: OutputCacheEvents) {
 *   events.listen({ eviction: (e) => console.log(e.cause, e.values) });
 * }
 * ```
 */
@Injectable()
export class OutputCacheEvents {
  private listeners: OutputCacheListener[] = [];

  /** Adds a listener; returns a function that removes it. */
  listen(listener: OutputCacheListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Reports one decision to every listener. */
  decision(decision: CacheDecision): void {
    for (const listener of this.listeners) {
      try {
        listener.decision?.(decision);
      } catch {
        // A listener's failure is its own; the request goes on.
      }
    }
  }

  /** Reports one eviction to every listener. */
  eviction(eviction: CacheEviction): void {
    for (const listener of this.listeners) {
      try {
        listener.eviction?.(eviction);
      } catch {
        // As above.
      }
    }
  }
}
