import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import request from 'supertest';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { connectRedis, deletePrefix, freePort, REDIS_URL } from './helpers/redis.js';
import { sleep } from './helpers/wait.js';

const HOST = 'shop.example';
const PAGE = '/product/ridgeline-2-tent';
const preload = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'clock-offset.mjs'),
).href;

/** A sample shop instance on the plain Redis store (no bus), its clock offset by `offsetMs`. */
async function startInstance(port: number, offsetMs: number, dbDelayMs: number) {
  const child = spawn(process.execPath, ['--import', preload, 'dist-sample/sample-app/main.js'], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      PORT: String(port),
      OUTPUT_CACHE_STORE: 'redis',
      REDIS_URL,
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: 'oc_skew',
      SAMPLE_DB_DELAY_MS: String(dbDelayMs),
      CSRF_SECRET: 'skew-test',
      CLOCK_OFFSET_MS: String(offsetMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${output}`)), 30_000);
    child.stdout!.on('data', (d) => {
      output += d;
      if (String(d).includes('sample shop: http://')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`instance exited ${code}: ${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

describe('eviction across instances whose clocks disagree by 10 s (e2e, real processes)', () => {
  let a: { child: ChildProcess; url: string } | undefined;
  let b: { child: ChildProcess; url: string } | undefined;

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build:sample'], { stdio: 'ignore' });
    if (!existsSync('dist-sample/sample-app/main.js')) throw new Error('sample build failed');
    await preparePostgresSchema('oc_skew');
    const redis = await connectRedis();
    await deletePrefix(redis, 'shop:');
    redis.disconnect();
    // A is 5 s ahead and slow to render (each data access waits 250 ms); B is 5 s behind.
    a = await startInstance(await freePort(), 5_000, 250); // seeds the shared database
    b = await startInstance(await freePort(), -5_000, 0);
  }, 120_000);

  afterAll(async () => {
    for (const instance of [a, b]) instance?.child.kill('SIGTERM');
    await sleep(200);
    const redis = await connectRedis();
    await deletePrefix(redis, 'shop:');
    redis.disconnect();
  });

  const get = (url: string) => request(url).get(PAGE).set('Host', HOST);

  it('once B has committed a change, neither instance serves the page A rendered before it', async () => {
    const first = await get(b!.url);
    const productId = Number(/action="\/cart\/(\d+)"/.exec(first.text)![1]);
    const rename = (name: string) =>
      request(b!.url).patch(`/admin/products/${productId}`).set('Host', HOST).send({ name });

    let raced = false;
    for (let attempt = 1; attempt <= 3 && !raced; attempt++) {
      const before = `Skewed tent ${attempt}a`;
      const after = `Skewed tent ${attempt}b`;
      expect((await rename(before)).status).toBe(200); // evicts the page everywhere
      // A renders it again, slowly; B changes the product meanwhile, and its commit returns.
      const rendering = get(a!.url).then((res) => res);
      await sleep(400); // A has read the product by now (its first data access is at 250 ms)
      expect((await rename(after)).status).toBe(200);
      const old = await rendering;
      raced = old.text.includes(before); // A did render from the data before the change
      // From here on no instance serves what A rendered before the change.
      await sleep(300); // let A's late store write (if any) land
      for (const url of [a!.url, b!.url, a!.url, b!.url]) {
        const res = await get(url);
        expect(res.status).toBe(200);
        expect(res.text).toContain(after);
        expect(res.text).not.toContain(before);
      }
    }
    expect(raced).toBe(true); // the race was produced at least once
  }, 60_000);
});
