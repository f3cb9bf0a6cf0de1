import { Reflector } from '@nestjs/core';
import type { StreamHoles } from '../output-cache.options.js';

/** Options of {@link Cacheable}. Durations are seconds. */
export interface CacheableOptions {
  /** Time to live; defaults to the module's `defaultTtl`. */
  ttl?: number;
  /**
   * Seconds after the TTL during which the stale entry is still served (`X-Cache: STALE`) while
   * one background render refreshes it; defaults to the module's `grace`.
   */
  grace?: number;
  /**
   * Seconds after the TTL during which, should the render fail (throw or answer 5xx), the old
   * entry is served instead; defaults to the module's `staleIfError`.
   */
  staleIfError?: number;
  /**
   * Which registered vary-by names split this route: a list (pinned: a render that reads another
   * name through `DisplayControl.vary()` or a component's `varyBy` is logged as a bug and not
   * stored), `'all'` (every registered name), or `'auto'` (learned: each page is keyed by the
   * names its render and its cacheable components read or declare, found by a two-step lookup).
   * Default: the module's `defaultVaryBy` (`'all'`).
   */
  varyBy?: string[] | 'auto' | 'all';
  /** Query keys that are part of the key (default: every key). Others are ignored. */
  query?: string[];
  /** Extra tags stored with every entry of the route, static or computed from the request. */
  tags?: string[] | ((req: any) => string[]);
  /**
   * Serve and store pages for signed-in requests too (default false). The key then must vary by
   * `roles`: without a `roles` resolver such requests bypass the cache.
   */
  allowAuthenticated?: boolean;
  /**
   * Serve this route's fresh hits from the fast lane (default false): straight from the HTTP
   * server's `request` event, before the framework's middleware, router, guards and
   * interceptors. Only for routes where nothing between the socket and the handler decides per
   * request: no guard, no interceptor but the cache's, no middleware that sets headers or rejects
   * requests, vary-by resolvers that read only the raw `node:http` request. Checked at start-up:
   * a route with a guard or another interceptor refuses it. See the README, "Fast lane".
   */
  fastLane?: boolean;
  /**
   * Streams this route's pages with holes (hits, and misses being stored): `'in-order'` or
   * `'out-of-order'`, or `false` for whole responses; defaults to the module's `streamHoles`.
   * Cannot be combined with `fastLane` (refused at start-up). See the README, "Streamed holes".
   *
   * @example
   * ```ts
   * @Cacheable({ streamHoles: 'out-of-order' })
   * ```
   */
  streamHoles?: StreamHoles;
}

/**
 * Makes a handler, or every handler of a controller, cacheable. Handler options override the
 * controller's.
 *
 * @example
 * ```ts
 * @Cacheable({ ttl: 300, query: ['page', 'sort'] })
 * @Get(':slug')
 * @Render('category')
 * category(@Param('slug') slug: string) { ... }
 * ```
 */
export const Cacheable = Reflector.createDecorator<CacheableOptions | undefined, CacheableOptions>({
  transform: (options) => ({ ...(options ?? {}) }),
});

/**
 * Opts one handler out of a cacheable controller (or out of the module's `routes`).
 *
 * @example
 * ```ts
 * @NoOutputCache()
 * @Get('search')
 * search() { ... }
 * ```
 */
export const NoOutputCache = Reflector.createDecorator<void, true>({ transform: () => true });

/**
 * Names the module part of a controller's route ids: `@RouteModule('Blog')` on `BlogController`
 * gives `Blog/Blog/list`. Without it a route id is `{Controller}/{handler}`.
 *
 * @example
 * ```ts
 * @RouteModule('Blog')
 * @Controller('blog')
 * export class BlogController { ... }
 * ```
 */
export const RouteModule = Reflector.createDecorator<string>();
