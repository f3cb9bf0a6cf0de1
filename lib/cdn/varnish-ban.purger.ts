import type { CdnPurgeBatch, CdnPurger } from './cdn-purger.interface.js';
import { purgeRequest } from './cdn-http.js';

/** Options of {@link VarnishBanPurger}. */
export interface VarnishBanPurgerOptions {
  /** Varnish's listening address, as the app reaches it (`http://127.0.0.1:6081/`). */
  url: string;
  /** The request method the VCL bans on. Default `'BAN'`. */
  method?: string;
  /** Request header with the regex of tags to ban. Default `'X-Ban-Tags'`. */
  tagsHeader?: string;
  /** Request header with the regex of URLs to ban (prefix evictions). Default `'X-Ban-Url'`. */
  urlHeader?: string;
  /** Tags a request carries. Default 100. */
  maxTagsPerRequest?: number;
  /** Milliseconds one request may take. Default 5000. */
  timeoutMs?: number;
  /** More Varnish instances to send every ban to. */
  also?: string[];
}

/**
 * Bans pages in Varnish: one `BAN` request per batch, carrying a regex of the batch's tags in
 * `X-Ban-Tags` (matched against each object's `Surrogate-Key`, whole words only), a regex of
 * URL prefixes in `X-Ban-Url`, or `X-Ban-All: 1`. `docs/varnish/output-cache.vcl` turns those
 * into `ban()` calls, from allowed addresses only. Bans are hard (Varnish has no soft ban).
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ cdn: { purger: new VarnishBanPurger({ url: 'http://127.0.0.1:6081/' }) } });
 * ```
 */
export class VarnishBanPurger implements CdnPurger {
  readonly maxTagsPerRequest: number;
  readonly purgesPrefixes = true;
  private readonly urls: string[];

  constructor(private readonly options: VarnishBanPurgerOptions) {
    if (typeof options?.url !== 'string' || !/^https?:\/\//.test(options.url)) {
      throw new TypeError(
        `VarnishBanPurger: url must be Varnish's http(s) address, e.g. 'http://127.0.0.1:6081/', got ${String(options?.url)}`,
      );
    }
    this.maxTagsPerRequest = options.maxTagsPerRequest ?? 100;
    this.urls = [options.url, ...(options.also ?? [])];
  }

  /** The regex matching any of `tags` as a whole word of a space-separated header. */
  static tagsRegex(tags: readonly string[]): string {
    return `(^|\\s)(${tags.map(escapeRegex).join('|')})(\\s|$)`;
  }

  async purge(batch: CdnPurgeBatch): Promise<void> {
    const headers: Record<string, string> = {};
    if (batch.all) headers['X-Ban-All'] = '1';
    else if (batch.tags.length > 0) {
      headers[this.options.tagsHeader ?? 'X-Ban-Tags'] = VarnishBanPurger.tagsRegex(batch.tags);
    } else if (batch.prefixes.length > 0) {
      headers[this.options.urlHeader ?? 'X-Ban-Url'] =
        `^(${batch.prefixes.map(escapeRegex).join('|')})`;
    } else return;
    await Promise.all(
      this.urls.map((url) =>
        purgeRequest(
          url,
          { method: this.options.method ?? 'BAN', headers },
          this.options.timeoutMs ?? 5000,
        ),
      ),
    );
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/"]/g, '\\$&');
}
