import request from 'supertest';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { connectRedis, deletePrefix, REDIS_URL } from './helpers/redis.js';
import { buildSample, type SampleProcess, startSample } from './helpers/sample-process.js';

const HOST = 'shop.example'; // one public host, as behind a load balancer
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One instance of the sample shop in its own process, on the tiered store. */
function startInstance(): Promise<SampleProcess> {
  return startSample({
    OUTPUT_CACHE_STORE: 'tiered',
    REDIS_URL,
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: 'oc_cluster',
    CSRF_SECRET: 'cluster-test',
  });
}

describe('two app processes on the tiered store (e2e)', () => {
  let a: SampleProcess | undefined;
  let b: SampleProcess | undefined;
  let urlA = '';
  let urlB = '';

  beforeAll(async () => {
    // The instances run the compiled sample, as in production.
    buildSample();
    await preparePostgresSchema('oc_cluster');
    const redis = await connectRedis();
    await deletePrefix(redis, 'shop:');
    redis.disconnect();
    a = await startInstance(); // seeds the shared database
    b = await startInstance();
    urlA = a.url;
    urlB = b.url;
  }, 90_000);

  afterAll(async () => {
    for (const instance of [a, b]) instance?.child.kill('SIGTERM');
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
