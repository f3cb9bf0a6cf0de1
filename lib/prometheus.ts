/**
 * `nestjs-output-cache/prometheus`: Prometheus metrics of the cache (prom-client, an optional
 * peer dependency, loaded when the module starts). Kept out of the main entry so that an app
 * without metrics never loads prom-client.
 */
export { OutputCacheMetricsModule } from './observability/output-cache-metrics.module.js';
export { OutputCacheMetrics } from './observability/output-cache-metrics.service.js';
export {
  DEFAULT_DURATION_BUCKETS,
  type OutputCacheMetricsOptions,
} from './observability/output-cache-metrics.options.js';
