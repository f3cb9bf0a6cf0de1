import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import { freePort } from './redis.js';
import { sleep } from './wait.js';

/** Where a cluster node listens. */
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * A real Redis Cluster of three masters (no replicas) on spare ports, started by the test itself:
 * three `redis-server --cluster-enabled yes` children and `redis-cli --cluster create`. Missing
 * `redis-server` or `redis-cli` fails the test with a message saying how to install them (never a
 * silent skip). `stop()` kills the children and removes their directory.
 *
 * @example
 * ```ts
 * const cluster = new ScratchRedisCluster();
 * beforeAll(() => cluster.start(), 30_000);
 * afterAll(() => cluster.stop());
 * // new RedisOutputCacheStore({ cluster: { nodes: cluster.nodes } })
 * ```
 */
export class ScratchRedisCluster {
  private readonly children: ChildProcess[] = [];
  private readonly output = new Map<number, string>();
  private dir: string | undefined;
  private ports: number[] = [];
  private started = false;

  constructor(private readonly masters = 3) {}

  /** The startup nodes (every master). Throws before the cluster started. */
  get nodes(): ClusterNode[] {
    // Fail every test at once, with the start's own failure reported first, not after timeouts.
    if (!this.started) throw new Error('the Redis Cluster did not start: see the first failure');
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Starts the servers, creates the cluster, and resolves once every node says it is ok. */
  async start(): Promise<void> {
    requireBinaries();
    this.dir = mkdtempSync(join(tmpdir(), 'oc-redis-cluster-'));
    // Each node needs a client port and a cluster bus port (`cluster-port`; the default, port +
    // 10000, may be out of range or taken for an ephemeral port).
    const ports = await distinctFreePorts(this.masters * 2);
    this.ports = ports.slice(0, this.masters);
    this.ports.forEach((port, i) => this.spawnNode(port, ports[this.masters + i]));
    await Promise.all(this.ports.map((port) => this.waitForPing(port)));
    await this.create();
    await Promise.all(this.ports.map((port) => this.waitForClusterOk(port)));
    this.started = true;
  }

  /** A cluster client to it (ready), for checks a test makes beside the store. */
  async connect(options: ClusterOptions = {}): Promise<Cluster> {
    const client = new Cluster(this.nodes, options);
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('end', () => reject(new Error('cluster client ended before it was ready')));
    });
    return client;
  }

  /** Kills every node and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    this.children.length = 0;
    this.started = false;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private spawnNode(port: number, busPort: number): void {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-port',
        String(busPort),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(this.dir!, `nodes-${port}.conf`),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir!,
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.children.push(child);
    this.output.set(port, '');
    // Kept for the failure message, and read so that a full pipe never blocks the server.
    const keep = (data: Buffer) =>
      this.output.set(port, (this.output.get(port)! + data).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  private async waitForPing(port: number): Promise<void> {
    const child = this.children[this.ports.indexOf(port)];
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(
          `redis-server on ${port} exited (${child.exitCode}): ${this.output.get(port)}`,
        );
      }
      const probe = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`redis-server on ${port} did not start: ${String(error)}`);
        }
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  }

  private create(): Promise<void> {
    const args = [
      '--cluster',
      'create',
      ...this.ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ];
    return new Promise((resolve, reject) => {
      execFile('redis-cli', args, { timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}${stderr}`),
          );
        } else resolve();
      });
    });
  }

  private async waitForClusterOk(port: number): Promise<void> {
    const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const info = (await client.cluster('INFO')) as string;
        if (info.includes('cluster_state:ok')) return;
        if (Date.now() > deadline) {
          throw new Error(`the cluster node on ${port} never reached cluster_state:ok:\n${info}`);
        }
        await sleep(50);
      }
    } finally {
      client.disconnect();
    }
  }
}

/** Fails at once, saying how to get them, when `redis-server` or `redis-cli` is missing. */
function requireBinaries(): void {
  for (const binary of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `The Redis Cluster tests start a real cluster and need ${binary} (Redis 7 or later) on the ` +
          `PATH, which is ${probe.error ? 'missing' : 'failing'}: install Redis (for instance ` +
          `"apt-get install redis-server", which brings redis-cli too).`,
      );
    }
  }
}

/** `count` distinct spare ports on loopback. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
