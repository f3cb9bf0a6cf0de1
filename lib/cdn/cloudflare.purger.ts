import type { CdnPurgeBatch, CdnPurger } from './cdn-purger.interface.js';
import { purgeRequest, trimBase } from './cdn-http.js';

/** Options of {@link CloudflarePurger}. */
export interface CloudflarePurgerOptions {
  /** The zone id. */
  zoneId: string;
  /** An API token with the Cache Purge permission. */
  token: string;
  /** API address. Default `'https://api.cloudflare.com'` (a test points it at a local server). */
  baseUrl?: string;
  /**
   * Tags one request carries. Default 30, the limit Cloudflare long documented; current plans
   * take 100 (check your plan's purge limits before raising it).
   */
  maxTagsPerRequest?: number;
  /** Milliseconds one request may take. Default 5000. */
  timeoutMs?: number;
}

/**
 * Purges Cloudflare by cache tag: `POST /client/v4/zones/{zone}/purge_cache` with
 * `{ "tags": [...] }`, or `{ "purge_everything": true }`. Cloudflare purges are hard; a reply
 * with `success: false` counts as a failure (retried, then logged).
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({
 *   cdn: { tagsHeader: 'Cache-Tag', controlHeader: 'CDN-Cache-Control', maxAge: 3600,
 *          purger: new CloudflarePurger({ zoneId: process.env.CF_ZONE!, token: process.env.CF_TOKEN! }) },
 * });
 * ```
 */
export class CloudflarePurger implements CdnPurger {
  readonly maxTagsPerRequest: number;
  private readonly url: string;

  constructor(private readonly options: CloudflarePurgerOptions) {
    if (!options?.zoneId || !options.token) {
      throw new TypeError('CloudflarePurger: zoneId and token are required');
    }
    this.maxTagsPerRequest = options.maxTagsPerRequest ?? 30;
    this.url = `${trimBase(options.baseUrl ?? 'https://api.cloudflare.com')}/client/v4/zones/${encodeURIComponent(options.zoneId)}/purge_cache`;
  }

  async purge(batch: CdnPurgeBatch): Promise<void> {
    let body: unknown;
    if (batch.all) body = { purge_everything: true };
    else if (batch.tags.length > 0) body = { tags: batch.tags };
    else return;
    const text = await purgeRequest(
      this.url,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${this.options.token}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify(body),
      },
      this.options.timeoutMs ?? 5000,
    );
    let success = true;
    try {
      success = (JSON.parse(text) as { success?: boolean }).success !== false;
    } catch {
      // Not JSON: the 2xx status is all there is.
    }
    if (!success) throw new Error(`Cloudflare answered success: false: ${text.slice(0, 200)}`);
  }
}
