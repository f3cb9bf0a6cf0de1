import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { sleep } from './wait.js';

/** The Redis the tests use (the local server; REDIS_URL overrides). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A client to the test Redis, or a plain failure saying how to start it: never a silent skip. */
export async function connectRedis(): Promise<Redis> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis at ${REDIS_URL} is not answering (${String(error)}). Start it with ` +
        `"redis-server --daemonize yes --port 6379 --save ''" or set REDIS_URL.`,
    );
  }
  return client;
}

/** Deletes every key under a prefix. */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Deletes every key under `prefix` on the test Redis, through a connection of its own: what a
 * suite on the shared server runs before and after itself (its prefix from `uniqueName`).
 *
 * @example
 * ```ts
 * const prefix = `${uniqueName('oc_lock')}:`;
 * beforeAll(() => clearRedisPrefix(prefix));
 * afterAll(() => clearRedisPrefix(prefix));
 * ```
 */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  if (!prefix) throw new Error('clearRedisPrefix needs a prefix: it never empties the server');
  const admin = await connectRedis();
  try {
    await deletePrefix(admin, prefix);
  } finally {
    admin.disconnect();
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A throwaway redis-server on a spare port, which a test can kill and start again. */
export class ScratchRedis {
  private child: ChildProcess | undefined;
  /** @param args more server arguments (e.g. an append-only file, to survive a kill) */
  constructor(
    readonly port: number,
    private readonly args: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    const child = this.child;
    const failed = new Promise<never>((_, reject) =>
      child.once('error', (e) =>
        reject(new Error(`cannot start redis-server (is it installed?): ${e.message}`)),
      ),
    );
    const deadline = Date.now() + 5000;
    for (;;) {
      const probe = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await Promise.race([probe.connect().then(() => probe.ping()), failed]);
        probe.disconnect();
        return;
      } catch (error) {
        probe.disconnect();
        if (Date.now() > deadline)
          throw new Error(`redis-server on ${this.port} did not start: ${String(error)}`);
        await sleep(50);
      }
    }
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    // A killed server has a signalCode and no exitCode: either means it is gone already.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
