import { Inject, Injectable } from '@nestjs/common';
import { from, map, type Observable, of } from 'rxjs';
import { PageComposer } from '../components/page-composer.js';
import { outputCacheContext } from '../display-control/request-context.js';
import { X_CACHE_HEADER, X_CACHE_REASON_HEADER } from '../output-cache.constants.js';
import { CdnHeaders } from '../cdn/cdn-headers.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';
import type { CacheEntry, StoredHeaders } from '../stores/cache-entry.js';
import { HoleStreamer } from './hole-streamer.js';
import type { Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RequestScope } from './request-scope.js';
import { VariantCompressor } from './variant-compressor.js';
import { etagMatches, pickVariant, type Variant } from './variants.js';

/** Whether an entry is served fresh (`HIT`) or stale (`STALE`: grace, stale-if-error). */
export type HitLabel = 'HIT' | 'STALE';

/**
 * How a response served from the cache came about, as its decision reports it: `hit` (fresh),
 * `stale` (in grace, refreshed in the background), `stale-if-error` (the render failed),
 * `collapsed` (waited for another request's render). A 304 reports `not-modified` with this as
 * its `reason`.
 */
export type ServedResult = 'hit' | 'stale' | 'stale-if-error' | 'collapsed';

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
  /** The `cdn` option's headers (null without it), made on first use. */
  private cdnHeaders: CdnHeaders | null | undefined;

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly events: OutputCacheEvents,
    protected readonly composer: PageComposer,
    protected readonly scope: RequestScope,
    protected readonly compressor: VariantCompressor,
    protected readonly streamer: HoleStreamer,
  ) {}

  /** Writes `entry` as the response of the lookup's request, and reports it as `result`. */
  write(lookup: Lookup, entry: CacheEntry, result: ServedResult): Observable<unknown> {
    const { req, res } = lookup;
    const isHead = this.platform.method(req) === 'HEAD';
    const label: HitLabel =
      result === 'hit' || (result === 'collapsed' && entry.expiresAt > Date.now())
        ? 'HIT'
        : 'STALE';
    const extra: StoredHeaders = this.options.headers
      ? { [X_CACHE_HEADER]: label, age: ageOf(entry) }
      : {};
    if (this.options.reasonHeader) extra[X_CACHE_REASON_HEADER] = result;
    // Not for a CDN to keep: an entry stored without tags (holes, private vary-by), or a stale one.
    const cdn = this.cdn?.forHit(entry, label === 'STALE');
    if (cdn) Object.assign(extra, cdn);
    if (!entry.holes || entry.holes.length === 0) {
      this.compressor.onHit(entry);
      const headers = this.platform.headers(req);
      const variant = pickVariant(entry, headers['accept-encoding']);
      if (entry.etag && etagMatches(headers['if-none-match'], variant.etag)) {
        if (this.options.reasonHeader) extra[X_CACHE_REASON_HEADER] = 'not-modified';
        this.notModified(res, entry, variant, extra);
        this.served(lookup, 'not-modified', result);
        return of(undefined);
      }
      const body = isHead ? undefined : variant.body;
      this.platform.writeResponse(res, entry.status, body, entry.headers, variant.headers, extra);
      this.served(lookup, result, undefined);
      return of(undefined);
    }
    const ctx = this.scope.create(req, res, entry.routeId, false);
    const page = { body: entry.body, holes: entry.holes };
    const form = this.streamer.formFor(
      lookup.policy.streamHoles,
      req,
      entry.headers['content-type'],
      page,
    );
    if (form) {
      // Streamed holes: the page goes out as its holes finish (never precompressed: it has holes).
      const streamed = this.streamer.stream({
        ctx,
        res,
        page,
        form,
        status: entry.status,
        headers: [entry.headers, extra],
      });
      return from(streamed).pipe(map(() => void this.served(lookup, result, undefined)));
    }
    const write = (body: Buffer) => {
      extra['content-length'] = String(body.length);
      this.platform.writeResponse(
        res,
        entry.status,
        isHead ? undefined : body,
        entry.headers,
        extra,
      );
      this.served(lookup, result, undefined);
      return undefined;
    };
    const filled = outputCacheContext.run(ctx, () => this.composer.fill(ctx, page));
    // Holes that answered synchronously: the page is written in this very tick.
    return Buffer.isBuffer(filled) ? of(write(filled)) : from(filled).pipe(map(write));
  }

  /** The `cdn` option's headers, or undefined without it. */
  protected get cdn(): CdnHeaders | undefined {
    if (this.cdnHeaders === undefined) this.cdnHeaders = CdnHeaders.of(this.options) ?? null;
    return this.cdnHeaders ?? undefined;
  }

  /** Reports a served response, timed from the cache seeing the request to now. */
  protected served(
    lookup: Lookup,
    result: ServedResult | 'not-modified',
    reason: ServedResult | undefined,
  ): void {
    this.events.decision({
      result,
      route: lookup.policy.routeId,
      reason,
      url: lookup.url,
      key: lookup.key,
      durationMs: performance.now() - lookup.startedAt,
      // For listeners that replay the page (refresh-ahead copies its host and vary-by headers).
      request: lookup.req,
    });
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
