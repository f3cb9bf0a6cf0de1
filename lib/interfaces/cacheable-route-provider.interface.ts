/**
 * A provider that makes routes cacheable by id, without decorators (as Smartstore's
 * `ICacheableRouteProvider`). Any provider with a `getCacheableRoutes()` method is discovered at
 * bootstrap: listing it among a module's providers is all it takes.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class ShopRoutes implements CacheableRouteProvider {
 *   order = 0;
 *   getCacheableRoutes() { return ['Catalog/category', 'Blog/Blog/list']; }
 * }
 * ```
 */
export interface CacheableRouteProvider {
  /** Providers are asked in ascending order. */
  order?: number;
  /** Route ids to make cacheable. */
  getCacheableRoutes(): string[] | Promise<string[]>;
}
