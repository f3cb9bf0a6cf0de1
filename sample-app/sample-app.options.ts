import type { LoggerService, LogLevel } from '@nestjs/common';
import { randomBytes } from 'node:crypto';

/** Options of {@link createSampleApp} and `AppModule.forRoot`. */
export interface SampleAppOptions {
  /**
   * SQLite database file, or `':memory:'`. When omitted: PostgreSQL if `DATABASE_URL` is set,
   * else `sample-app.sqlite` in the working directory.
   */
  database?: string;
  /** Artificial latency of every data access, in ms (default `SAMPLE_DB_DELAY_MS` or 30). */
  dbDelayMs?: number;
  /** Nest logger setting, passed to `NestFactory.create`. */
  logger?: false | LogLevel[] | LoggerService;
  /**
   * Secret that signs CSRF tokens (default `CSRF_SECRET`, else random per process: tokens then
   * stop validating after a restart, and several instances need one shared secret).
   */
  csrfSecret?: string;
  /** Where pages are cached (default `OUTPUT_CACHE_STORE`, else `memory`). */
  store?: CacheStoreKind;
}

/** The stores the sample can run on (`OUTPUT_CACHE_STORE`). */
export type CacheStoreKind = 'memory' | 'redis' | 'typeorm' | 'tiered';
const STORE_KINDS: CacheStoreKind[] = ['memory', 'redis', 'typeorm', 'tiered'];

/** The sample's options with defaults applied, injectable anywhere in the app. */
export interface ResolvedSampleAppOptions {
  database: string | undefined;
  dbDelayMs: number;
  csrfSecret: string;
  store: CacheStoreKind;
}

export const SAMPLE_APP_OPTIONS = Symbol('SAMPLE_APP_OPTIONS');

export function resolveSampleAppOptions(options: SampleAppOptions = {}): ResolvedSampleAppOptions {
  const fromEnv = Number(process.env.SAMPLE_DB_DELAY_MS);
  const dbDelayMs = options.dbDelayMs ?? (Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 30);
  const csrfSecret =
    options.csrfSecret ?? process.env.CSRF_SECRET ?? randomBytes(32).toString('hex');
  const store = options.store ?? (process.env.OUTPUT_CACHE_STORE as CacheStoreKind) ?? 'memory';
  if (!STORE_KINDS.includes(store)) {
    throw new Error(`OUTPUT_CACHE_STORE must be one of ${STORE_KINDS.join(', ')}, got "${store}"`);
  }
  return { database: options.database, dbDelayMs, csrfSecret, store };
}
