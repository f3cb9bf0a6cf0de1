import { Module, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { ComponentRegistry } from './components/component.registry.js';
import { PageComposer } from './components/page-composer.js';
import { DisplayControl } from './display-control/display-control.service.js';
import { EntityTagRegistry } from './display-control/entity-tags.registry.js';
import { OutputCacheInterceptor } from './http/output-cache.interceptor.js';
import { RenderCollapser } from './http/render-collapser.js';
import { OUTPUT_CACHE_STORE } from './output-cache.constants.js';
import {
  ConfigurableModuleClass,
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
import { MemoryOutputCacheStore } from './stores/memory.store.js';

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
  EntityTagRegistry,
  DisplayControl,
  OutputCacheStats,
  OutputCacheProvider,
  CacheableRoutesRegistry,
  RoutePolicyResolver,
  RenderCollapser,
  EvictionLog,
  InvalidationObserver,
  ComponentRegistry,
  PageComposer,
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
    OutputCacheStats,
    OUTPUT_CACHE_STORE,
    RESOLVED_OPTIONS,
  ],
})
export class OutputCacheModule extends ConfigurableModuleClass {}
