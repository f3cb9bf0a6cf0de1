import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { TypeOrmOutputCacheStore } from '../lib/typeorm.js';
import { edge, EdgeController } from './fixtures/edge.controller.js';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { until } from './helpers/wait.js';

/** A schema of this suite's own: the two instances share its tables, and nothing else. */
const schema = 'oc_xinst_typeorm';

/**
 * An instance of the app on the TypeORM store: a DataSource of its own on the shared tables,
 * no bus, nothing shared but PostgreSQL.
 */
function instance(): Promise<TestApp> {
  return createTestApp({
    imports: [
      OutputCacheModule.forRoot({
        store: new TypeOrmOutputCacheStore({
          dataSourceOptions: { type: 'postgres', url: POSTGRES_URL, schema },
          synchronize: true,
          pruneInterval: 0,
        }),
        storeTimeout: 2,
      }),
    ],
    controllers: [EdgeController],
  });
}

describe('eviction across instances on the TypeORM store, no bus (e2e, real PostgreSQL)', () => {
  let a: TestApp;
  let b: TestApp;
  /** A look at the shared tables from outside both instances. */
  let db: DataSource;
  const get = (t: TestApp, path: string) => t.http().get(path).set('Host', 'shop.example');
  const notStored = (t: TestApp) =>
    t.app.get(OutputCacheProvider).stats().notStored['evicted-during-render'] ?? 0;
  const storedRows = async () =>
    Number((await db.query(`SELECT COUNT(*) AS n FROM "${schema}"."output_cache_entries"`))[0].n);

  beforeAll(async () => {
    await preparePostgresSchema(schema);
    a = await instance();
    b = await instance();
    db = new DataSource({ type: 'postgres', url: POSTGRES_URL, schema });
    await db.initialize();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.destroy();
  });
  beforeEach(async () => {
    edge.renders = 0;
    edge.gate = Promise.resolve();
    await a.app.get(OutputCacheProvider).invalidateAll();
  });

  const evictions: [string, (cache: OutputCacheProvider) => Promise<unknown>][] = [
    ['a tag', (cache) => cache.invalidateByTag('Thing:11')],
    ['the route', (cache) => cache.invalidateByRoute('Edge/thing')],
    ['a path prefix', (cache) => cache.invalidateByPrefix('/edge')],
    ['everything', (cache) => cache.invalidateAll()],
    // The TypeORM store has no soft eviction: a soft one is a hard one, and holds the same.
    ['a tag, softly', (cache) => cache.invalidateByTag('Thing:11', { soft: true })],
  ];

  it.each(evictions)(
    'a render under way on A is not stored once B evicted %s',
    async (_what, evict) => {
      const refusedBefore = notStored(a);
      let open!: () => void;
      edge.gate = new Promise<void>((resolve) => (open = resolve));
      const rendering = get(a, '/edge/thing').then((res) => res);
      await until(() => edge.renders === 1, 'A to start rendering');
      // The row changes and B evicts; the eviction call has returned.
      await evict(b.app.get(OutputCacheProvider));
      open();
      const old = await rendering;
      expect(old.text).toBe('<p>thing 1</p>'); // A's own client gets what A rendered
      // A's store write runs after the response: wait for it to be refused, or to land.
      await until(
        async () => notStored(a) > refusedBefore || (await storedRows()) > 0,
        'A to settle its store write',
      );
      expect(await storedRows()).toBe(0);
      expect(notStored(a)).toBe(refusedBefore + 1);
      // From now on no instance serves what the eviction overtook.
      for (const t of [a, b, a]) {
        const res = await get(t, '/edge/thing');
        expect(res.status).toBe(200);
        expect(res.text).not.toBe('<p>thing 1</p>');
      }
    },
  );

  it('a render that began after the eviction is stored and shared', async () => {
    await b.app.get(OutputCacheProvider).invalidateByTag('Thing:11');
    await get(a, '/edge/thing');
    await until(async () => (await storedRows()) === 1, 'A to store its page');
    const hit = await get(b, '/edge/thing');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe('<p>thing 1</p>');
  });
});
