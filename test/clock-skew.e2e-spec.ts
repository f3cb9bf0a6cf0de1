import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
import { sleep, until } from './helpers/wait.js';

const HOST = 'shop.example';
const PAGE = '/product/ridgeline-2-tent';
/** This run's own schema and Redis prefix on the shared servers. */
const schema = uniqueName('oc_skew');
const prefix = `${uniqueName('shop_skew')}:`;
const preload = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'clock-offset.mjs'),
).href;

/** A sample shop instance on the plain Redis store (no bus), its clock offset by `offsetMs`. */
function startInstance(offsetMs: number, dbDelayMs: number): Promise<SampleProcess> {
  return startSample(
    {
      OUTPUT_CACHE_STORE: 'redis',
      REDIS_URL,
      SAMPLE_REDIS_PREFIX: prefix,
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
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
    await preparePostgresSchema(schema);
    await clearRedisPrefix(prefix);
    // A is 5 s ahead and slow to render (each data access waits 250 ms); B is 5 s behind.
    a = await startInstance(5_000, 250); // seeds the shared database
    b = await startInstance(-5_000, 0);
  }, 300_000); // a full tsc build and two app starts: minutes on a loaded machine

  afterAll(async () => {
    await Promise.all([a, b].map((instance) => instance && stopProcess(instance.child)));
    await clearRedisPrefix(prefix);
    await dropPostgresSchema(schema);
  });

  const get = (url: string) => request(url).get(PAGE).set('Host', HOST);
  /** Renders A refused to store because an eviction overtook them (A's /metrics). */
  const refusedOnA = async () => {
    const metrics = (await request(a!.url).get('/metrics').set('Host', HOST)).text;
    const line =
      /output_cache_not_stored_total\{[^}]*reason="evicted-during-render"[^}]*\}\s+(\d+)/.exec(
        metrics,
      );
    return line ? Number(line[1]) : 0;
  };

  it('once B has committed a change, neither instance serves the page A rendered before it', async () => {
    const first = await get(b!.url);
    expect({ status: first.status, form: /action="\/cart\/\d+"/.test(first.text) }).toEqual({
      status: 200,
      form: true,
    });
    const productId = Number(/action="\/cart\/(\d+)"/.exec(first.text)![1]);
    const rename = (name: string) =>
      request(b!.url).patch(`/admin/products/${productId}`).set('Host', HOST).send({ name });

    let raced = false;
    // A reads the product after its first 250 ms data delay; the change must land after that
    // read and before A's store write. On a busy machine A may be late: each attempt waits
    // longer (the "A has read it" moment is not observable from outside, the outcome is).
    const waits = [400, 550, 700, 900, 1200, 1600];
    for (let attempt = 1; attempt <= waits.length && !raced; attempt++) {
      const before = `Skewed tent ${attempt}a`;
      const after = `Skewed tent ${attempt}b`;
      expect((await rename(before)).status).toBe(200); // evicts the page everywhere
      const refused = await refusedOnA();
      // A renders it again, slowly; B changes the product meanwhile, and its commit returns.
      const rendering = get(a!.url).then((res) => res);
      await sleep(waits[attempt - 1]); // pacing the race, not an assertion's margin
      expect((await rename(after)).status).toBe(200);
      const old = await rendering;
      raced = old.text.includes(before); // A did render from the data before the change
      // A's store write runs after its response: wait until A refused it (a write that landed
      // instead would be served below, and fail the test), not a guessed 300 ms.
      if (raced) await until(async () => (await refusedOnA()) > refused, "A's refused write");
      // From here on no instance serves what A rendered before the change.
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
