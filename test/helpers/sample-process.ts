import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './redis.js';

/** A sample shop instance running in a process of its own. */
export interface SampleProcess {
  child: ChildProcess;
  url: string;
  port: number;
}

/** Builds the sample (and the library) as production runs them: compiled JavaScript. */
export function buildSample(): void {
  execFileSync('npm', ['run', 'build:sample'], { stdio: 'ignore' });
  if (!existsSync('dist-sample/sample-app/main.js')) throw new Error('sample build failed');
}

/**
 * Starts `dist-sample/sample-app/main.js` on a free port with `env` (over this process's own),
 * and resolves once it listens; `nodeArgs` go before the script (e.g. `--import` a preload);
 * it gives up after `startTimeoutMs` (60 s; the soak, starting three at once, gives 300 s).
 */
export async function startSample(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  startTimeoutMs = 60_000,
): Promise<SampleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, 'dist-sample/sample-app/main.js'], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), SAMPLE_DB_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sample on ${port} did not start in ${startTimeoutMs} ms: ${output}`)),
      startTimeoutMs, // a loaded machine takes its time to start Nest and seed
    );
    child.stdout!.on('data', (d) => {
      output += d;
      if (String(d).includes('sample shop: http://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`sample on ${port} exited ${code}: ${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, port };
}

/**
 * Stops a child process and resolves once it has exited (SIGTERM, then SIGKILL after
 * `graceMs`): an `afterAll` that waits for the exit instead of sleeping a guess.
 *
 * @example
 * ```ts
 * afterAll(() => Promise.all([a, b].map((s) => s && stopProcess(s.child))));
 * ```
 */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
