import { Redis } from 'ioredis';
import { describeRedisUrl, redisUrl } from '../cache/cache-store.factory.js';
import { preparePostgres } from '../database.config.js';
import type { ResolvedSampleAppOptions } from '../sample-app.options.js';

/** Longest wait for Redis to answer at start-up. */
const REDIS_CHECK_MS = 3_000;

/**
 * Checks, before the app is created, the services the sample was told to use, so that a wrong
 * `REDIS_URL` or `DATABASE_URL` stops the start with one line that says what to fix, instead of
 * stack traces on the first request (the stores connect lazily, and the cache treats a failing
 * store as a miss: the shop would run uncached without a word). Creates `DATABASE_SCHEMA` when
 * missing. Rejects with an `Error` whose message is that line.
 *
 * @example
 * ```ts
 * await checkSampleServices(resolveSampleAppOptions());
 * ```
 */
export async function checkSampleServices(options: ResolvedSampleAppOptions): Promise<void> {
  if (options.store === 'redis' || options.store === 'tiered') await checkRedis(redisUrl());
  await preparePostgres(options);
}

async function checkRedis(url: string): Promise<void> {
  const shown = describeRedisUrl(url);
  const fix = `fix REDIS_URL, start Redis there, or run with OUTPUT_CACHE_STORE=memory`;
  const notRedis = `REDIS_URL ${shown} is not a redis:// or rediss:// URL; write it as redis://host:6379`;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new Error(notRedis);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new Error(notRedis);
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REDIS_CHECK_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null, // one attempt: this is a check, not the store's connection
  });
  // The socket's error (ECONNREFUSED, ENOTFOUND) says more than connect()'s "Connection is
  // closed" that follows it.
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const why = (cause ?? (error as Error)).message;
    throw new Error(`cannot reach Redis at ${shown} (REDIS_URL): ${why}; ${fix}`);
  } finally {
    client.disconnect();
  }
}
