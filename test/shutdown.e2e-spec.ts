import type { ChildProcess } from 'node:child_process';
import request from 'supertest';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { buildSample, startSample } from './helpers/sample-process.js';
import { uniqueName } from './helpers/unique-name.js';

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
  beforeAll(() => buildSample(), 300_000); // a full tsc build: minutes on a loaded machine

  it('rule 13: SIGTERM ends an app on the tiered store with Redis unreachable (it was ignored)', async () => {
    // The sample refuses to start without Redis (its start-up check), so Redis goes away after
    // the start: the store then holds connections that retry, and a bus that lost its server.
    const redis = new ScratchRedis(await freePort());
    await redis.start();
    try {
      const { child, url } = await startSample({
        OUTPUT_CACHE_STORE: 'tiered',
        REDIS_URL: redis.url,
        SAMPLE_REDIS_PREFIX: `${uniqueName('oc_shutdown')}:`,
      });
      expect((await request(url).get('/')).status).toBe(200);
      await redis.kill();
      // Pages still answer (uncached) while Redis is down.
      expect((await request(url).get('/')).status).toBe(200);
      // Generous: shutdownTimeout is 2 s and each store bounds its close at about 1 s.
      const took = await terminate(child, 20_000);
      expect(took).toBeLessThan(20_000);
    } finally {
      await redis.kill();
    }
  }, 120_000);
});
