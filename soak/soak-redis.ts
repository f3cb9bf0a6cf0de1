import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';

/**
 * The soak's own redis-server on a spare port: the soak kills it (SIGKILL), starts it again on
 * the same port, and pauses it (SIGSTOP/SIGCONT), which it must never do to a shared server.
 */
export class SoakRedis {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server and resolves once it answers PING. */
  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    let failure: Error | undefined;
    child.once('error', (e) => {
      failure = new Error(`cannot start redis-server (is it installed?): ${e.message}`);
    });
    // Generous: a loaded machine may take seconds to start a process.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (failure) throw failure;
      const probe = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => undefined); // a refused probe is expected while it starts
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch (error) {
        probe.disconnect();
        if (Date.now() > deadline) {
          throw new Error(`redis-server on ${this.port} did not start: ${String(error)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Kills the server at once, as a crash would; its data is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT'); // a paused server would not die of SIGKILL any later, but be safe
    child.kill('SIGKILL');
    await exited;
  }

  /** Freezes the server: connections stay open, nothing is answered. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }
}
