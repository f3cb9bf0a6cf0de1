export { OutputCacheModule } from './output-cache.module.js';
export { OUTPUT_CACHE_MODULE_OPTIONS } from './output-cache.module-definition.js';
export {
  OUTPUT_CACHE_DEFAULTS,
  type OutputCacheModuleOptions,
  type VaryByResolver,
  type VaryByValue,
} from './output-cache.options.js';
export { OUTPUT_CACHE_STORE, ROUTE_TAG_PREFIX } from './output-cache.constants.js';
export {
  Cacheable,
  type CacheableOptions,
  NoOutputCache,
  RouteModule,
} from './decorators/cacheable.decorator.js';
export type { CacheableRouteProvider } from './interfaces/cacheable-route-provider.interface.js';
export { DisplayControl } from './display-control/display-control.service.js';
export {
  EntityTagRegistry,
  type EntityTagHandler,
} from './display-control/entity-tags.registry.js';
export { OutputCacheInterceptor } from './http/output-cache.interceptor.js';
export {
  OutputCacheProvider,
  type InvalidateArgs,
  type InvalidateOptions,
} from './provider/output-cache.provider.js';
export { OutputCacheStats, type OutputCacheStatsSnapshot } from './provider/output-cache.stats.js';
export type { OutputCacheStore } from './stores/output-cache-store.interface.js';
export type { CacheEntry, CacheEntrySummary, StoredHeaders } from './stores/cache-entry.js';
export { MemoryOutputCacheStore, type MemoryStoreOptions } from './stores/memory.store.js';
export { routeIdOf } from './policy/route-id.js';
export {
  CacheableComponent,
  ViewComponent,
  type ViewComponentOptions,
} from './components/view-component.decorator.js';
export type {
  ComponentContext,
  ViewComponentRenderer,
} from './components/view-component.interface.js';
export { ComponentRegistry } from './components/component.registry.js';
export { placeComponent } from './components/page-composer.js';
export { registerHandlebarsHelpers, type HandlebarsLike } from './components/handlebars-helpers.js';
export {
  ANTIFORGERY_COMPONENT,
  type AntiforgeryOptions,
} from './components/antiforgery-token.component.js';
export { UnknownComponentError } from './errors/unknown-component.error.js';
export { OutputCacheConfigError } from './errors/output-cache-config.error.js';
export type { HoleRef } from './stores/cache-entry.js';
export { InvalidationObserver } from './invalidation/invalidation.observer.js';
export type {
  EntityChange,
  EntityChangeEvent,
  EntityChangeKind,
  EntityObserver,
  SettingChangeEvent,
  SettingObserver,
  SettingsSource,
} from './invalidation/entity-change.js';
export { TypeOrmInvalidationSubscriber } from './invalidation/typeorm-invalidation.subscriber.js';
export {
  RedisOutputCacheStore,
  type RedisStoreOptions,
  FAIL_FAST_REDIS_OPTIONS,
} from './stores/redis.store.js';
export {
  CircuitBreaker,
  CircuitOpenError,
  type CircuitBreakerOptions,
} from './stores/circuit-breaker.js';
export { encodeEntry, decodeEntry, ENTRY_FORMAT_VERSION } from './stores/entry-codec.js';
export { TypeOrmOutputCacheStore, type TypeOrmStoreOptions } from './stores/typeorm.store.js';
export {
  OutputCacheTables1763700000000,
  createOutputCacheMigration,
  DEFAULT_OUTPUT_CACHE_TABLE_PREFIX,
} from './stores/typeorm-output-cache.migration.js';
export { TieredOutputCacheStore, type TieredStoreOptions } from './stores/tiered.store.js';
export type { RemoteEviction } from './stores/output-cache-store.interface.js';
export type { StaleSelector } from './stores/output-cache-store.interface.js';
