import type { CallHandler } from '@nestjs/common';
import type { VaryByValue } from '../output-cache.options.js';
import type { KeyInput } from '../policy/cache-key.builder.js';
import type { RoutePolicy } from '../policy/route-policy.resolver.js';

/** One cacheable request once its key is known: what every stage after the key shares. */
export interface Lookup {
  /** The platform's request (what vary-by resolvers, tags and components receive). */
  readonly req: any;
  /** The platform's response. */
  readonly res: any;
  readonly key: string;
  /** The normalised path (for `exclude`, prefix eviction and logs). */
  readonly path: string;
  /** The request's path and query as received (for the decision events and logs). */
  readonly url: string;
  /** `performance.now()` when the cache saw the request (decision durations). */
  readonly startedAt: number;
  readonly policy: RoutePolicy;
  readonly next: CallHandler;
  /** A background refresh of a stale entry (the in-process request of `StaleRefresher`). */
  readonly refresh: boolean;
  /** What the key is made of besides the vary-by values (a render that reads more re-keys). */
  readonly input: KeyInput;
  /** The vary-by names in the key, sorted: the route's, and for `varyBy: 'auto'` its record's. */
  readonly varyNames: readonly string[];
  /** Their values, in the same order. */
  readonly varyValues: readonly VaryByValue[];
  /**
   * `varyBy: 'auto'`: the names the URL's vary record holds (what earlier renders read), or
   * undefined when it has none yet.
   */
  readonly varyRecord?: readonly string[];
}

/** A request that must not use the cache, and why (counted in the stats). */
export interface Bypass {
  readonly bypass: string;
}
