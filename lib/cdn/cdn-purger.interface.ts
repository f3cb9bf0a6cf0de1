/**
 * One purge request to a shared cache, as {@link CdnPurgeForwarder} hands it to a
 * {@link CdnPurger}: tags (already in the form the pages carry: plain and/or hashed), path
 * prefixes, or everything. One batch is hard or soft, never both.
 */
export interface CdnPurgeBatch {
  /** Tags (surrogate keys) whose pages go; at most the purger's `maxTagsPerRequest`. */
  readonly tags: readonly string[];
  /** Path prefixes (`/blog/`) whose pages go, for purgers that can (Varnish); else ignored. */
  readonly prefixes: readonly string[];
  /** Everything goes (tags and prefixes are then empty). */
  readonly all: boolean;
  /** Mark stale rather than delete, where the CDN can (Fastly); others purge hard. */
  readonly soft: boolean;
}

/**
 * A shared cache in front of the app (a CDN, Varnish) that can drop pages by tag. Built in:
 * `VarnishBanPurger`, `FastlyPurger`, `CloudflarePurger`; an app may supply its own.
 * `purge` rejects on failure (the forwarder retries it with backoff, then logs it).
 *
 * @example
 * ```ts
 * class LoggingPurger implements CdnPurger {
 *   readonly maxTagsPerRequest = 100;
 *   async purge(batch: CdnPurgeBatch) {
 *     console.log('purge', batch.all ? 'everything' : batch.tags);
 *   }
 * }
 * OutputCacheModule.forRoot({ cdn: { purger: new LoggingPurger() } });
 * ```
 */
export interface CdnPurger {
  /** Most tags one request may carry (Fastly 256, Cloudflare 30 or 100 by plan). */
  readonly maxTagsPerRequest: number;
  /** Whether `prefixes` are honoured; when not, prefix evictions are logged and not forwarded. */
  readonly purgesPrefixes?: boolean;
  /** Sends one purge; resolves when the cache accepted it, rejects otherwise. */
  purge(batch: CdnPurgeBatch): Promise<void>;
}
