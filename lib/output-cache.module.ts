import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { ComponentRegistry } from './components/component.registry.js';
import { PageComposer } from './components/page-composer.js';
import { DisplayControl } from './display-control/display-control.service.js';
import { EntityTagRegistry } from './display-control/entity-tags.registry.js';
import { BackgroundTasks } from './http/background-tasks.js';
import { EntryBuilder } from './http/entry-builder.js';
import { EntryReader } from './http/entry-reader.js';
import { FastLane } from './http/fast-lane.js';
import { HitWriter } from './http/hit-writer.js';
import { HoleStreamer } from './http/hole-streamer.js';
import { KeyResolver } from './http/key-resolver.js';
import { OutputCacheInterceptor } from './http/output-cache.interceptor.js';
import { HttpPlatform } from './http/platform/http-platform.js';
import { SelectedHttpPlatform } from './http/platform/selected-http.platform.js';
import { RenderCoordinator } from './http/render-coordinator.js';
import { RequestScope } from './http/request-scope.js';
import { ResponseRecorder } from './http/response-recorder.js';
import { StaleRefresher } from './http/stale-refresher.js';
import { VariantCompressor } from './http/variant-compressor.js';
import { OUTPUT_CACHE_STORE } from './output-cache.constants.js';
import {
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  OUTPUT_CACHE_MODULE_OPTIONS,
  RESOLVED_OPTIONS,
} from './output-cache.module-definition.js';
import {
  type OutputCacheModuleOptions,
  type ResolvedOutputCacheOptions,
  resolveOutputCacheOptions,
} from './output-cache.options.js';
import { CacheableRoutesRegistry } from './policy/cacheable-routes.registry.js';
import { RoutePolicyResolver } from './policy/route-policy.resolver.js';
import { OutputCacheProvider } from './provider/output-cache.provider.js';
import { InvalidationObserver } from './invalidation/invalidation.observer.js';
import { EvictionLog } from './provider/eviction-log.js';
import { OutputCacheStats } from './provider/output-cache.stats.js';
import { CdnPurgeForwarder } from './cdn/cdn-purge-forwarder.js';
import { RefreshAhead } from './provider/refresh-ahead.js';
import { EvictionReplay } from './provider/eviction-replay.js';
import { WarmUp } from './provider/warm-up.js';
import { OutputCacheEvents } from './observability/output-cache-events.js';
import { DecisionLogListener } from './observability/decision-log.listener.js';
import { canReportUsage } from './stores/store-capabilities.js';
import { MemoryOutputCacheStore } from './stores/memory.store.js';
import type { OutputCacheStore } from './stores/output-cache-store.interface.js';
import { ResilientStore } from './stores/resilient.store.js';

const providers: Provider[] = [
  {
    provide: RESOLVED_OPTIONS,
    useFactory: (options: OutputCacheModuleOptions) => resolveOutputCacheOptions(options),
    inject: [OUTPUT_CACHE_MODULE_OPTIONS],
  },
  {
    provide: OUTPUT_CACHE_STORE,
    useFactory: (options: ResolvedOutputCacheOptions) =>
      options.store ??
      new MemoryOutputCacheStore({ maxEntries: options.maxEntries, maxBytes: options.maxBytes }),
    inject: [RESOLVED_OPTIONS],
  },
  {
    provide: ResilientStore,
    useFactory: (
      store: OutputCacheStore,
      options: ResolvedOutputCacheOptions,
      stats: OutputCacheStats,
    ) => {
      const resilient = new ResilientStore(
        store,
        {
          requestTimeoutMs: options.storeTimeout * 1000,
          operationTimeoutMs: options.operationTimeout * 1000,
          breaker: options.circuitBreaker,
        },
        stats,
      );
      stats.useSources({
        breaker: () => resilient.breaker.state,
        usage: () => (canReportUsage(store) ? store.usage() : undefined),
      });
      return resilient;
    },
    inject: [OUTPUT_CACHE_STORE, RESOLVED_OPTIONS, OutputCacheStats],
  },
  // Express or Fastify, after the app's adapter (see SelectedHttpPlatform).
  { provide: HttpPlatform, useClass: SelectedHttpPlatform },
  EntityTagRegistry,
  DisplayControl,
  OutputCacheEvents,
  OutputCacheStats,
  DecisionLogListener,
  OutputCacheProvider,
  CacheableRoutesRegistry,
  RoutePolicyResolver,
  EvictionLog,
  InvalidationObserver,
  ComponentRegistry,
  PageComposer,
  // The request pipeline, stage by stage (see OutputCacheInterceptor).
  BackgroundTasks,
  RequestScope,
  KeyResolver,
  EntryReader,
  VariantCompressor,
  HitWriter,
  HoleStreamer,
  EntryBuilder,
  ResponseRecorder,
  RenderCoordinator,
  StaleRefresher,
  // Fresh hits of fastLane routes, served before the framework (see FastLane).
  FastLane,
  // Renders ahead of requests: OutputCacheProvider.warm() and the refreshAhead option.
  WarmUp,
  RefreshAhead,
  EvictionReplay,
  // The CDN in front: evictions forwarded to the `cdn.purger` (idle without one).
  CdnPurgeForwarder,
  { provide: APP_INTERCEPTOR, useClass: OutputCacheInterceptor },
];

/**
 * Server-side output cache for NestJS. Import it once, in the root module; it is global unless
 * `isGlobal: false`.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     OutputCacheModule.forRoot({
 *       defaultTtl: 300,
 *       varyBy: { currency: (req) => req.cookies?.currency ?? 'EUR' },
 *       exclude: ['/admin/**'],
 *       sessionCookie: 'sid',
 *     }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [
    DisplayControl,
    EntityTagRegistry,
    ComponentRegistry,
    InvalidationObserver,
    OutputCacheProvider,
    OutputCacheEvents,
    OutputCacheStats,
    CdnPurgeForwarder,
    OUTPUT_CACHE_STORE,
    RESOLVED_OPTIONS,
  ],
})
export class OutputCacheModule extends ConfigurableModuleClass {
  /** The module with `options` (every one has a default: `forRoot()` is a working cache). */
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }
}
