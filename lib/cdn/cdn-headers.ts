import type { HttpPlatform } from '../http/platform/http-platform.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import type { RoutePolicy } from '../policy/route-policy.resolver.js';
import type { CacheEntry, StoredHeaders } from '../stores/cache-entry.js';
import { CdnTagEncoder } from './cdn-tag-encoder.js';
import type { ResolvedCdnOptions } from './cdn.options.js';

/**
 * What the `cdn` option puts on responses. A page gets its tags (and `controlHeader: max-age`)
 * only when the output cache stores it and a shared cache may hold it too: no holes (their
 * content is per request), no vary-by value the CDN cannot see (a cookie, a custom resolver:
 * it would serve one variant to everyone) unless named in `varyByHandled`, not a route cached for
 * signed-in users. Every other response of a cacheable route gets `controlHeader: no-store`:
 * a page the CDN keeps must be one a purge can reach.
 *
 * Tags travel with the entry's stored headers, so a hit adds nothing (one property read, for
 * entries stored without tags).
 *
 * @internal Used by the response recorder and the hit writer.
 * @example
 * ```ts
 * const cdn = CdnHeaders.of(options); // undefined without the cdn option
 * cdn?.forPage(policy, ['route:Shop/product', 'Product:1'], false, undefined);
 * // { 'surrogate-key': 'route:Shop/product Product:1' }
 * ```
 */
export class CdnHeaders {
  /** Lower-case name of the tags header. */
  readonly tagsName: string;
  /** Lower-case name of the control header, if any. */
  readonly controlName: string | undefined;
  private readonly encoder: CdnTagEncoder;
  /** Per route: whether it may go to the CDN, and the request headers its `Vary` must name. */
  private readonly eligible = new WeakMap<RoutePolicy, { ok: boolean; headers: string[] }>();
  private readonly noStore: StoredHeaders;

  constructor(
    private readonly cdn: ResolvedCdnOptions,
    private readonly varyBy: ResolvedOutputCacheOptions['varyBy'],
  ) {
    this.tagsName = cdn.tagsHeader.toLowerCase();
    this.controlName = cdn.controlHeader === false ? undefined : cdn.controlHeader.toLowerCase();
    this.encoder = new CdnTagEncoder(cdn);
    this.noStore = this.controlName ? { [this.controlName]: 'no-store' } : {};
  }

  /** The headers of the `cdn` option, or undefined when it is not set. */
  static of(options: ResolvedOutputCacheOptions): CdnHeaders | undefined {
    return options.cdn ? new CdnHeaders(options.cdn, options.varyBy) : undefined;
  }

  /** The CDN headers of a page that is being stored, or undefined when the CDN must not keep it. */
  forPage(
    policy: RoutePolicy,
    tags: readonly string[],
    hasHoles: boolean,
    vary: unknown,
    names: readonly string[] = policy.varyBy,
  ): StoredHeaders | undefined {
    if (hasHoles || !this.isEligible(policy, vary, names)) return undefined;
    const value = this.encoder.header(tags);
    if (value === undefined) return undefined;
    const headers: StoredHeaders = { [this.tagsName]: value };
    if (this.controlName && this.cdn.maxAge !== undefined) {
      headers[this.controlName] = `max-age=${this.cdn.maxAge}`;
    }
    return headers;
  }

  /** Headers for a response that the CDN must not keep (none when there is no control header). */
  untagged(): StoredHeaders {
    return this.noStore;
  }

  /**
   * Extra headers of a hit: `no-store` when the entry was stored without tags, or is served
   * stale (grace, stale-if-error: the CDN would keep the old page for `maxAge` while the app
   * refreshes it, with no eviction to purge it); else none.
   */
  forHit(entry: CacheEntry, stale: boolean): StoredHeaders | undefined {
    return stale || entry.headers[this.tagsName] === undefined ? this.noStore : undefined;
  }

  /**
   * Sets the page's CDN headers on `res` before its head is written: its tags, or, when
   * `headers` is undefined, `no-store` and no tags. A tagged page without `maxAge` loses only the
   * `no-store` set when its render began; a control header the route set itself stays.
   */
  apply(res: unknown, platform: HttpPlatform, headers: StoredHeaders | undefined): void {
    if (!headers) {
      platform.removeHeader(res, this.tagsName);
      if (this.controlName) platform.setHeader(res, this.controlName, 'no-store');
      return;
    }
    const control = this.controlName;
    if (control && headers[control] === undefined) {
      if (String(platform.responseHeaders(res)[control]) === 'no-store') {
        platform.removeHeader(res, control);
      }
    }
    for (const [name, value] of Object.entries(headers)) platform.setHeader(res, name, value);
  }

  /**
   * Whether the CDN can tell this route's variants apart: each vary-by value is a request header
   * that the page's `Vary` names (the CDN then keys on it), or one the app says the CDN handles.
   * `names`: the page's own, when its render read more than its route pins (`varyBy: 'auto'`).
   */
  private isEligible(policy: RoutePolicy, vary: unknown, names: readonly string[]): boolean {
    const learned = names !== policy.varyBy;
    let known = learned ? undefined : this.eligible.get(policy);
    if (known === undefined) {
      const headers: string[] = [];
      let ok = !policy.allowAuthenticated;
      for (const name of names) {
        if (this.cdn.varyByHandled.includes(name)) continue;
        const resolver = this.varyBy[name];
        if (typeof resolver === 'object' && resolver !== null && 'header' in resolver) {
          headers.push(resolver.header.toLowerCase());
        } else ok = false;
      }
      known = { ok, headers };
      if (!learned) this.eligible.set(policy, known);
    }
    if (!known.ok) return false;
    if (known.headers.length === 0) return true;
    const named = new Set(
      (Array.isArray(vary) ? vary.join(',') : String(vary ?? ''))
        .split(',')
        .map((n) => n.trim().toLowerCase()),
    );
    return known.headers.every((h) => named.has(h));
  }
}
