import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OutputCacheStatsSnapshot } from '../lib/index.js';
import type { AppName } from './apps.js';

/** Messages from the runner to the server process. */
export type HostRequest =
  | { id: number; type: 'start'; app: AppName }
  | { id: number; type: 'sample'; app: AppName }
  | { id: number; type: 'gc' }
  | { id: number; type: 'clear'; app: AppName }
  | { id: number; type: 'close' };

/** A request before it gets its id (Omit distributed over the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Replies of the server process. */
export type HostReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The server process's counters at one moment. */
export interface ServerSample {
  /** `process.cpuUsage()` of the server process (all threads), µs. */
  cpu: { user: number; system: number };
  /** CPU time of the main (JavaScript) thread alone, µs, 10 ms resolution; null off Linux. */
  mainThreadCpu: number | null;
  /** Time spent in garbage collection pauses since start, ms. */
  gcMs: number;
  rss: number;
  heapUsed: number;
  /** This library's counters in that app, or null when the app does not use it. */
  stats: OutputCacheStatsSnapshot | null;
}

/** One forked server process and its IPC requests. */
class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: any) => void; reject: (error: Error) => void }
  >();
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (reply: HostReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(reply.error));
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`bench server exited (code ${code}, signal ${signal})`));
      }
      this.pending.clear();
    });
  }

  request<T>(message: WithoutId<HostRequest>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.child.connected) {
        reject(new Error('bench server is not running'));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...message, id });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) {
      // A failed cleanup (a store's keys or tables left behind) is said, not fatal.
      await this.request({ type: 'close' }).catch((error: Error) =>
        console.error(`  [!] closing a bench server: ${error.message.split('\n')[0]}`),
      );
    }
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * The runner's handle on the apps. Each app runs in its own child process:
 * - the load generator (autocannon, in this process) does not share the app's event loop: on one
 *   thread they would compete for the same CPU and the client's cost would flatten every ratio;
 * - what one app leaves behind (a heap full of cache entries, process-wide hooks such as
 *   AsyncLocalStorage's) does not weigh on another app's numbers.
 */
export class AppHost {
  private readonly servers = new Map<AppName, { server: ServerProcess; url: Promise<string> }>();

  /**
   * `execArgv` adds Node flags to the server processes (e.g. `--cpu-prof`); they always get
   * `--expose-gc` so that the runner can collect garbage before each measured run.
   */
  constructor(private readonly execArgv: string[] = []) {}

  /** The base URL (`http://127.0.0.1:port`) of an app, started (and primed) on first use. */
  url(app: AppName): Promise<string> {
    return this.server(app).url;
  }

  async sample(app: AppName): Promise<ServerSample> {
    return this.server(app).server.request({ type: 'sample', app });
  }

  /** Runs a full garbage collection in the app's process. */
  async gc(app: AppName): Promise<void> {
    return this.server(app).server.request({ type: 'gc' });
  }

  /** Empties this library's store in an app; resolves how many entries went. */
  async clearOutputCache(app: AppName): Promise<number> {
    return this.server(app).server.request({ type: 'clear', app });
  }

  /** Closes every app and waits for the server processes to exit. */
  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map(({ server }) => server.close()));
    this.servers.clear();
  }

  private server(app: AppName): { server: ServerProcess; url: Promise<string> } {
    let entry = this.servers.get(app);
    if (!entry) {
      const entryPoint = fileURLToPath(new URL('./server.js', import.meta.url));
      const server = new ServerProcess(
        fork(entryPoint, [], {
          execArgv: [...process.execArgv, '--expose-gc', ...this.execArgv],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
      const url = server
        .request<{ port: number }>({ type: 'start', app })
        .then(({ port }) => `http://127.0.0.1:${port}`);
      entry = { server, url };
      this.servers.set(app, entry);
    }
    return entry;
  }
}
