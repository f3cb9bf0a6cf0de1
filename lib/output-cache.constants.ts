/** Injection token of the active {@link OutputCacheStore}. */
export const OUTPUT_CACHE_STORE = Symbol('OUTPUT_CACHE_STORE');

/** Tag prefix of the route an entry was rendered for (`route:Catalog/category`). */
export const ROUTE_TAG_PREFIX = 'route:';

/** Response header that tells whether a response came from the cache. */
export const X_CACHE_HEADER = 'X-Cache';

/** Why the cache answered as it did (option `reasonHeader`; see the README, "Observability"). */
export const X_CACHE_REASON_HEADER = 'X-Cache-Reason';
