import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { freePort } from './helpers/redis.js';
import { stopProcess } from './helpers/sample-process.js';
import { sleep, until } from './helpers/wait.js';

const WORKER = 'test/fixtures/refresh-cluster.worker.mjs';

interface Answer {
  status: number;
  cache: string | undefined;
  /** The worker that rendered the page served (each worker has a memory store of its own). */
  pid: number;
  render: number;
}

/** The cluster: a primary and two workers sharing one port. */
async function startCluster(port: number): Promise<{ child: ChildProcess; pids: number[] }> {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  const pids = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cluster did not start: ${output}`)), 60_000);
    child.stdout!.on('data', (d) => {
      output += d;
      const ready = /ready (\d+) (\d+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve([Number(ready[1]), Number(ready[2])]);
      }
    });
    child.once('exit', (code) => reject(new Error(`cluster exited ${code}: ${output}`)));
  });
  return { child, pids };
}

describe('background refresh under node:cluster (e2e)', () => {
  let cluster: { child: ChildProcess; pids: number[] } | undefined;
  let port = 0;

  beforeAll(async () => {
    // The workers run the compiled library, as in production.
    execFileSync('npm', ['run', 'build:sample'], { stdio: 'ignore' });
    if (!existsSync('dist-sample/lib/index.js')) throw new Error('sample build failed');
    port = await freePort();
    cluster = await startCluster(port);
  }, 300_000); // a full tsc build and a cluster start: minutes on a loaded machine

  afterAll(async () => {
    if (cluster) await stopProcess(cluster.child);
  });

  /**
   * One GET on a connection of its own: the primary hands connections to the workers in turn,
   * so successive requests reach both.
   */
  function get(path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            const match = /rendered by (\d+), render (\d+)/.exec(body);
            if (!match) return reject(new Error(`unexpected answer ${res.statusCode}: ${body}`));
            resolve({
              status: res.statusCode!,
              cache: res.headers['x-cache'] as string | undefined,
              pid: Number(match[1]),
              render: Number(match[2]),
            });
          });
        })
        .on('error', reject);
    });
  }

  /** Requests `path` until `done` holds for what each worker answered (fails after `ms`). */
  async function pollWorkers(
    path: string,
    ms: number,
    seen: (answer: Answer) => void,
    done: () => boolean,
  ): Promise<void> {
    await until(
      async () => {
        if (done()) return true;
        seen(await get(path));
        return done();
      },
      `${path} to be answered as expected by every worker`,
      ms,
    );
  }

  it('every worker refreshes its own stale entry, in its own process', async () => {
    const { pids } = cluster!;
    // Both workers render the page once and keep it in their own memory store.
    const first = new Map<number, number>();
    await pollWorkers(
      '/cluster/graced',
      15_000,
      (a) => {
        expect(a.status).toBe(200);
        if (a.cache === 'MISS') first.set(a.pid, a.render);
      },
      () => first.size === pids.length,
    );
    expect([...first.keys()].sort()).toEqual([...pids].sort());

    // Past the 1 s TTL, inside the 60 s grace. The workers are processes of their own (no
    // TestClock there); a sleep is safe here: a busy machine only makes it longer, and the
    // 60 s of grace leave every margin.
    await sleep(1_200);
    const stale = new Set<number>();
    const refreshed = new Map<number, Answer>();
    // Generous: a refresh is one render in the same process, done in milliseconds.
    await pollWorkers(
      '/cluster/graced',
      20_000,
      (a) => {
        expect(a.status).toBe(200);
        // Nobody waits for a render: the stale page is served, the worker's refresh renders.
        expect(a.cache).not.toBe('MISS');
        if (refreshed.has(a.pid)) return;
        if (a.cache === 'STALE') {
          // The page this worker rendered before, while it refreshes it.
          expect(a.render).toBe(first.get(a.pid));
          stale.add(a.pid);
        } else if (a.cache === 'HIT' && a.render > first.get(a.pid)!) {
          refreshed.set(a.pid, a);
        }
      },
      () => refreshed.size === pids.length,
    );
    expect([...stale].sort()).toEqual([...pids].sort());
    expect([...refreshed.keys()].sort()).toEqual([...pids].sort());
  }, 60_000);

  it('treats a request with an x-output-cache-refresh header as an ordinary one', async () => {
    const { pids } = cluster!;
    const cached = new Map<number, number>();
    await pollWorkers(
      '/cluster/fixed',
      15_000,
      (a) => {
        if (a.cache === 'HIT') cached.set(a.pid, a.render);
      },
      () => cached.size === pids.length,
    );
    expect(cached.size).toBe(pids.length);
    for (const value of ['1', 'true', 'refresh', 'Ab3xZ9_token-of-another-process', '']) {
      for (let i = 0; i < pids.length; i++) {
        const forged = await get('/cluster/fixed', { 'x-output-cache-refresh': value });
        expect(forged.status).toBe(200);
        expect(forged.cache).toBe('HIT');
        expect(forged.render).toBe(cached.get(forged.pid)); // no render was forced
      }
    }
  }, 60_000);
});
