import request from 'supertest';
import { dropPostgresSchema, POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import {
  buildSample,
  type SampleProcess,
  startSample,
  stopProcess,
} from './helpers/sample-process.js';
import { uniqueName } from './helpers/unique-name.js';
import { eventually } from './helpers/wait.js';

const HOST = 'shop.example'; // one public host, as behind a load balancer
/** This run's own schema and Redis prefix (and so bus channel) on the shared servers. */
const schema = uniqueName('oc_cluster');
const prefix = `${uniqueName('shop_cluster')}:`;

/**
 * One instance of the sample shop in its own process, on the tiered store. Its L1 copies are
 * served for an hour without asking Redis: only the bus can make B drop one.
 */
function startInstance(): Promise<SampleProcess> {
  return startSample({
    OUTPUT_CACHE_STORE: 'tiered',
    REDIS_URL,
    SAMPLE_REDIS_PREFIX: prefix,
    SAMPLE_L1_REVALIDATE: '3600',
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
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
    await preparePostgresSchema(schema);
    await clearRedisPrefix(prefix);
    a = await startInstance(); // seeds the shared database
    b = await startInstance();
    urlA = a.url;
    urlB = b.url;
  }, 300_000); // a full tsc build and two app starts: minutes on a loaded machine

  afterAll(async () => {
    await Promise.all([a, b].map((instance) => instance && stopProcess(instance.child)));
    await clearRedisPrefix(prefix);
    await dropPostgresSchema(schema);
  });

  const get = (url: string, path: string) => request(url).get(path).set('Host', HOST);

  it("shares pages through Redis, and an entity change on one reaches the other's memory through the bus", async () => {
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
    // "Within 100 ms" was a duration a busy machine breaks; the property behind it is that B's
    // memory copy goes because of the bus: B serves its L1 copy for an hour otherwise
    // (SAMPLE_L1_REVALIDATE), so seeing the change at all proves the bus did it. The wait only
    // tells a lost message from a slow machine.
    const fresh = await eventually(
      () => get(urlB, page),
      (res) => res.text.includes('cluster edition'),
      "B to serve the change made on A (the bus message to evict B's copy)",
      15_000,
    );
    expect(fresh.status).toBe(200);
    expect(fresh.text).toContain('cluster edition');
  }, 60_000);
});
