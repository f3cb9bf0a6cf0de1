import { Inject, Injectable, Logger } from '@nestjs/common';
import type { CallHandler } from '@nestjs/common';
import type { OutgoingHttpHeaders } from 'node:http';
import { from, mergeMap, type Observable } from 'rxjs';
import { type ComposedPage, PageComposer, stripMarkers } from '../components/page-composer.js';
import {
  type OutputCacheRequestContext,
  outputCacheContext,
} from '../display-control/request-context.js';
import { X_CACHE_HEADER, X_CACHE_REASON_HEADER } from '../output-cache.constants.js';
import { CdnHeaders } from '../cdn/cdn-headers.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { buildCacheKey, varyRecordKey } from '../policy/cache-key.builder.js';
import { requestForbidsStoring } from '../policy/request-rules.js';
import { keyHeadersOf, type RoutePolicy } from '../policy/route-policy.resolver.js';
import { responseNotStoredReason } from '../policy/response-rules.js';
import { EvictionLog } from '../provider/eviction-log.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';
import { type CacheEntry, retainUntil } from '../stores/cache-entry.js';
import { ownBuffer } from '../stores/own-buffer.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { BackgroundTasks } from './background-tasks.js';
import { EntryBuilder } from './entry-builder.js';
import { HitWriter } from './hit-writer.js';
import { HoleStreamer, type StreamForm } from './hole-streamer.js';
import type { Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import type { Finish, RenderOutcome } from './render-outcome.js';
import { RequestScope } from './request-scope.js';
import { headersToStore } from './stored-headers.js';
import { strongEtag } from './variants.js';
import { unionOfNames, varyRecordEntry } from './vary-record.js';

/** One render being recorded. */
interface Recording {
  readonly lookup: Lookup;
  readonly ctx: OutputCacheRequestContext;
  /** The response's headers before the route ran (a middleware's, set again on every hit). */
  readonly before: OutgoingHttpHeaders;
  /** The page as it will be stored, once the body is captured. */
  page?: ComposedPage;
  /** The headers when the route sent its body, before holes rendered: what is stored. */
  atSend?: OutgoingHttpHeaders;
  /** The headers once this response's holes rendered (theirs are this request's own). */
  filled?: OutgoingHttpHeaders;
  /** The status when the route sent its body. */
  statusAtSend?: number;
  /** Status and headers as they went out: what the response rules judge. */
  head?: { status: number; headers: OutgoingHttpHeaders };
  /** The store's eviction clock when the render began (stores with a shared clock). */
  renderedAt?: number;
  captured: boolean;
  /** The response rules ran (the outcome may still wait for the store write). */
  decided: boolean;
  done: boolean;
  end: (outcome: RenderOutcome) => void;
}

/**
 * The render stage: runs the route inside its request context and, when this request leads
 * the render of its key, records the response: the body where the route sends it (cacheable
 * components rendered inline, holes kept), the headers where they are finally written (after
 * every hook that adds `Set-Cookie`), the response rules on those, then the entry and the store
 * write. Stale-if-error answers a failed render with the kept page.
 */
@Injectable()
export class ResponseRecorder {
  protected readonly logger = new Logger('OutputCache');
  /** The `cdn` option's headers (null without it), made on first use. */
  private cdnHeaders: CdnHeaders | null | undefined;
  /** Routes and vary-by names whose undeclared read was reported. */
  private readonly undeclared = new Set<string>();

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly events: OutputCacheEvents,
    protected readonly composer: PageComposer,
    protected readonly scope: RequestScope,
    protected readonly store: ResilientStore,
    protected readonly evictions: EvictionLog,
    protected readonly hits: HitWriter,
    protected readonly tasks: BackgroundTasks,
    protected readonly entries: EntryBuilder,
    protected readonly streamer: HoleStreamer,
  ) {}

  /**
   * Renders the route. With `finish` (this request leads the render of its key) the response is
   * recorded and stored when the rules allow; with `fallback`, a failed render is answered with
   * that kept entry (stale-if-error).
   */
  render(lookup: Lookup, finish: Finish | undefined, fallback?: CacheEntry): Observable<unknown> {
    const { req, res, policy, next } = lookup;
    if (this.options.headers) this.platform.setHeader(res, X_CACHE_HEADER, 'MISS');
    // Not for a CDN unless the page turns out stored and taggable (see cdnHead).
    this.cdn?.apply(res, this.platform, undefined);
    // Replaced by the not-stored reason if the response rules refuse the page.
    if (this.options.reasonHeader) this.platform.setHeader(res, X_CACHE_REASON_HEADER, 'miss');
    // Reported when the response ends, timed from the cache seeing the request.
    this.platform.onClose(res, () =>
      this.events.decision({
        result: 'miss',
        route: policy.routeId,
        url: lookup.url,
        key: lookup.key,
        durationMs: performance.now() - lookup.startedAt,
        request: req,
      }),
    );
    const ctx = this.scope.create(req, res, policy.routeId, finish !== undefined);
    ctx.startedAt = this.evictions.now();
    // Values the key stage resolved: a read of one during the render costs nothing more.
    for (let i = 0; i < lookup.varyNames.length; i++) {
      ctx.varyValues.set(lookup.varyNames[i], lookup.varyValues[i]);
    }
    const rec = finish || fallback ? this.record(lookup, ctx, finish, fallback) : undefined;
    if (!rec || !finish || !this.store.hasClock) return this.scope.handle(ctx, next);
    // The shared clock, noted before the route reads any data: an eviction from here on, made
    // by any instance, overtakes this render.
    return from(this.store.clock()).pipe(
      mergeMap((clock) => {
        rec.renderedAt = clock;
        return this.scope.handle(ctx, next);
      }),
    );
  }

  /** Runs the route without recording (not cached, or bypassed); views may place components. */
  pass(req: any, res: any, routeId: string, next: CallHandler): Observable<unknown> {
    return this.scope.handle(this.scope.create(req, res, routeId, false), next);
  }

  private record(
    lookup: Lookup,
    ctx: OutputCacheRequestContext,
    finish: Finish | undefined,
    fallback: CacheEntry | undefined,
  ): Recording {
    const { res } = lookup;
    const rec: Recording = {
      lookup,
      ctx,
      before: this.platform.responseHeaders(res),
      captured: false,
      decided: false,
      done: false,
      end: (outcome) => {
        if (rec.done) return;
        rec.done = true;
        finish?.(outcome);
      },
    };
    this.platform.captureBody(res, (raw, send) => {
      rec.captured = true;
      // The client went away before this: the render was handed over, nothing is judged.
      if (rec.done) return send(raw);
      const status = this.platform.status(res);
      if (fallback && status >= 500 && Date.now() < retainUntil(fallback)) {
        this.serveKept(rec, fallback);
        return;
      }
      if (!finish) {
        rec.done = true;
        return send(raw);
      }
      const prepared = this.prepare(rec, raw);
      const sendPage = (ready: Prepared) => {
        const { page } = ready;
        rec.page = page;
        if (page.holes.length === 0) {
          // A strong validator of the bytes; Express then adds no weak one of its own.
          page.etag = strongEtag(page.body);
          this.platform.setHeader(res, 'etag', page.etag);
        }
        if (ready.body === undefined) return this.streamPage(rec, ready, raw as string, send);
        const { body } = ready;
        rec.filled = this.platform.responseHeaders(res);
        rec.statusAtSend = this.platform.status(res);
        rec.atSend ??= rec.filled;
        // The head already went out (the route wrote it itself): judge now.
        if (rec.head) this.decide(rec);
        send(body);
      };
      if (!(prepared instanceof Promise)) return sendPage(prepared);
      prepared.then(sendPage, (error: unknown) => {
        this.logger.error(`composing ${lookup.policy.routeId} failed: ${String(error)}`);
        this.notStored('compose-error', lookup);
        rec.end({ notStored: 'compose-error' });
        send(stripMarkers(ctx, raw as string));
      });
    });
    this.platform.onHeadersWritten(res, (status, headers) => {
      rec.head = { status, headers };
      if (rec.page && !rec.done && !rec.decided) this.decide(rec);
    });
    this.platform.onClose(res, (how) => {
      if (rec.done || rec.decided) return;
      if (how === 'aborted') {
        // The client went away before its page was complete: nothing can be judged (hooks that
        // add headers never ran), so nothing is stored, and one waiter renders instead.
        this.notStored('aborted', lookup);
        rec.end({ handover: true });
        return;
      }
      // Completed without a captured body: streamed (StreamableFile, res.write), or an error.
      const status = this.platform.status(res);
      const reason = status >= 500 ? 'server-error' : status === 200 ? 'stream' : 'status';
      this.notStored(reason, lookup);
      rec.end({ notStored: reason });
    });
    return rec;
  }

  /** The page as stored and the body to send: synchronously when no component was placed. */
  private prepare(rec: Recording, raw: Buffer | string): Prepared | Promise<Prepared> {
    const { ctx, lookup } = rec;
    if (typeof raw !== 'string' || ctx.token === undefined) {
      // Bytes of its own: Express would encode the string a second time.
      const body = typeof raw === 'string' ? ownBuffer(raw) : raw;
      return { page: { body, holes: [] }, body };
    }
    return (async () => {
      const parts = await outputCacheContext.run(ctx, () => this.composer.compose(ctx, raw, true));
      const page = this.composer.toStored(parts);
      rec.atSend = this.platform.responseHeaders(lookup.res);
      const form = this.streamer.formFor(
        lookup.policy.streamHoles,
        lookup.req,
        rec.atSend['content-type'],
        page,
      );
      // Streamed holes: the body is written as they finish (see streamPage).
      if (form) return { page, form, parts };
      const body = await outputCacheContext.run(ctx, () => this.composer.fill(ctx, page, parts));
      return { page, body };
    })();
  }

  /**
   * Streamed holes on a miss: the page goes out as its holes finish. The stored page is the
   * composed one, as for a whole response; the rules judge the head when it is written.
   */
  private streamPage(
    rec: Recording,
    ready: Prepared & { form: StreamForm },
    raw: string,
    send: (body: Buffer | string) => void,
  ): void {
    const { ctx, lookup } = rec;
    const { res } = lookup;
    const streamed = this.streamer.stream({
      ctx,
      res,
      page: ready.page,
      form: ready.form,
      live: ready.parts,
      beforeHead: () => {
        // Holes that set headers rendered: theirs are this request's own, not the page's.
        rec.filled = this.platform.responseHeaders(res);
        rec.statusAtSend = this.platform.status(res);
      },
    });
    streamed.catch((error: unknown) => {
      this.logger.error(`composing ${lookup.policy.routeId} failed: ${String(error)}`);
      this.notStored('compose-error', lookup);
      rec.end({ notStored: 'compose-error' });
      if (!this.platform.headersSent(res)) send(stripMarkers(ctx, raw));
    });
  }

  /** The response rules on the final head; then the entry, and the store write. */
  private decide(rec: Recording): void {
    const { lookup, ctx, page, atSend, filled, head } = rec;
    if (!page || !atSend || !filled || !head || rec.decided) return;
    rec.decided = true;
    const { req, path, policy } = lookup;
    // Judged: the route's headers, and whatever was added or changed after the body was sent
    // (hooks at writeHead: a session's Set-Cookie). Headers this response's holes set are
    // their own request's, as they will be on every hit.
    const judged = { ...atSend };
    for (const name of Object.keys(head.headers)) {
      // A downstream transform (compression) encodes what passes through it, on hits as well:
      // the stored body is what the route sent. Only an encoding the route set itself counts.
      if (name === 'content-encoding') continue;
      if (!sameValue(head.headers[name], filled[name])) judged[name] = head.headers[name];
    }
    // A conditional request whose validator matches the new page is answered 304 by the
    // framework itself: the page it validated is the one rendered, and is stored as such.
    const status = head.status === 304 ? (rec.statusAtSend ?? head.status) : head.status;
    // The key the page is stored under: what its render read of the request is all in it.
    const keyed = this.keyOf(rec);
    const key = 'key' in keyed ? keyed.key : lookup.key;
    let reason = ctx.uncacheable
      ? (ctx.uncacheableReason ?? 'marked-uncacheable')
      : 'reason' in keyed
        ? keyed.reason
        : ctx.maxAgeMs === 0
          ? 'max-age-0'
          : responseNotStoredReason(status, judged, this.keyHeaders(policy, keyed.names));
    if (
      !reason &&
      !lookup.refresh &&
      requestForbidsStoring({ headers: this.platform.headers(req) })
    ) {
      reason = 'request-no-store';
    }
    if (!reason && page.body.length > this.options.maxEntryBytes) reason = 'too-large';
    // The shared clock could not be read: whether an eviction overtook this render is unknown.
    if (!reason && this.store.hasClock && rec.renderedAt === undefined) {
      reason = 'clock-unavailable';
    }
    let tags: string[] = [];
    if (!reason) {
      try {
        tags = this.entries.tagsOf(req, policy, ctx);
      } catch (error) {
        this.logger.warn(`tags of ${policy.routeId} failed: ${String(error)}`);
        reason = 'tags-error';
      }
    }
    // Rendered from data that may predate an eviction that happened meanwhile: do not store.
    const evicted = () => this.evictions.evictedSince(ctx.startedAt, key, path, tags);
    if (!reason && evicted()) reason = 'evicted-during-render';
    if (reason) {
      this.cdnHead(rec, undefined);
      this.notStored(reason, lookup);
      rec.end({ notStored: reason });
      return;
    }
    const names = 'names' in keyed ? keyed.names : lookup.varyNames;
    const entry = this.entries.build({
      lookup,
      key,
      status,
      page,
      headers: headersToStore(rec.before, atSend, page.holes.length ? undefined : page.body.length),
      tags,
      renderedAt: rec.renderedAt,
      maxAgeMs: ctx.maxAgeMs,
    });
    if (this.cdn) {
      // Stored with the entry: hits send the same tags at no cost. A page keyed by names it
      // learned is for a CDN only if the CDN can tell those apart as well.
      const cdn = this.cdn.forPage(policy, tags, page.holes.length > 0, judged['vary'], names);
      if (cdn) Object.assign(entry.headers, cdn);
      this.cdnHead(rec, cdn);
    }
    const started = this.tasks.run('storing a page', async () => {
      const written = await this.store.setIfCurrent(entry);
      const stored = written === 'stored';
      // Overtaken by an eviction the store's clock knows (any instance), or one made here while
      // the write was on its way (that eviction did not see the entry).
      if (written === 'overtaken' || (stored && evicted())) {
        if (stored) await this.store.delete(key);
        this.notStored('evicted-during-render', lookup);
        rec.end({ notStored: 'evicted-during-render' });
        return;
      }
      if (stored && policy.varyAuto) await this.recordVary(lookup, names, entry);
      if (stored) {
        this.events.decision({
          result: 'stored',
          route: policy.routeId,
          url: lookup.url,
          key,
          request: req,
        });
      }
      // A failed write still hands the page to the waiters.
      rec.end({ entry });
    });
    if (!started) {
      this.notStored('shutdown', lookup);
      rec.end({ notStored: 'shutdown' });
    }
  }

  /**
   * The key a recorded page is stored under: the lookup's, unless its render read vary-by names
   * the key lacks. A `varyBy: 'auto'` route is re-keyed with them; a route that pins its names
   * does not store the page (the read is a bug: logged once per route and name).
   */
  private keyOf(rec: Recording): { key: string; names: readonly string[] } | { reason: string } {
    const { lookup, ctx } = rec;
    const { policy } = lookup;
    let extra: string[] | undefined;
    for (const name of ctx.varyRead) {
      if (!lookup.varyNames.includes(name)) (extra ??= []).push(name);
    }
    if (extra === undefined) return { key: lookup.key, names: lookup.varyNames };
    if (!policy.varyAuto) {
      for (const name of extra) this.reportUndeclared(policy.routeId, name);
      return { reason: 'undeclared-vary' };
    }
    const names = unionOfNames(lookup.varyNames, extra);
    // A name read inside the render whose resolver failed there has no value to key by.
    if (names.some((name) => !ctx.varyValues.has(name))) return { reason: 'vary-error' };
    const values = names.map((name) => ctx.varyValues.get(name));
    const key = buildCacheKey(lookup.input, policy, this.options, values, names);
    return key === undefined ? { reason: 'key-error' } : { key, names };
  }

  private reportUndeclared(routeId: string, name: string): void {
    const id = `${routeId}\u0000${name}`;
    if (this.undeclared.has(id)) return;
    this.undeclared.add(id);
    this.logger.error(
      `${routeId} read vary-by "${name}" while rendering, but its @Cacheable({ varyBy }) does not ` +
        `list it: its pages are not stored (they would be served to requests with another ` +
        `${name}). Add '${name}' to the route's varyBy, or use varyBy: 'auto'`,
    );
  }

  /** Response headers that are part of the key: the route's, and those of learned names. */
  private keyHeaders(policy: RoutePolicy, names: readonly string[]): ReadonlySet<string> {
    if (names.length === policy.varyBy.length) return policy.keyHeaders;
    return keyHeadersOf(names, this.options.varyBy, policy.keyHeaders);
  }

  /**
   * Writes the URL's vary record with each page stored: the names its page was keyed by (and
   * those already known), as long-lived as any page of the route can be (a variant that announced
   * a shorter max age must not cut short the record that finds its longer-lived siblings).
   * Written every time, not only when the names are news: the copy read may be an instance's
   * local one while the shared store lost its own (a restart, a soft eviction), and a page must
   * never outlive the record that finds it.
   */
  private async recordVary(
    lookup: Lookup,
    names: readonly string[],
    entry: CacheEntry,
  ): Promise<void> {
    const known = lookup.varyRecord;
    const recordKey = varyRecordKey(lookup.input, lookup.policy, this.options);
    if (recordKey === undefined) return;
    const lifetimes = this.entries.lifetimes(lookup.policy, entry.createdAt);
    const all = unionOfNames(known ?? [], names);
    await this.store.set(varyRecordEntry(recordKey, all, entry, lifetimes));
  }

  /** The `cdn` option's headers, or undefined without it. */
  protected get cdn(): CdnHeaders | undefined {
    if (this.cdnHeaders === undefined) this.cdnHeaders = CdnHeaders.of(this.options) ?? null;
    return this.cdnHeaders ?? undefined;
  }

  /** The CDN's headers on this response, while its head is not written yet (decide runs then). */
  private cdnHead(rec: Recording, headers: Record<string, string | string[]> | undefined): void {
    const { res } = rec.lookup;
    if (this.cdn && !this.platform.headersSent(res)) this.cdn.apply(res, this.platform, headers);
  }

  /** Stale-if-error: the render failed; answer with the kept entry, and so do the waiters. */
  private serveKept(rec: Recording, kept: CacheEntry): void {
    const { res, policy, path } = rec.lookup;
    this.logger.warn(
      `${policy.routeId} ${path} answered ${this.platform.status(res)}: serving the kept entry`,
    );
    rec.end({ entry: kept });
    // Headers the failed render set (an error's content type) give way to the entry's.
    for (const name of Object.keys(this.platform.responseHeaders(res))) {
      if (name !== 'x-cache') this.platform.removeHeader(res, name);
    }
    this.hits.write(rec.lookup, kept, 'stale-if-error').subscribe({
      error: (error: unknown) => {
        this.logger.error(`serving the kept entry failed: ${String(error)}`);
        if (!this.platform.headersSent(res)) this.platform.writeResponse(res, 500, undefined);
      },
    });
  }

  /**
   * Reports a rendered page that is not stored, and says why in `X-Cache-Reason` while the
   * head is not written yet (the rules run as it is written: see onHeadersWritten).
   */
  notStored(reason: string, lookup: Lookup): void {
    const { res, policy, url, key } = lookup;
    if (this.options.reasonHeader && !this.platform.headersSent(res)) {
      this.platform.setHeader(res, X_CACHE_REASON_HEADER, `not-stored: ${reason}`);
    }
    this.events.decision({
      result: 'not-stored',
      route: policy.routeId,
      reason,
      url,
      key,
      request: lookup.req,
    });
    // An eviction made while the page rendered overtook it (see EvictionLog, setIfCurrent).
    if (reason === 'evicted-during-render') {
      this.events.eviction({ cause: 'overtaken', values: [key], count: 1 });
    }
  }
}

/**
 * A captured page ready to go out: its stored form and the whole body, or (streamed holes) how
 * it streams and its live parts.
 */
type Prepared =
  | { page: ComposedPage; body: Buffer; form?: undefined; parts?: undefined }
  | {
      page: ComposedPage;
      body?: undefined;
      form: StreamForm;
      parts: Awaited<ReturnType<PageComposer['compose']>>;
    };

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.join('\n') === b.join('\n');
  return a === b || (a !== undefined && b !== undefined && String(a) === String(b));
}
