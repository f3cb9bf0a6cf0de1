import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import request from 'supertest';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { connectRedis, deletePrefix, freePort, REDIS_URL } from './helpers/redis.js';

const HOST = 'shop.example'; // one public host, as behind a load balancer
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One instance of the sample shop in its own process, on the tiered store. */
async function startInstance(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist-sample/sample-app/main.js'], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      PORT: String(port),
      OUTPUT_CACHE_STORE: 'tiered',
      REDIS_URL,
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: 'oc_cluster',
      SAMPLE_DB_DELAY_MS: '0',
      CSRF_SECRET: 'cluster-test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`instance on ${port} did not start: ${output}`)),
      30_000,
    );
    child.stdout!.on('data', (d) => {
      output += d;
      if (String(d).includes('sample shop: http://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`instance on ${port} exited ${code}: ${output}`)),
    );
  });
  return child;
}

describe('two app processes on the tiered store (e2e)', () => {
  let a: ChildProcess | undefined;
  let b: ChildProcess | undefined;
  let urlA = '';
  let urlB = '';

  beforeAll(async () => {
    // The instances run the compiled sample, as in production.
    execFileSync('npm', ['run', 'build:sample'], { stdio: 'ignore' });
    if (!existsSync('dist-sample/sample-app/main.js')) throw new Error('sample build failed');
    await preparePostgresSchema('oc_cluster');
    const redis = await connectRedis();
    await deletePrefix(redis, 'shop:');
    redis.disconnect();
    const [portA, portB] = [await freePort(), await freePort()];
    a = await startInstance(portA); // seeds the shared database
    b = await startInstance(portB);
    urlA = `http://127.0.0.1:${portA}`;
    urlB = `http://127.0.0.1:${portB}`;
  }, 90_000);

  afterAll(async () => {
    for (const child of [a, b]) child?.kill('SIGTERM');
    await sleep(200);
  });

  const get = (url: string, path: string) => request(url).get(path).set('Host', HOST);

  it('shares pages through Redis, and an entity change on one is fresh on the other within 100 ms', async () => {
    const page = '/product/ridgeline-2-tent';
    expect((await get(urlA, page)).headers['x-cache']).toBe('MISS');
    expect((await get(urlA, page)).headers['x-cache']).toBe('HIT'); // A's memory
    const onB = await get(urlB, page);
    expect(onB.headers['x-cache']).toBe('HIT'); // rendered by A, read from Redis
    expect((await get(urlB, page)).headers['x-cache']).toBe('HIT'); // now in B's memory

    const productId = Number(/action="\/cart\/(\d+)"/.exec(onB.text)![1]);

    const patched = await request(urlA)
      .patch(`/admin/products/${productId}`)
      .set('Host', HOST)
      .send({ name: 'Ridgeline 2 Tent (cluster edition)' });
    expect(patched.status).toBe(200);
    const changedAt = Date.now();
    let fresh = await get(urlB, page);
    while (!fresh.text.includes('cluster edition') && Date.now() - changedAt < 1000) {
      await sleep(5);
      fresh = await get(urlB, page);
    }
    const elapsed = Date.now() - changedAt;
    console.log(`instance B served the changed product ${elapsed} ms after the write on A`);
    expect(fresh.text).toContain('cluster edition');
    expect(elapsed).toBeLessThan(100);
  }, 30_000);
});
