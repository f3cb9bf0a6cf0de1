import { Inject, Injectable } from '@nestjs/common';
import { from, map, type Observable, of } from 'rxjs';
import { PageComposer } from '../components/page-composer.js';
import { outputCacheContext } from '../display-control/request-context.js';
import { X_CACHE_HEADER } from '../output-cache.constants.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { OutputCacheStats } from '../provider/output-cache.stats.js';
import type { CacheEntry, StoredHeaders } from '../stores/cache-entry.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RequestScope } from './request-scope.js';
import { VariantCompressor } from './variant-compressor.js';
import { etagMatches, pickVariant, type Variant } from './variants.js';

/** Whether an entry is served fresh (`HIT`) or stale (`STALE`: grace, stale-if-error). */
export type HitLabel = 'HIT' | 'STALE';

/**
 * Stored headers a 304 repeats (RFC 9110 §15.4.5), besides `ETag`. Headers that middleware set
 * on this response (CORS, security headers) stay, exactly as on a 200 hit; only the
 * representation's own headers go.
 */
export const HEADERS_INCLUDED_IN_304 = ['cache-control', 'content-location', 'expires', 'vary'];
const REPRESENTATION_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'transfer-encoding',
];

/**
 * The hit stage: writes a stored entry as this response: a 304 when the client's validator
 * matches, the encoding the client accepts, holes rendered fresh for this request.
 */
@Injectable()
export class HitWriter {
  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly stats: OutputCacheStats,
    protected readonly composer: PageComposer,
    protected readonly scope: RequestScope,
    protected readonly compressor: VariantCompressor,
  ) {}

  /** Writes `entry` as the response of `req`. */
  write(req: any, res: any, entry: CacheEntry, label: HitLabel): Observable<unknown> {
    this.stats.hits++;
    const isHead = this.platform.method(req) === 'HEAD';
    const extra: StoredHeaders = this.options.headers
      ? { [X_CACHE_HEADER]: label, age: ageOf(entry) }
      : {};
    if (!entry.holes || entry.holes.length === 0) {
      this.compressor.onHit(entry);
      const headers = this.platform.headers(req);
      const variant = pickVariant(entry, headers['accept-encoding']);
      if (entry.etag && etagMatches(headers['if-none-match'], variant.etag)) {
        this.stats.notModified++;
        this.notModified(res, entry, variant, extra);
        return of(undefined);
      }
      const body = isHead ? undefined : variant.body;
      this.platform.writeResponse(res, entry.status, body, entry.headers, variant.headers, extra);
      return of(undefined);
    }
    const ctx = this.scope.create(req, res, entry.routeId, false);
    const write = (body: Buffer) => {
      extra['content-length'] = String(body.length);
      this.platform.writeResponse(
        res,
        entry.status,
        isHead ? undefined : body,
        entry.headers,
        extra,
      );
      return undefined;
    };
    const page = { body: entry.body, holes: entry.holes };
    const filled = outputCacheContext.run(ctx, () => this.composer.fill(ctx, page));
    // Holes that answered synchronously: the page is written in this very tick.
    return Buffer.isBuffer(filled) ? of(write(filled)) : from(filled).pipe(map(write));
  }

  /** A 304: the validator and the headers of {@link HEADERS_INCLUDED_IN_304}. */
  protected notModified(res: any, entry: CacheEntry, variant: Variant, extra: StoredHeaders) {
    for (const name of REPRESENTATION_HEADERS) this.platform.removeHeader(res, name);
    const headers: StoredHeaders = { ...extra };
    for (const name of HEADERS_INCLUDED_IN_304) {
      const value =
        name === 'vary' ? (variant.headers.vary ?? entry.headers.vary) : entry.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    if (variant.etag) headers.etag = variant.etag;
    this.platform.writeResponse(res, 304, undefined, headers);
  }
}

function ageOf(entry: CacheEntry): string {
  return String(Math.max(0, Math.floor((Date.now() - entry.createdAt) / 1000)));
}
