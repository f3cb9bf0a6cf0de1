import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import request from 'supertest';
import { freePort } from './helpers/redis.js';

/** The sample shop in its own process (it calls app.enableShutdownHooks()). */
async function startSample(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist-sample/sample-app/main.js'], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), SAMPLE_DB_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sample did not start: ${output}`)), 30_000);
    child.stdout!.on('data', (d) => {
      output += d;
      if (String(d).includes('sample shop: http://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`sample exited ${code}: ${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Sends SIGTERM and resolves how long the process took to exit (or rejects after `boundMs`). */
function terminate(child: ChildProcess, boundMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the process ignored SIGTERM for ${boundMs} ms`));
    }, boundMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    child.kill('SIGTERM');
  });
}

describe('shutdown (e2e, real processes)', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', 'build:sample'], { stdio: 'ignore' });
    if (!existsSync('dist-sample/sample-app/main.js')) throw new Error('sample build failed');
  }, 120_000);

  it('rule 13: SIGTERM ends an app on the tiered store with Redis unreachable (it was ignored)', async () => {
    const { child, url } = await startSample({
      OUTPUT_CACHE_STORE: 'tiered',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    // Pages still answer (uncached) while Redis is down.
    expect((await request(url).get('/')).status).toBe(200);
    // Generous: shutdownTimeout is 2 s and each store bounds its close at about 1 s.
    const took = await terminate(child, 20_000);
    expect(took).toBeLessThan(20_000);
  }, 60_000);
});
