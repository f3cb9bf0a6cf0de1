import type { LoggerService, LogLevel } from '@nestjs/common';

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
}

/** The sample's options with defaults applied, injectable anywhere in the app. */
export interface ResolvedSampleAppOptions {
  database: string | undefined;
  dbDelayMs: number;
}

export const SAMPLE_APP_OPTIONS = Symbol('SAMPLE_APP_OPTIONS');

export function resolveSampleAppOptions(options: SampleAppOptions = {}): ResolvedSampleAppOptions {
  const fromEnv = Number(process.env.SAMPLE_DB_DELAY_MS);
  const dbDelayMs = options.dbDelayMs ?? (Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 30);
  return { database: options.database, dbDelayMs };
}
