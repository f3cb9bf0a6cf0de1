import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
  StreamableFile,
} from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { from, map, mergeMap, Observable, of, tap } from 'rxjs';
import { ComponentRegistry } from '../components/component.registry.js';
import { type ComposedPage, PageComposer, stripMarkers } from '../components/page-composer.js';
import { CircuitBreaker, CircuitOpenError } from '../stores/circuit-breaker.js';
import {
  OutputCacheRequestContext,
  outputCacheContext,
} from '../display-control/request-context.js';
import { OUTPUT_CACHE_STORE, ROUTE_TAG_PREFIX, X_CACHE_HEADER } from '../output-cache.constants.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import { buildCacheKey, splitUrl } from '../policy/cache-key.builder.js';
import { requestBypassReason, requestForbidsStoring } from '../policy/request-rules.js';
import { responseNotStoredReason } from '../policy/response-rules.js';
import { type RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import { EvictionLog } from '../provider/eviction-log.js';
import { OutputCacheStats } from '../provider/output-cache.stats.js';
import { type CacheEntry, retainUntil } from '../stores/cache-entry.js';
import { ownBuffer } from '../stores/own-buffer.js';
import { MemoryOutputCacheStore } from '../stores/memory.store.js';
import { TieredOutputCacheStore } from '../stores/tiered.store.js';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { RenderCollapser } from './render-collapser.js';
import {
  captureBody,
  type ExpressLikeResponse,
  headersToStore,
  writeEntry,
} from './response-capture.js';
import { etagMatches, pickVariant, precompress, strongEtag, writeNotModified } from './variants.js';

type Finish = (entry: CacheEntry | undefined) => void;

/** One cacheable request once its key is known: what the lookup, miss and render paths share. */
interface Lookup {
  req: any;
  res: ExpressLikeResponse;
  key: string;
  path: string;
  policy: RoutePolicy;
  next: CallHandler;
}

/** A render that may be stored: the lookup, and what the render collected. */
interface RenderJob extends Lookup {
  ctx: OutputCacheRequestContext;
  /** The response's headers before the route ran (a middleware's, set again on every hit). */
  headersBefore: Record<string, unknown>;
  finish: Finish;
}

/** Header of the loopback request that refreshes a stale entry (with a per-process secret). */
const REFRESH_HEADER = 'x-output-cache-refresh';

/** Not-stored reasons that the same key will give again: remembered as hit-for-miss. */
const HIT_FOR_MISS_REASONS = new Set([
  'status',
  'set-cookie',
  'cache-control',
  'vary',
  'content-encoding',
  'stream',
  'too-large',
  'marked-uncacheable',
  'component-args',
]);

/** A store that offers a cross-instance render lock (Redis, tiered). */
interface LockingStore extends OutputCacheStore {
  acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}

/**
 * Nest renders an `@Render` view after the handler's observable completes, outside the context
 * the handler ran in; the view (and the components it places) must still see the request's
 * context, so `res.render` of this response runs inside it.
 */
function bindRenderToContext(res: ExpressLikeResponse, ctx: OutputCacheRequestContext): void {
  const render = res.render;
  if (typeof render !== 'function') return;
  res.render = function renderInContext(this: unknown, ...args: unknown[]) {
    return outputCacheContext.run(ctx, () => render.apply(this, args));
  };
}

/**
 * The output cache itself, registered globally by {@link OutputCacheModule}. Interceptors run
 * after guards, so authentication and authorisation still apply to cached routes.
 *
 * Per request: policy (cacheable route, eligible request) → key → store lookup → on a hit the
 * stored status, headers and body are written directly; on a miss the route renders once per key
 * (concurrent misses wait for it), its body is captured where it is sent, and stored when the
 * response rules allow. Extension points are `protected`.
 */
@Injectable()
export class OutputCacheInterceptor implements NestInterceptor {
  protected readonly logger = new Logger('OutputCache');
  private readonly memoryStore: MemoryOutputCacheStore | undefined;
  /** A synchronous first look (the memory store, or a tiered store's L1). */
  private readonly syncLookup: ((key: string) => CacheEntry | undefined) | undefined;
  /** Stops calling a failing store for a while (see CircuitBreaker). */
  readonly breaker: CircuitBreaker;
  /** Keys that answered uncacheable a moment ago (hit-for-miss). */
  private readonly hitForMiss: LRUCache<string, true>;
  /** Keys whose variants are being made. */
  private readonly compressing = new Set<string>();
  /** Keys whose stale entry is being refreshed in the background. */
  private readonly refreshing = new Set<string>();
  private readonly refreshToken = randomBytes(18).toString('base64url');

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    @Inject(OUTPUT_CACHE_STORE) protected readonly store: OutputCacheStore,
    protected readonly policies: RoutePolicyResolver,
    protected readonly stats: OutputCacheStats,
    protected readonly collapser: RenderCollapser,
    protected readonly composer: PageComposer,
    protected readonly evictions: EvictionLog,
    protected readonly components: ComponentRegistry,
  ) {
    // The memory store answers synchronously: a hit then costs no promise at all. Subclasses
    // may override get(), so only the class itself takes the shortcut.
    this.memoryStore = store.constructor === MemoryOutputCacheStore ? (store as any) : undefined;
    this.breaker = new CircuitBreaker(options.circuitBreaker);
    this.hitForMiss = new LRUCache<string, true>({
      max: 10_000,
      ttl: Math.max(1, options.hitForMiss * 1000),
    });
    const sync = this.memoryStore ?? (store instanceof TieredOutputCacheStore ? store : undefined);
    this.syncLookup = sync ? (key) => sync.getSync(key) : undefined;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const policy = this.policies.resolve(context.getClass(), context.getHandler());
    const http = context.switchToHttp();
    const req = http.getRequest();
    const res = http.getResponse<ExpressLikeResponse>();
    // Not cached: still a context, so that views can place components either way.
    if (!this.options.enabled || !policy.cacheable) {
      // Views may still place components; without any, such a route is left alone entirely.
      return this.components.size === 0 ? next.handle() : this.run(req, res, policy, next, false);
    }
    const url: string = req.originalUrl ?? req.url;
    const split = splitUrl(url);
    const { path } = split;
    if (path === undefined) return this.bypass('key-error', req, res, policy, next);
    const reason = requestBypassReason(req, path, policy, this.options, (p) =>
      this.policies.isExcluded(p),
    );
    if (reason) return this.bypass(reason, req, res, policy, next);

    let vary: VaryByValue[] | Promise<VaryByValue[]>;
    try {
      vary = this.resolveVary(req, policy);
    } catch (error) {
      this.logger.warn(`vary-by resolver failed on ${policy.routeId}: ${String(error)}`);
      return this.bypass('vary-error', req, res, policy, next);
    }
    if (Array.isArray(vary)) return this.lookup(req, res, url, split, policy, vary, next);
    return from(vary).pipe(
      mergeMap((values) => this.lookup(req, res, url, split, policy, values, next)),
    );
  }

  /** Resolves the route's vary-by values, synchronously when no resolver returns a promise. */
  protected resolveVary(req: any, policy: RoutePolicy): VaryByValue[] | Promise<VaryByValue[]> {
    const values: (VaryByValue | Promise<VaryByValue>)[] = [];
    let async = false;
    for (const name of policy.varyBy) {
      const resolver = this.options.varyBy[name];
      const value =
        typeof resolver === 'function' ? resolver(req) : req.headers[resolver.header.toLowerCase()];
      if (value instanceof Promise) async = true;
      values.push(value);
    }
    return async ? Promise.all(values) : (values as VaryByValue[]);
  }

  private lookup(
    req: any,
    res: ExpressLikeResponse,
    url: string,
    split: { path: string | undefined; query: string },
    policy: RoutePolicy,
    vary: VaryByValue[],
    next: CallHandler,
  ): Observable<unknown> {
    const path = split.path!;
    const key = buildCacheKey(
      { protocol: req.protocol, host: req.host ?? req.headers.host ?? '', url, split },
      policy,
      this.options,
      vary,
    );
    if (key === undefined) return this.bypass('key-error', req, res, policy, next);
    const lookup: Lookup = { req, res, key, path, policy, next };
    // A background refresh of a stale entry (our own loopback request): render and store.
    if (req.headers[REFRESH_HEADER] === this.refreshToken) {
      return this.render(lookup, this.collapser.lead(key), undefined);
    }
    if (this.syncLookup) {
      const entry = this.syncLookup(key);
      if (entry && entry.expiresAt > Date.now()) return this.hit(req, res, entry, 'HIT');
      if (this.memoryStore) return this.found(lookup, entry);
    }
    return from(this.safeGet(key)).pipe(mergeMap((entry) => this.found(lookup, entry)));
  }

  /** Fresh: a hit. In its grace: served stale while one background render refreshes it. */
  private found(lookup: Lookup, entry: CacheEntry | undefined): Observable<unknown> {
    if (!entry) return this.miss(lookup, undefined);
    const { req, res } = lookup;
    const now = Date.now();
    if (now < entry.expiresAt) return this.hit(req, res, entry, 'HIT');
    if (now < (entry.graceUntil ?? 0)) {
      this.stats.stale++;
      this.refreshInBackground(req, lookup.key);
      return this.hit(req, res, entry, 'STALE');
    }
    // Past its grace, still kept for stale-if-error: render, and fall back to it on failure.
    return this.miss(lookup, entry);
  }

  /**
   * Renders a stale key anew, once, off the request that found it stale: a loopback request to
   * this server with the same URL and headers (so guards, vary-by and keys are the same), marked
   * with a per-process secret so that it renders instead of being served stale.
   */
  protected refreshInBackground(req: any, key: string): void {
    if (this.refreshing.has(key) || this.collapser.has(key)) return;
    const socket = req.socket;
    if (!socket?.localPort) return;
    this.refreshing.add(key);
    const headers: Record<string, unknown> = { ...req.headers };
    for (const name of ['if-none-match', 'if-modified-since', 'content-length', 'connection']) {
      delete headers[name];
    }
    headers[REFRESH_HEADER] = this.refreshToken;
    const done = () => this.refreshing.delete(key);
    const client = socket.encrypted ? https : http;
    const refresh = client.request(
      {
        host: socket.localAddress,
        port: socket.localPort,
        method: 'GET',
        path: req.originalUrl ?? req.url,
        headers: headers as http.OutgoingHttpHeaders,
        rejectUnauthorized: false,
        timeout: 60_000,
      },
      (response) => {
        response.resume();
        response.once('end', done);
        response.once('error', done);
      },
    );
    refresh.once('error', (error) => {
      this.logger.warn(`background refresh of ${key} failed: ${error.message}`);
      done();
    });
    refresh.once('timeout', () => refresh.destroy(new Error('timed out')));
    refresh.end();
  }

  private miss(lookup: Lookup, fallback: CacheEntry | undefined): Observable<unknown> {
    const { req, res, key } = lookup;
    // This key answered uncacheable a moment ago: render side by side, queue behind nobody
    // (a render that turns out storable is still stored).
    if (this.hitForMiss.get(key) !== undefined) {
      return this.render(lookup, () => undefined, fallback);
    }
    if (this.collapser.has(key)) {
      return from(this.collapser.wait(key, this.options.collapseTimeout * 1000)).pipe(
        mergeMap((outcome) => {
          if (outcome && typeof outcome === 'object') {
            this.stats.collapsed++;
            const label = outcome.expiresAt > Date.now() ? 'HIT' : 'STALE';
            return this.hit(req, res, outcome, label);
          }
          // The render we waited for gave nothing storable (or took too long): render ourselves,
          // and store only if nobody else is rendering this key by now.
          const finish = outcome === undefined ? undefined : this.collapser.lead(key);
          return this.render(lookup, finish, fallback);
        }),
      );
    }
    // HEAD is answered from the GET entry but never creates one.
    const finish = req.method === 'HEAD' ? undefined : this.collapser.lead(key);
    const lockable = this.store as Partial<LockingStore>;
    if (finish && this.options.distributedLock && typeof lockable.acquireLock === 'function') {
      return from(this.lockOrWait(key, lockable as LockingStore)).pipe(
        mergeMap(({ entry, release }) => {
          if (entry) {
            finish(entry);
            return this.hit(req, res, entry, 'HIT');
          }
          const done: Finish = (stored) => {
            finish(stored);
            void release?.();
          };
          return this.render(lookup, done, fallback);
        }),
      );
    }
    return this.render(lookup, finish, fallback);
  }

  /**
   * Across instances: take the key's render lock, or wait for the instance that holds it to
   * store the entry (polling), giving up after `lockTimeout` to render here.
   */
  private async lockOrWait(
    key: string,
    store: LockingStore,
  ): Promise<{ entry?: CacheEntry; release?: () => Promise<void> }> {
    const timeoutMs = this.options.lockTimeout * 1000;
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.guarded(() => store.acquireLock(key, timeoutMs), 'lock');
    } catch (error) {
      this.storeFailed('lock', error);
      return {};
    }
    if (release) return { release };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const entry = await this.safeGet(key);
      if (entry) {
        this.stats.collapsed++;
        return { entry };
      }
    }
    return {};
  }

  /**
   * Renders the route inside a DisplayControl context. With `finish` (this request leads the
   * render of its key), the body is captured and stored when the response rules allow, and the
   * waiters of the key get the entry.
   */
  protected render(
    lookup: Lookup,
    finish: Finish | undefined,
    fallback: CacheEntry | undefined,
  ): Observable<unknown> {
    const { req, res, key, path, policy, next } = lookup;
    this.stats.misses++;
    if (this.options.headers) res.setHeader(X_CACHE_HEADER, 'MISS');
    const ctx = this.contextFor(req, res, policy, finish !== undefined);
    ctx.startedAt = this.evictions.now();
    let streamed = false;
    if (finish || fallback) {
      const headersBefore = { ...res.getHeaders() };
      let captured = false;
      captureBody(res, (body, send) => {
        captured = true;
        if (fallback && res.statusCode >= 500 && Date.now() < retainUntil(fallback)) {
          // Stale-if-error: the old page is better than an error page.
          this.stats.staleIfError++;
          this.logger.warn(
            `${policy.routeId} ${path} answered ${res.statusCode}: serving the stale entry`,
          );
          // The waiters get the kept page too, instead of each trying the failing render.
          finish?.(fallback);
          this.serveOnError(req, res, fallback);
          return;
        }
        if (!finish) return send(body);
        this.onRenderedBody({ ...lookup, ctx, headersBefore, finish }, body, send);
      });
      res.once('close', () => {
        if (captured || !finish) return;
        // Streamed (StreamableFile, @Res() writes) or aborted: nothing to store, never a
        // partial body for the waiters.
        const reason =
          streamed || res.statusCode === 200
            ? 'stream'
            : res.statusCode >= 500
              ? 'server-error'
              : 'status';
        this.notStored(reason, policy, path, key);
        finish(undefined);
      });
    }
    const handled = new Observable<unknown>((subscriber) =>
      outputCacheContext.run(ctx, () => next.handle().subscribe(subscriber)),
    );
    return handled.pipe(
      tap((value) => {
        if (value instanceof StreamableFile) streamed = true;
      }),
    );
  }

  private onRenderedBody(
    job: RenderJob,
    raw: Buffer | string,
    send: (body: Buffer | string) => void,
  ): void {
    const { ctx, policy } = job;
    if (typeof raw === 'string' && ctx.token !== undefined) {
      this.composeAndStore(job, raw).then(send, (error: unknown) => {
        this.logger.error(`composing ${policy.routeId} failed: ${String(error)}`);
        job.finish(undefined);
        send(stripMarkers(ctx, raw));
      });
      return;
    }
    // No components: decide and send at once, the store write goes on behind.
    const body = typeof raw === 'string' ? ownBuffer(raw) : raw;
    this.storeIfAllowed(job, { body, holes: [] });
    // The bytes already made: Express would encode the string a second time.
    send(body);
  }

  /** Resolves the components of a page, stores it when allowed, and fills its holes. */
  private async composeAndStore(job: RenderJob, raw: string): Promise<Buffer> {
    const { ctx } = job;
    const parts = await outputCacheContext.run(ctx, () => this.composer.compose(ctx, raw, true));
    const page = this.composer.toStored(parts);
    this.storeIfAllowed(job, page);
    return outputCacheContext.run(ctx, () => this.composer.fill(ctx, page, parts));
  }

  private storeIfAllowed(job: RenderJob, page: ComposedPage): void {
    const { req, res, key, path, policy, ctx, headersBefore, finish } = job;
    const headers = res.getHeaders();
    let reason = ctx.uncacheable
      ? (ctx.uncacheableReason ?? 'marked-uncacheable')
      : responseNotStoredReason(res.statusCode, headers, policy.keyHeaders);
    if (!reason && requestForbidsStoring(req)) reason = 'request-no-store';
    if (!reason && page.body.length > this.options.maxEntryBytes) reason = 'too-large';
    let tags: string[] = [];
    if (!reason) {
      try {
        tags = this.tagsOf(req, policy, ctx);
      } catch (error) {
        this.logger.warn(`tags of ${policy.routeId} failed: ${String(error)}`);
        reason = 'tags-error';
      }
    }
    // Rendered from data that may predate an eviction that happened meanwhile: do not store.
    if (!reason && this.evictions.evictedSince(ctx.startedAt, key, path, tags)) {
      reason = 'evicted-during-render';
    }
    if (reason) {
      this.notStored(reason, policy, path, key);
      finish(undefined);
      return;
    }
    const now = Date.now();
    const hasHoles = page.holes.length > 0;
    const entry: CacheEntry = {
      key,
      status: res.statusCode,
      headers: headersToStore(
        headersBefore as any,
        headers,
        hasHoles ? undefined : page.body.length,
      ),
      body: page.body,
      holes: hasHoles ? page.holes : undefined,
      tags,
      path,
      routeId: policy.routeId,
      createdAt: now,
      expiresAt: now + policy.ttlMs,
    };
    if (policy.graceMs > 0) entry.graceUntil = entry.expiresAt + policy.graceMs;
    const keep = Math.max(policy.graceMs, policy.staleIfErrorMs);
    if (keep > 0) entry.retainUntil = entry.expiresAt + keep;
    if (!hasHoles) {
      // A strong validator, computed once; the miss answers with it too (Express then adds no
      // weak one of its own).
      entry.etag = strongEtag(page.body);
      res.setHeader('ETag', entry.etag);
    }
    // Compressed variants come with the first hit (precompressLater): a miss costs a render.
    this.guarded(() => this.store.set(entry), 'set').then(
      async () => {
        // An eviction that ran while the write was on its way did not see the entry.
        if (this.evictions.evictedSince(ctx.startedAt, key, path, tags)) {
          await this.store.delete(key).catch((error) => this.storeFailed('delete', error));
          this.notStored('evicted-during-render', policy, path);
          finish(undefined);
          return;
        }
        this.stats.stored++;
        finish(entry);
      },
      (error) => {
        this.storeFailed('set', error);
        finish(entry);
      },
    );
  }

  /** The tags stored with an entry: the route's, the route options' and the announced ones. */
  protected tagsOf(req: any, policy: RoutePolicy, ctx: OutputCacheRequestContext): string[] {
    const tags = new Set<string>([ROUTE_TAG_PREFIX + policy.routeId]);
    const extra = typeof policy.tags === 'function' ? policy.tags(req) : policy.tags;
    if (extra) for (const tag of extra) tags.add(tag);
    for (const tag of ctx.tags) tags.add(tag);
    return [...tags];
  }

  /** Writes a stored entry as this response, rendering its holes first. */
  protected hit(
    req: any,
    res: ExpressLikeResponse,
    entry: CacheEntry,
    label: string,
  ): Observable<unknown> {
    this.stats.hits++;
    const isHead = req.method === 'HEAD';
    const age = String(Math.max(0, Math.floor((Date.now() - entry.createdAt) / 1000)));
    if (!entry.holes || entry.holes.length === 0) {
      if (this.options.precompress && !entry.variants) this.precompressLater(entry);
      const variant = pickVariant(entry, req.headers['accept-encoding']);
      const inm = req.headers['if-none-match'];
      if (inm !== undefined && entry.etag && etagMatches(inm, variant.etag)) {
        this.stats.notModified++;
        writeNotModified(res, entry, variant);
        return of(undefined);
      }
      const extra: Record<string, string> = { ...variant.headers };
      if (this.options.headers) {
        extra[X_CACHE_HEADER] = label;
        extra.Age = age;
      }
      writeEntry(res, isHead, entry.status, entry.headers, variant.body, extra);
      return of(undefined);
    }
    const extra: Record<string, string> = this.options.headers
      ? { [X_CACHE_HEADER]: label, Age: age }
      : {};
    const ctx = new OutputCacheRequestContext(false, req, res, entry.routeId);
    ctx.composer = this.composer;
    const page = { body: entry.body, holes: entry.holes };
    const write = (body: Buffer) => {
      extra['content-length'] = String(body.length);
      writeEntry(res, isHead, entry.status, entry.headers, body, extra);
      return undefined;
    };
    const filled = outputCacheContext.run(ctx, () => this.composer.fill(ctx, page));
    // Holes that answered synchronously: the page is written in this very tick.
    return Buffer.isBuffer(filled) ? of(write(filled)) : from(filled).pipe(map(write));
  }

  /**
   * Makes the gzip and brotli variants of an entry once, on its first hit, off the event loop,
   * and stores the entry again with them. Waiting for a first hit spares the CPU for pages
   * requested once (most entries of a crawl or a cache-busting flood): a miss costs no more
   * than a render. Until the variants exist, hits are served as they are.
   */
  private precompressLater(entry: CacheEntry): void {
    if (this.compressing.has(entry.key)) return;
    this.compressing.add(entry.key);
    const since = this.evictions.now();
    const copy: CacheEntry = { ...entry };
    precompress(copy)
      .then(async () => {
        if (
          !copy.variants ||
          this.evictions.evictedSince(since, entry.key, entry.path, entry.tags)
        ) {
          return;
        }
        // Only if the entry is still the one we compressed (not replaced nor evicted meanwhile).
        const current = this.syncLookup?.(entry.key) ?? (await this.safeGet(entry.key));
        if (current?.createdAt !== entry.createdAt) return;
        await this.guarded(() => this.store.set(copy), 'set');
      })
      .catch((error: unknown) => this.storeFailed('set', error))
      .finally(() => this.compressing.delete(entry.key));
  }

  /** Stale-if-error: the render failed; answer with the kept entry instead. */
  private serveOnError(req: any, res: ExpressLikeResponse, entry: CacheEntry) {
    // Headers the failed render set (an error's content type) give way to the entry's.
    for (const name of res.getHeaderNames()) if (name !== 'x-cache') res.removeHeader(name);
    this.hit(req, res, entry, 'STALE').subscribe({
      error: (error: unknown) => {
        this.logger.error(`serving the stale entry failed: ${String(error)}`);
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      },
    });
  }

  protected bypass(
    reason: string,
    req: any,
    res: ExpressLikeResponse,
    policy: RoutePolicy,
    next: CallHandler,
  ): Observable<unknown> {
    this.stats.bypass(reason);
    if (this.options.headers) res.setHeader(X_CACHE_HEADER, 'BYPASS');
    return this.run(req, res, policy, next, false);
  }

  /** Runs the handler inside a request context (DisplayControl, components). */
  private run(
    req: any,
    res: ExpressLikeResponse,
    policy: RoutePolicy,
    next: CallHandler,
    capturing: boolean,
  ): Observable<unknown> {
    const ctx = this.contextFor(req, res, policy, capturing);
    return new Observable<unknown>((subscriber) =>
      outputCacheContext.run(ctx, () => next.handle().subscribe(subscriber)),
    );
  }

  private contextFor(
    req: any,
    res: ExpressLikeResponse,
    policy: RoutePolicy | undefined,
    capturing: boolean,
    routeId = policy?.routeId ?? '',
  ): OutputCacheRequestContext {
    const ctx = new OutputCacheRequestContext(capturing, req, res, routeId);
    ctx.composer = this.composer;
    bindRenderToContext(res, ctx);
    return ctx;
  }

  private notStored(reason: string, policy: RoutePolicy, path: string, key?: string): void {
    this.stats.skip(reason);
    // Answers that will be the same next time: remember them (hit-for-miss).
    if (key && this.options.hitForMiss > 0 && HIT_FOR_MISS_REASONS.has(reason)) {
      this.hitForMiss.set(key, true);
    }
    this.logger.debug(`not stored (${reason}): ${policy.routeId} ${path}`);
  }

  private async safeGet(key: string): Promise<CacheEntry | undefined> {
    try {
      return await this.guarded(() => this.store.get(key), 'get');
    } catch (error) {
      this.storeFailed('get', error);
      return undefined;
    }
  }

  /**
   * A store call as the request sees it: the memory store directly; any other through the
   * circuit breaker and bounded by `storeTimeout`.
   */
  private guarded<T>(call: () => Promise<T>, operation: string): Promise<T> {
    if (this.memoryStore) return call();
    return this.breaker.run(() => this.withTimeout(call(), operation));
  }

  /** Bounds a store call by `storeTimeout`. */
  private withTimeout<T>(call: Promise<T>, operation: string): Promise<T> {
    const ms = this.options.storeTimeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`store ${operation} timed out after ${ms} ms`)),
        ms,
      );
      timer.unref();
    });
    // A late rejection of the abandoned call must not become an unhandled rejection.
    call.catch(() => undefined);
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  private storeFailed(operation: string, error: unknown): void {
    if (error instanceof CircuitOpenError) {
      this.stats.storeSkipped++; // the circuit is open: the store was not even asked
      return;
    }
    this.stats.storeErrors++;
    this.logger.warn(`store ${operation} failed, serving uncached: ${String(error)}`);
  }
}
