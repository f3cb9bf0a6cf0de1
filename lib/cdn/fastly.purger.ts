import type { CdnPurgeBatch, CdnPurger } from './cdn-purger.interface.js';
import { purgeRequest, trimBase } from './cdn-http.js';

/** Options of {@link FastlyPurger}. */
export interface FastlyPurgerOptions {
  /** The Fastly service id. */
  serviceId: string;
  /** An API token with the `purge_select` scope (`purge_all` too, for evicting everything). */
  token: string;
  /** API address. Default `'https://api.fastly.com'` (a test points it at a local server). */
  baseUrl?: string;
  /** Keys one request carries. Default 256, Fastly's limit. */
  maxTagsPerRequest?: number;
  /** Milliseconds one request may take. Default 5000. */
  timeoutMs?: number;
}

/**
 * Purges Fastly by surrogate key: `POST /service/{id}/purge` with the batch's keys in a
 * `Surrogate-Key` request header (up to 256 a request), `Fastly-Soft-Purge: 1` for soft
 * evictions (marked stale, so Fastly may serve them while it refetches); everything with
 * `POST /service/{id}/purge_all` (always hard: Fastly has no soft purge-all).
 *
 * @example
 * ```ts
 * new FastlyPurger({ serviceId: process.env.FASTLY_SERVICE!, token: process.env.FASTLY_KEY! });
 * ```
 */
export class FastlyPurger implements CdnPurger {
  readonly maxTagsPerRequest: number;
  private readonly base: string;

  constructor(private readonly options: FastlyPurgerOptions) {
    if (!options?.serviceId || !options.token) {
      throw new TypeError('FastlyPurger: serviceId and token are required');
    }
    this.maxTagsPerRequest = Math.min(options.maxTagsPerRequest ?? 256, 256);
    this.base = `${trimBase(options.baseUrl ?? 'https://api.fastly.com')}/service/${encodeURIComponent(options.serviceId)}`;
  }

  async purge(batch: CdnPurgeBatch): Promise<void> {
    const headers: Record<string, string> = {
      'Fastly-Key': this.options.token,
      Accept: 'application/json',
    };
    const timeout = this.options.timeoutMs ?? 5000;
    if (batch.all) {
      await purgeRequest(`${this.base}/purge_all`, { method: 'POST', headers }, timeout);
      return;
    }
    if (batch.tags.length === 0) return;
    headers['Surrogate-Key'] = batch.tags.join(' ');
    if (batch.soft) headers['Fastly-Soft-Purge'] = '1';
    await purgeRequest(`${this.base}/purge`, { method: 'POST', headers }, timeout);
  }
}
