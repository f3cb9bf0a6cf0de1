/**
 * The external servers some bench groups use (Redis, PostgreSQL): where they are, a quick check
 * that they answer (a plain error when not), and their CPU time, so that the runner can tell the
 * store's own work from other load on the machine.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The PostgreSQL schema the bench's tables go into (created when missing). */
export const PG_SCHEMA = 'oc_bench';

/** Redis key prefix of this process: nothing another run (or a test) uses. */
export function redisPrefix(what: string): string {
  return `bench:${process.pid}:${what}:`;
}

/** Host and port of a URL, for messages (no credentials). */
function where(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '(default port)'}`;
  } catch {
    return '(unparsable URL)';
  }
}

function message(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return message(error.errors[0]);
  return error instanceof Error ? error.message || error.constructor.name : String(error);
}

/** Resolves when Redis answers PING; rejects with a one-line error otherwise. */
export async function checkRedis(url = REDIS_URL): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // The connection's own error (ECONNREFUSED…) says more than the failed command's.
  let connectionError: unknown;
  client.on('error', (error: unknown) => (connectionError ??= error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(
      `Redis at ${where(url)} is not reachable: ${message(connectionError ?? error)}`,
    );
  } finally {
    client.disconnect();
  }
}

/**
 * Connects to PostgreSQL and creates {@link PG_SCHEMA} when missing; resolves whether it was
 * created now (then {@link dropPgTables} may drop it again). Rejects with a one-line error.
 */
export async function preparePg(url = DATABASE_URL): Promise<boolean> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new Error(`PostgreSQL at ${where(url)} is not reachable: ${message(error)}`);
  }
  try {
    const { rowCount } = await client.query(
      'SELECT 1 FROM information_schema.schemata WHERE schema_name = $1',
      [PG_SCHEMA],
    );
    if (rowCount) return false;
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${PG_SCHEMA}"`);
    return true;
  } finally {
    await client.end();
  }
}

/** Drops tables of {@link PG_SCHEMA}, and the schema itself if asked and empty. */
export async function dropPgTables(
  tables: string[],
  dropSchema: boolean,
  url = DATABASE_URL,
): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    for (const table of tables)
      await client.query(`DROP TABLE IF EXISTS "${PG_SCHEMA}"."${table}"`);
    // RESTRICT: another run may have put tables there meanwhile; then the schema stays.
    if (dropSchema) {
      await client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" RESTRICT`).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

/** USER_HZ: 100 on every Linux Node runs on. */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system, µs) of every process of the machine whose command name is one of
 * `names` (`redis-server`, `postgres`), from /proc; null off Linux. Processes that exited
 * between two samples are not counted: compare samples taken around a run of steady
 * connections.
 */
export function processCpuMicros(names: readonly string[]): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (!names.includes(stat.slice(open + 1, close))) continue;
    const fields = stat.slice(close + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** Command names of the Redis and PostgreSQL server processes. */
export const REDIS_PROCESSES = ['redis-server'];
export const PG_PROCESSES = ['postgres'];
