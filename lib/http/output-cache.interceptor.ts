import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
} from '@nestjs/common';
import { from, mergeMap, type Observable } from 'rxjs';
import { ComponentRegistry } from '../components/component.registry.js';
import { X_CACHE_HEADER, X_CACHE_REASON_HEADER } from '../output-cache.constants.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { type RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';
import { type CacheEntry, freshnessOf } from '../stores/cache-entry.js';
import { EntryReader } from './entry-reader.js';
import { HitWriter } from './hit-writer.js';
import { KeyResolver } from './key-resolver.js';
import type { Bypass, Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RenderCoordinator } from './render-coordinator.js';
import { ResponseRecorder } from './response-recorder.js';
import { StaleRefresher } from './stale-refresher.js';

/**
 * The output cache, registered globally by `OutputCacheModule`. Interceptors run after guards,
 * so authentication and authorisation still apply to cached routes.
 *
 * A screen of stages: policy ({@link RoutePolicyResolver}) → key ({@link KeyResolver}) → read
 * ({@link EntryReader}) → decide: fresh or in grace → {@link HitWriter} (a stale one also starts
 * {@link StaleRefresher}); missing, or kept only for errors → {@link RenderCoordinator}, which
 * renders once per key through {@link ResponseRecorder}. Each stage is a provider with
 * `protected` hooks.
 */
@Injectable()
export class OutputCacheInterceptor implements NestInterceptor {
  protected readonly logger = new Logger('OutputCache');

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly policies: RoutePolicyResolver,
    protected readonly keys: KeyResolver,
    protected readonly reader: EntryReader,
    protected readonly hits: HitWriter,
    protected readonly coordinator: RenderCoordinator,
    protected readonly recorder: ResponseRecorder,
    protected readonly refresher: StaleRefresher,
    protected readonly components: ComponentRegistry,
    protected readonly events: OutputCacheEvents,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const policy = this.policies.resolve(context.getClass(), context.getHandler());
    const http = context.switchToHttp();
    const req = http.getRequest();
    const res = http.getResponse();
    if (!this.options.enabled || !policy.cacheable) {
      // Views may still place components; without any, the route is left alone entirely.
      if (this.components.size === 0) return next.handle();
      return this.recorder.pass(req, res, policy.routeId, next);
    }
    const refresh = this.refresher.isRefresh(req);
    const lookup = this.keys.resolve(req, res, policy, next, refresh);
    return then(lookup, (found) =>
      'bypass' in found ? this.bypass(found, req, res, policy, next) : this.serve(found),
    );
  }

  /** Reads the entry of a keyed request and decides how to answer. */
  protected serve(lookup: Lookup): Observable<unknown> {
    if (lookup.refresh) return this.coordinator.miss(lookup);
    return then(this.reader.read(lookup.key), (entry) => this.decide(lookup, entry));
  }

  /** Fresh: a hit. In its grace: served stale while one background render refreshes it. */
  protected decide(lookup: Lookup, entry: CacheEntry | undefined): Observable<unknown> {
    switch (entry && freshnessOf(entry, Date.now())) {
      case 'fresh':
        return this.hits.write(lookup, entry!, 'hit');
      case 'grace':
        this.refresher.refresh(lookup);
        return this.hits.write(lookup, entry!, 'stale');
      case 'kept':
        // Past its grace, still kept for stale-if-error: render, and fall back to it on failure.
        return this.coordinator.miss(lookup, entry);
      default:
        return this.coordinator.miss(lookup);
    }
  }

  protected bypass(
    { bypass: reason }: Bypass,
    req: any,
    res: any,
    policy: RoutePolicy,
    next: CallHandler,
  ): Observable<unknown> {
    this.events.decision({
      result: 'bypass',
      route: policy.routeId,
      reason,
      url: this.platform.url(req),
      request: req,
    });
    if (this.options.headers) this.platform.setHeader(res, X_CACHE_HEADER, 'BYPASS');
    if (this.options.reasonHeader) {
      this.platform.setHeader(res, X_CACHE_REASON_HEADER, `bypass: ${reason}`);
    }
    return this.recorder.pass(req, res, policy.routeId, next);
  }
}

/** Continues with a value now, or when its promise resolves (a sync hit costs no promise). */
function then<T>(value: T | Promise<T>, next: (value: T) => Observable<unknown>) {
  return value instanceof Promise ? from(value).pipe(mergeMap(next)) : next(value);
}
