import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import request from 'supertest';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { connectRedis, deletePrefix, REDIS_URL } from './helpers/redis.js';
import { buildSample, type SampleProcess, startSample } from './helpers/sample-process.js';
import { sleep } from './helpers/wait.js';

const HOST = 'shop.example';
const PAGE = '/product/ridgeline-2-tent';
const preload = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'clock-offset.mjs'),
).href;

/** A sample shop instance on the plain Redis store (no bus), its clock offset by `offsetMs`. */
function startInstance(offsetMs: number, dbDelayMs: number): Promise<SampleProcess> {
  return startSample(
    {
      OUTPUT_CACHE_STORE: 'redis',
      REDIS_URL,
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: 'oc_skew',
      SAMPLE_DB_DELAY_MS: String(dbDelayMs),
      CSRF_SECRET: 'skew-test',
      CLOCK_OFFSET_MS: String(offsetMs),
    },
    ['--import', preload],
  );
}

describe('eviction across instances whose clocks disagree by 10 s (e2e, real processes)', () => {
  let a: SampleProcess | undefined;
  let b: SampleProcess | undefined;

  beforeAll(async () => {
    buildSample();
    await preparePostgresSchema('oc_skew');
    const redis = await connectRedis();
    await deletePrefix(redis, 'shop:');
    redis.disconnect();
    // A is 5 s ahead and slow to render (each data access waits 250 ms); B is 5 s behind.
    a = await startInstance(5_000, 250); // seeds the shared database
    b = await startInstance(-5_000, 0);
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
