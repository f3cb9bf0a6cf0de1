import type { Registry } from 'prom-client';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';

/** Injection token of the {@link OutputCacheMetricsOptions}. */
export const OUTPUT_CACHE_METRICS_OPTIONS = Symbol('OUTPUT_CACHE_METRICS_OPTIONS');

/**
 * Options of `OutputCacheMetricsModule.forRoot()` (`nestjs-output-cache/prometheus`).
 *
 * | option | default |
 * | --- | --- |
 * | `registry` | prom-client's default registry (`register`) |
 * | `prefix` | `''` (metrics are named `output_cache_...`) |
 * | `buckets` | `[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]` |
 *
 * @example
 * ```ts
 * OutputCacheMetricsModule.forRoot({ registry: new Registry(), prefix: 'shop_' })
 * ```
 */
export interface OutputCacheMetricsOptions {
  /** The registry the metrics join. Default: prom-client's default registry. */
  registry?: Registry;
  /** Put before every metric's name (`shop_` gives `shop_output_cache_requests_total`). */
  prefix?: string;
  /** Upper bounds (seconds) of `output_cache_request_duration_seconds`' buckets. */
  buckets?: number[];
}

/** The default buckets: hits take well under a millisecond, renders up to seconds. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** A metric name's prefix (Prometheus: `[a-zA-Z_:][a-zA-Z0-9_:]*`). */
const PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/**
 * Checks the options at start-up; a wrong one throws an {@link OutputCacheConfigError}.
 *
 * @example
 * ```ts
 * checkMetricsOptions({ prefix: 'shop-' }); // throws: a prefix of letters, digits, _ and :
 * ```
 */
export function checkMetricsOptions(options: unknown): OutputCacheMetricsOptions {
  const fail = (message: string): never => {
    throw new OutputCacheConfigError(`OutputCacheMetricsModule: ${message}`);
  };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return fail('the options must be an object, e.g. forRoot({ registry: new Registry() })');
  }
  const { registry, prefix, buckets, ...rest } = options as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    fail(`unknown option "${unknown[0]}". The options are registry, prefix, buckets.`);
  }
  if (
    registry !== undefined &&
    (registry === null ||
      typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function')
  ) {
    fail('option "registry" must be a prom-client Registry, e.g. registry: new Registry()');
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || !PREFIX.test(prefix))) {
    fail(
      `option "prefix" must be letters, digits, _ and : (not starting with a digit), got ${JSON.stringify(prefix)}. Example: prefix: 'shop_'`,
    );
  }
  if (buckets !== undefined) {
    const ok =
      Array.isArray(buckets) &&
      buckets.length > 0 &&
      buckets.every(
        (b, i) =>
          typeof b === 'number' &&
          Number.isFinite(b) &&
          b > 0 &&
          (i === 0 || b > (buckets[i - 1] as number)),
      );
    if (!ok) {
      fail(
        'option "buckets" must be increasing positive numbers of seconds. Example: buckets: [0.001, 0.01, 0.1, 1]',
      );
    }
  }
  return options as OutputCacheMetricsOptions;
}
