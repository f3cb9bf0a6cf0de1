// The module and its options.
export { OutputCacheModule } from './output-cache.module.js';
export {
  OUTPUT_CACHE_DEFAULTS,
  type OutputCacheModuleOptions,
  type RefreshAheadOptions,
  type StreamHoles,
  type VaryByResolver,
  type VaryByValue,
} from './output-cache.options.js';
export { OUTPUT_CACHE_STORE, ROUTE_TAG_PREFIX } from './output-cache.constants.js';

// Decorators and route ids.
export {
  Cacheable,
  type CacheableOptions,
  NoOutputCache,
  RouteModule,
} from './decorators/cacheable.decorator.js';
export type { CacheableRouteProvider } from './interfaces/cacheable-route-provider.interface.js';
export { routeIdOf } from './policy/route-id.js';

// What a page shows, and eviction.
export { DisplayControl } from './display-control/display-control.service.js';
export { varyValue } from './display-control/vary-values.js';
export { isVaryRecord } from './http/vary-record.js';
export {
  EntityTagRegistry,
  type EntityTagHandler,
} from './display-control/entity-tags.registry.js';
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
export {
  OutputCacheProvider,
  type InvalidateArgs,
  type InvalidateOptions,
} from './provider/output-cache.provider.js';
export type { WarmUpOptions, WarmUpReport } from './provider/warm-up.js';
export { RefreshAhead } from './provider/refresh-ahead.js';
export {
  OutputCacheStats,
  type BreakerState,
  type OutputCacheEvictionStats,
  type OutputCacheRouteStats,
  type OutputCacheStatsSnapshot,
} from './provider/output-cache.stats.js';

// Observability: the event hub every decision and eviction goes through.
export {
  OutputCacheEvents,
  type CacheDecision,
  type CacheDecisionResult,
  type CacheEviction,
  type EvictionCause,
  type OutputCacheListener,
} from './observability/output-cache-events.js';

// A CDN or Varnish in front: tags in a response header, evictions forwarded as purges.
export type { CdnOptions } from './cdn/cdn.options.js';
export type { CdnPurgeBatch, CdnPurger } from './cdn/cdn-purger.interface.js';
export { CdnPurgeForwarder } from './cdn/cdn-purge-forwarder.js';
export { CdnTagEncoder } from './cdn/cdn-tag-encoder.js';
export { VarnishBanPurger, type VarnishBanPurgerOptions } from './cdn/varnish-ban.purger.js';
export { FastlyPurger, type FastlyPurgerOptions } from './cdn/fastly.purger.js';
export { CloudflarePurger, type CloudflarePurgerOptions } from './cdn/cloudflare.purger.js';

// Admin endpoints and dashboard (opt-in).
export { OutputCacheAdminModule } from './admin/output-cache-admin.module.js';
export type { OutputCacheAdminOptions } from './admin/output-cache-admin.options.js';
export {
  OutputCacheAdminService,
  type AdminEntriesPage,
  type AdminEntryView,
  type AdminHealth,
} from './admin/output-cache-admin.service.js';
export type { MinuteActivity } from './admin/admin-activity.recorder.js';

// View components (donut holes).
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

// The store contract and the memory store (Redis and TypeORM: the `/redis` and `/typeorm`
// subpaths).
export type {
  EvictionBusStore,
  EvictionClockStore,
  EvictionReportingStore,
  LockingStore,
  OutputCacheStore,
  RemoteEviction,
  SoftEvictingStore,
  StaleSelector,
  StoreEvictionCause,
  SyncReadableStore,
  UsageReportingStore,
} from './stores/output-cache-store.interface.js';
export type {
  CacheEntry,
  CacheEntrySummary,
  HoleRef,
  StoredHeaders,
} from './stores/cache-entry.js';
export { decodeEntry, encodeEntry, ENTRY_FORMAT_VERSION } from './stores/entry-codec.js';
export { MemoryOutputCacheStore, type MemoryStoreOptions } from './stores/memory.store.js';
export type { CircuitBreakerOptions } from './stores/circuit-breaker.js';

// Errors.
export { CircuitOpenError } from './errors/circuit-open.error.js';
export { OutputCacheConfigError } from './errors/output-cache-config.error.js';
export { StoreTimeoutError } from './errors/store-timeout.error.js';
export { UnknownComponentError } from './errors/unknown-component.error.js';
