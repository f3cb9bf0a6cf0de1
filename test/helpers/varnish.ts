import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';
import { stopProcess } from './sample-process.js';
import { until } from './wait.js';

/** The recipe the tests run Varnish with. */
export const VARNISH_VCL = 'docs/varnish/output-cache.vcl';

/** A `varnishd` started by a test, in front of one backend. */
export interface VarnishProcess {
  child: ChildProcess;
  /** Where Varnish listens: `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** What varnishd wrote so far (for failure messages). */
  log(): string;
  /** Stops varnishd and removes its working directory. */
  stop(): Promise<void>;
}

/** The path of `varnishd`, or a failure that says how to get it (never a silent skip). */
export function varnishdBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v varnishd'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'varnishd is not installed: this test runs Varnish in front of the app. Install it with ' +
        '`apt-get install -y varnish` (.ci/run does), then run the test again.',
    );
  }
}

/**
 * Starts Debian's `varnishd` in the foreground with {@link VARNISH_VCL}, its backend port replaced
 * by `backendPort`, on `port` (a free one when omitted: pass one chosen beforehand when the app
 * must know where to send its bans before Varnish starts). Runs as the current user (`-j none`),
 * without a management port (`-T none`) and with a working directory of its own, so that several
 * runs never clash. Resolves once a request through Varnish reached the backend.
 *
 * @example
 * ```ts
 * const varnish = await startVarnish({ backendPort: 3000 });
 * await fetch(`${varnish.url}/api/products/titan-stove`);
 * await varnish.stop();
 * ```
 */
export async function startVarnish(options: {
  backendPort: number;
  port?: number;
}): Promise<VarnishProcess> {
  const binary = varnishdBinary();
  const port = options.port ?? (await freePort());
  const workDir = mkdtempSync(join(tmpdir(), 'oc-varnish-'));
  const vcl = readFileSync(VARNISH_VCL, 'utf8').replace(
    /\.port = "3000";/,
    `.port = "${options.backendPort}";`,
  );
  if (!vcl.includes(`.port = "${options.backendPort}";`)) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`${VARNISH_VCL} no longer has the backend line .port = "3000";`);
  }
  writeFileSync(join(workDir, 'output-cache.vcl'), vcl);
  const child = spawn(
    binary,
    [
      '-F',
      '-j',
      'none', // stays the user running the test (no jail: no root needed)
      '-a',
      `127.0.0.1:${port}`,
      '-T',
      'none', // no management port to clash with other runs
      '-f',
      join(workDir, 'output-cache.vcl'),
      '-n',
      join(workDir, 'instance'),
      '-s',
      'malloc,32m',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(child);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`varnishd exited: ${output}`);
        try {
          // Any answer but Varnish's own 503 ("backend fetch failed") came from the backend.
          return (await fetch(`${url}/varnish-ready`)).status !== 503;
        } catch {
          return false;
        }
      },
      `varnishd to listen on ${port} and reach the backend on ${options.backendPort}`,
      30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, url, port, log: () => output, stop };
}
