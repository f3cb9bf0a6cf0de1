import { type DynamicModule, Module } from '@nestjs/common';
import {
  checkMetricsOptions,
  OUTPUT_CACHE_METRICS_OPTIONS,
  type OutputCacheMetricsOptions,
} from './output-cache-metrics.options.js';
import { OutputCacheMetrics } from './output-cache-metrics.service.js';

/**
 * Prometheus metrics of the output cache (`nestjs-output-cache/prometheus`; needs the optional
 * peer dependency `prom-client`). Import it next to `OutputCacheModule`; serve the registry at
 * `/metrics` with a controller of the app (inject {@link OutputCacheMetrics} for its registry).
 *
 * @example
 * ```ts
 * import { OutputCacheMetricsModule } from 'nestjs-output-cache/prometheus';
 *
 * @Module({
 *   imports: [OutputCacheModule.forRoot(), OutputCacheMetricsModule.forRoot()],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class OutputCacheMetricsModule {
  /** The metrics on `options.registry` (default: prom-client's default registry). */
  static forRoot(options: OutputCacheMetricsOptions = {}): DynamicModule {
    return {
      module: OutputCacheMetricsModule,
      providers: [
        { provide: OUTPUT_CACHE_METRICS_OPTIONS, useValue: checkMetricsOptions(options) },
        OutputCacheMetrics,
      ],
      exports: [OutputCacheMetrics],
    };
  }
}
