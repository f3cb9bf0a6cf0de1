import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  createOutputCacheClockMigration,
  createOutputCacheMigration,
  OutputCacheClock1764600000000,
  OutputCacheTables1763700000000,
  TypeOrmOutputCacheStore,
  type TypeOrmStoreOptions,
} from '../../lib/typeorm.js';
import type { CacheEntry } from '../../lib/index.js';
import { encodeEntry } from '../../lib/stores/entry-codec.js';
import { keyHash } from '../../lib/stores/key-hash.js';
import {
  hasRenderedAtColumn,
  type OutputCacheTableNames,
  outputCacheTableNames,
} from '../../lib/stores/typeorm-output-cache.migration.js';
import {
  MARIADB_URL,
  POSTGRES_URL,
  prepareMariaDb,
  preparePostgresSchema,
} from '../helpers/databases.js';
import { uniqueName } from '../helpers/unique-name.js';
import {
  checkEvictionClock,
  describeOutputCacheStore,
  makeTestEntry as makeEntry,
} from '../../lib/testing.js';

/** Table prefixes (and so schemas) unique to this run: parallel runs share the servers. */
const RUN = uniqueName('oc');
const prefixOf = (name: string) => `${RUN}_${name}`;

const schemaOf = (tablePrefix: string) => `oc_store_${tablePrefix.replace(/_+$/, '')}`;

/** The app's PostgreSQL DataSource, on a schema of its own, with the cache's migrations run. */
async function postgresWithMigrations(tablePrefix: string): Promise<DataSource> {
  const schema = schemaOf(tablePrefix);
  await preparePostgresSchema(schema);
  const dataSource = new DataSource({
    type: 'postgres',
    url: POSTGRES_URL,
    schema,
    migrations: [
      createOutputCacheMigration(tablePrefix),
      createOutputCacheClockMigration(tablePrefix),
    ],
    migrationsRun: true,
  });
  await dataSource.initialize();
  return dataSource;
}

type Db = 'sqlite' | 'postgres' | 'mariadb';

interface OpenedStore {
  store: TypeOrmOutputCacheStore;
  /** The DataSource the store runs on (its own one is read from it once it connected). */
  dataSource: () => DataSource;
  tables: () => OutputCacheTableNames;
  rowCount: (table: 'entries' | 'tags') => Promise<number>;
  writeRaw: (key: string, bytes: Buffer) => Promise<void>;
  close: () => Promise<void>;
}

/** The DataSource a store created for itself: the tests look at its tables through it. */
function ownDataSourceOf(store: TypeOrmOutputCacheStore): DataSource {
  const dataSource = (store as unknown as { dataSource?: DataSource }).dataSource;
  if (!dataSource) throw new Error('the store has not connected yet');
  return dataSource;
}

/**
 * A store on `db`: SQLite in memory with a DataSource of the store's own (tables by
 * `synchronize`); PostgreSQL as an application would have it (its DataSource, the shipped
 * migration run on initialize); MariaDB on the application's DataSource with `synchronize`.
 * Closing checks that the store leaves an application's DataSource alone and destroys its own.
 */
async function openStore(
  db: Db,
  tablePrefix: string,
  options: Partial<TypeOrmStoreOptions> = {},
): Promise<OpenedStore> {
  let app: DataSource | undefined;
  let store: TypeOrmOutputCacheStore;
  if (db === 'sqlite') {
    store = new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'better-sqlite3', database: ':memory:' },
      tablePrefix,
      synchronize: true,
      ...options,
    });
  } else if (db === 'postgres') {
    app = await postgresWithMigrations(tablePrefix);
    store = new TypeOrmOutputCacheStore({ dataSource: app, tablePrefix, ...options });
  } else {
    await prepareMariaDb(tablePrefix);
    app = new DataSource({ type: 'mariadb', url: MARIADB_URL });
    await app.initialize();
    store = new TypeOrmOutputCacheStore({
      dataSource: app,
      tablePrefix,
      synchronize: true,
      ...options,
    });
  }
  const dataSource = () => app ?? ownDataSourceOf(store);
  const tables = () => outputCacheTableNames(dataSource(), tablePrefix);
  const param = (n: number) => (db === 'postgres' ? `$${n}` : '?');
  return {
    store,
    dataSource,
    tables,
    async rowCount(table) {
      const rows = await dataSource().query(`SELECT COUNT(*) AS n FROM ${tables()[table]}`);
      return Number(rows[0].n);
    },
    async writeRaw(key, bytes) {
      await dataSource().query(
        `UPDATE ${tables().entries} SET data = ${param(1)} WHERE key_hash = ${param(2)}`,
        [bytes, keyHash(key)],
      );
    },
    async close() {
      const own = app ? undefined : ownDataSourceOf(store);
      await store.close();
      if (app) {
        expect(app.isInitialized).toBe(true);
        await app.destroy();
      } else {
        expect(own?.isInitialized).toBe(false);
      }
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const DATABASES: Db[] = ['sqlite', 'postgres', 'mariadb'];

/** Two instances of the store on the same tables, as two processes of an app would have them. */
interface StorePair {
  a: TypeOrmOutputCacheStore;
  b: TypeOrmOutputCacheStore;
  tables: OutputCacheTableNames;
  /** Runs SQL written with `?` placeholders on the tables (numbered for PostgreSQL). */
  query: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  close: () => Promise<void>;
}

/**
 * A and B: SQLite in a file, each store with a connection of its own (tables by
 * `synchronize` on A); PostgreSQL with A on the application's DataSource (both migrations
 * run) and B on a DataSource of its own; MariaDB likewise, with `synchronize` on A.
 */
async function openPair(db: Db, tablePrefix: string): Promise<StorePair> {
  let app: DataSource | undefined;
  let a: TypeOrmOutputCacheStore;
  let b: TypeOrmOutputCacheStore;
  let removeFiles = () => {};
  const common = { tablePrefix, pruneInterval: 0 };
  if (db === 'sqlite') {
    const file = join(tmpdir(), `oc-clock-${process.pid}-${tablePrefix}.sqlite`);
    removeFiles = () => {
      for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    };
    removeFiles();
    const options = { type: 'better-sqlite3', database: file } as const;
    a = new TypeOrmOutputCacheStore({ dataSourceOptions: options, synchronize: true, ...common });
    await a.init();
    b = new TypeOrmOutputCacheStore({ dataSourceOptions: options, ...common });
  } else if (db === 'postgres') {
    app = await postgresWithMigrations(tablePrefix);
    a = new TypeOrmOutputCacheStore({ dataSource: app, ...common });
    b = new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'postgres', url: POSTGRES_URL, schema: schemaOf(tablePrefix) },
      ...common,
    });
  } else {
    await prepareMariaDb(tablePrefix);
    app = new DataSource({ type: 'mariadb', url: MARIADB_URL });
    await app.initialize();
    a = new TypeOrmOutputCacheStore({ dataSource: app, synchronize: true, ...common });
    await a.init();
    b = new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'mariadb', url: MARIADB_URL },
      ...common,
    });
  }
  await a.init();
  await b.init();
  const dataSource = app ?? ownDataSourceOf(a);
  return {
    a,
    b,
    tables: outputCacheTableNames(dataSource, tablePrefix),
    query: (sql, params = []) => {
      let n = 0;
      const text = db === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
      return dataSource.query(text, params);
    },
    async close() {
      await a.close();
      await b.close();
      await app?.destroy();
      removeFiles();
    },
  };
}

/** Records an eviction on the clock without deleting anything (an eviction cut short). */
function markOnly(store: TypeOrmOutputCacheStore, names: string[]): Promise<number> {
  return (store as unknown as { mark(names: string[]): Promise<number> }).mark(names);
}

/** The columns a store wrote before the eviction clock. */
const PRE_CLOCK_COLUMNS =
  'key_hash, cache_key, path, route_id, status, tags, data, size, created_at, expires_at';

/** Writes `entry` as a store made before the eviction clock did: no rendered_at. */
async function insertPreClockRow(
  dataSource: DataSource,
  tables: OutputCacheTableNames,
  entry: CacheEntry,
): Promise<void> {
  let n = 0;
  const param = () => (tables.dialect === 'postgres' ? `$${++n}` : '?');
  const values = Array.from({ length: 10 }, param).join(', ');
  await dataSource.query(
    `INSERT INTO ${tables.entries} (${PRE_CLOCK_COLUMNS}) VALUES (${values})`,
    [
      keyHash(entry.key),
      entry.key,
      entry.path,
      entry.routeId,
      entry.status,
      JSON.stringify(entry.tags),
      encodeEntry(entry),
      entry.body.length,
      entry.createdAt,
      entry.expiresAt,
    ],
  );
  for (const tag of entry.tags) {
    n = 0;
    await dataSource.query(
      `INSERT INTO ${tables.tags} (tag, key_hash) VALUES (${param()}, ${param()})`,
      [tag, keyHash(entry.key)],
    );
  }
}

for (const db of DATABASES) {
  let contract: OpenedStore | undefined;
  describeOutputCacheStore<TypeOrmOutputCacheStore>(`typeorm (${db})`, {
    create: async () => {
      contract = await openStore(db, prefixOf('test_'), { pruneInterval: 0 });
      return contract.store;
    },
    destroy: () => contract?.close(),
    // Across two instances: `eviction clock on ${db}` below.
    capabilities: ['evictionClock'],
    writeRaw: (_store, key, bytes) => contract!.writeRaw(key, bytes),
    markOnly: (store, tags) =>
      markOnly(
        store,
        tags.map((t) => `t:${t}`),
      ),
  });

  describe(`typeorm store on ${db}`, () => {
    let opened: OpenedStore;
    let store: TypeOrmOutputCacheStore;

    beforeAll(async () => {
      opened = await openStore(db, prefixOf('spec_'), { pruneInterval: 0.05, pruneBatchSize: 3 });
      store = opened.store;
    });
    afterAll(() => opened?.close());
    beforeEach(async () => {
      await store.clear();
    });

    it('deletes expired rows and their tags in the background, in batches', async () => {
      const now = Date.now();
      const short = Array.from({ length: 7 }, () =>
        makeEntry({ createdAt: now, expiresAt: now + 1000 }),
      );
      const long = makeEntry();
      for (const entry of [...short, long]) await store.set(entry);
      const rows = await opened.rowCount('entries');
      const tags = await opened.rowCount('tags');
      // Counted before they expired, none is pruned yet (a loaded machine may be later than that).
      if (Date.now() < now + 1000) expect([rows, tags]).toEqual([8, 16]);
      // 7 expired rows with batches of 3: the pruner has to go round until a batch is short.
      await eventually(async () => (await opened.rowCount('entries')) === 1, 15_000);
      expect(await opened.rowCount('tags')).toBe(2);
      expect(await store.get(long.key)).toBeDefined();
    });

    it('keeps one tag row per distinct tag, replaced on every set', async () => {
      const entry = makeEntry({ tags: ['a', 'b', 'a'] });
      await store.set(entry);
      expect(await opened.rowCount('tags')).toBe(2);
      await store.set({ ...entry, tags: ['c'] });
      expect(await opened.rowCount('tags')).toBe(1);
      expect(await store.delete(entry.key)).toBe(true);
      expect(await opened.rowCount('tags')).toBe(0);
    });

    it('matches tags and path prefixes case-sensitively, wildcards literally', async () => {
      const upper = makeEntry({ path: '/Blog/post', tags: ['Product:1'] });
      const lower = makeEntry({ path: '/blog/post', tags: ['product:1'] });
      const underscore = makeEntry({ path: '/a_c/1' });
      const letter = makeEntry({ path: '/abc/1' });
      const star = makeEntry({ path: '/s*[t]?/1' });
      const other = makeEntry({ path: '/st/1' });
      for (const e of [upper, lower, underscore, letter, star, other]) await store.set(e);
      expect(await store.evictTags(['Product:1'])).toBe(1);
      expect(await store.get(lower.key)).toBeDefined();
      expect(await store.evictPrefix('/BLOG')).toBe(0);
      expect(await store.evictPrefix('/blog')).toBe(1);
      expect(await store.evictPrefix('/a_c')).toBe(1);
      expect(await store.get(letter.key)).toBeDefined();
      expect(await store.evictPrefix('/s*[t]?')).toBe(1);
      expect(await store.get(other.key)).toBeDefined();
    });

    it('lists newest first, with the tags in the order of the entry', async () => {
      const now = Date.now();
      const older = makeEntry({ createdAt: now - 2000, tags: ['z', 'a', 'route:X/x'] });
      const newer = makeEntry({ createdAt: now - 1000, status: 203 });
      await store.set(newer);
      await store.set(older);
      const [first, second] = await store.list({ skip: 0, take: 10 });
      expect(first).toMatchObject({ key: newer.key, status: 203, createdAt: newer.createdAt });
      expect(second).toMatchObject({ key: older.key, tags: ['z', 'a', 'route:X/x'] });
      expect(await store.list({ skip: 1, take: 1 })).toHaveLength(1);
      expect(await store.list({ skip: 0, take: 0 })).toEqual([]);
    });

    it('evicts more entries than a batch holds', async () => {
      const entries = Array.from({ length: 8 }, () => makeEntry({ tags: ['bulk'] }));
      for (const e of entries) await store.set(e);
      expect(await store.evictTags(['bulk', 'unknown'])).toBe(8);
      for (const e of entries) await store.set(e);
      expect(await store.evictPrefix('/')).toBe(8);
      for (const e of entries) await store.set(e);
      expect(await store.clear()).toBe(8);
      expect(await opened.rowCount('tags')).toBe(0);
    });

    // As hex text, MySQL's text protocol would send twice that: over MariaDB's default 16 MiB
    // max_allowed_packet. The store sends the entry through the binary protocol instead.
    it('keeps an entry larger than half of a 16 MiB packet', async () => {
      const body = Buffer.alloc(9 * 1024 * 1024, 'z');
      const entry = makeEntry({ body });
      await store.set(entry);
      expect((await store.get(entry.key))?.body.equals(body)).toBe(true);
    });

    it('does not store an entry that has already expired', async () => {
      const entry = makeEntry({ expiresAt: Date.now() - 1 });
      await store.set(entry);
      expect(await opened.rowCount('entries')).toBe(0);
    });
  });

  describe(`eviction clock on ${db}`, () => {
    let pair: StorePair;
    let a: TypeOrmOutputCacheStore;
    let b: TypeOrmOutputCacheStore;

    beforeAll(async () => {
      pair = await openPair(db, prefixOf('clock_'));
      ({ a, b } = pair);
    });
    afterAll(() => pair?.close());
    beforeEach(async () => {
      await a.clear();
    });

    const generationOf = async (name: string) => {
      const rows = await pair.query(
        `SELECT generation FROM ${pair.tables.generations} WHERE name = ?`,
        [name],
      );
      return rows.length === 0 ? undefined : Number(rows[0].generation);
    };

    it('keeps an eviction clock shared by instances: an overtaken entry is refused, a later one kept', async () => {
      await checkEvictionClock(a, b);
    });

    it('keeps an entry that no eviction of what it carries overtook', async () => {
      const renderedAt = await a.clock();
      await b.evictTags(['Other:1']);
      await b.evictPrefix('/things/2');
      await b.evictPrefix('/Things'); // prefixes are case-sensitive
      await b.delete('k2');
      const entry = makeEntry({ key: 'k1', path: '/things/1', tags: ['Thing:1'], renderedAt });
      expect(await a.setIfCurrent(entry)).toBe(true);
      expect((await b.get('k1'))?.renderedAt).toBe(renderedAt);
    });

    it('never reads an entry that an eviction overtook, even where its deletions missed it', async () => {
      const cases: [string, string[]][] = [
        ['a tag', ['t:Thing:1']],
        ['its key', [`k:${keyHash('k1')}`]],
        ['a prefix of its path', ['p:/things/']],
        ['the empty prefix', ['p:']],
        ['everything', ['all']],
      ];
      for (const [what, names] of cases) {
        const renderedAt = await a.clock();
        const entry = makeEntry({ key: 'k1', path: '/things/1', tags: ['Thing:1'], renderedAt });
        const unclocked = makeEntry({ key: 'k2', path: '/things/2', tags: ['Thing:1'] });
        expect(await a.setIfCurrent(entry)).toBe(true);
        await a.set(unclocked);
        await markOnly(b, names);
        expect({ what, read: await a.get('k1') }).toEqual({ what, read: undefined });
        // Deleted on the way, tag rows and all; an entry written without a clock stays.
        const rows = await pair.query(
          `SELECT COUNT(*) AS n FROM ${pair.tables.tags} WHERE key_hash = ?`,
          [keyHash('k1')],
        );
        expect({ what, rows: Number(rows[0].n) }).toEqual({ what, rows: 0 });
        expect({ what, count: await b.count() }).toEqual({ what, count: 1 });
        expect((await b.get('k2'))?.key).toBe('k2');
        await a.clear();
      }
    });

    it('prunes generations past the retention into a watermark that refuses older renders’ writes', async () => {
      const old = await a.clock();
      const entry = makeEntry({ key: 'k1', tags: ['Thing:1'], renderedAt: old });
      expect(await a.setIfCurrent(entry)).toBe(true);
      await b.evictTags(['Gone:1']);
      const gone = (await generationOf('t:Gone:1'))!;
      expect(gone).toBe(old + 1);
      // Marked 25 hours ago: the next eviction prunes it.
      await pair.query(`UPDATE ${pair.tables.generations} SET marked_at = ? WHERE name = ?`, [
        Date.now() - 25 * 60 * 60_000,
        't:Gone:1',
      ]);
      await b.evictTags(['Unrelated:1']);
      expect(await generationOf('t:Gone:1')).toBeUndefined();
      expect(await generationOf('w')).toBe(gone);
      // An entry that outlives the retention stays readable (nothing it carries was evicted);
      // a render older than the watermark cannot tell what it missed: it is not stored.
      expect((await a.get('k1'))?.key).toBe('k1');
      expect(await a.setIfCurrent({ ...entry, renderedAt: old })).toBe(false);
      expect(await a.setIfCurrent({ ...entry, renderedAt: await a.clock() })).toBe(true);
      // The watermark never goes back.
      await pair.query(`UPDATE ${pair.tables.generations} SET marked_at = 0 WHERE name = ?`, [
        't:Unrelated:1',
      ]);
      await pair.query(`UPDATE ${pair.tables.generations} SET generation = 1 WHERE name = ?`, [
        't:Unrelated:1',
      ]);
      await b.evictTags(['Another:1']);
      expect(await generationOf('w')).toBe(gone);
    });

    it('records a name too long for its column as everything', async () => {
      const renderedAt = await a.clock();
      await b.evictPrefix(`/${'x'.repeat(700)}`);
      expect(await generationOf('all')).toBe(renderedAt + 1);
      const entry = makeEntry({ key: 'k1', renderedAt });
      expect(await a.setIfCurrent(entry)).toBe(false);
    });

    if (db !== 'sqlite') {
      // Two connections of one process on one SQLite file would wait on each other's locks.
      it('hands out every clock value once while instances evict concurrently', async () => {
        const before = await a.clock();
        const tags = Array.from({ length: 20 }, (_, i) => `Race:${i}`);
        await Promise.all(tags.map((tag, i) => (i % 2 ? a : b).evictTags([tag])));
        expect(await b.clock()).toBe(before + 20);
        const generations = await Promise.all(tags.map((tag) => generationOf(`t:${tag}`)));
        expect(new Set(generations).size).toBe(20);
        for (const g of generations) {
          expect(g).toBeGreaterThan(before);
          expect(g).toBeLessThanOrEqual(before + 20);
        }
      });
    }
  });

  it(`upgrades tables made before the eviction clock on ${db}, keeping their entries`, async () => {
    let dataSource: DataSource;
    if (db === 'sqlite') {
      dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    } else if (db === 'postgres') {
      await preparePostgresSchema(prefixOf('store_upgrade'));
      dataSource = new DataSource({
        type: 'postgres',
        url: POSTGRES_URL,
        schema: prefixOf('store_upgrade'),
      });
    } else {
      await prepareMariaDb(prefixOf('upgrade_'));
      dataSource = new DataSource({ type: 'mariadb', url: MARIADB_URL });
    }
    await dataSource.initialize();
    const queryRunner = dataSource.createQueryRunner();
    try {
      // By migration: the tables migration ran long ago, the clock migration runs now.
      const migrated = outputCacheTableNames(dataSource, prefixOf('upgrade_m_'));
      await new (createOutputCacheMigration(prefixOf('upgrade_m_')))().up(queryRunner);
      const old = makeEntry({ tags: ['Old:1'] });
      await insertPreClockRow(dataSource, migrated, old);
      const store = new TypeOrmOutputCacheStore({
        dataSource,
        tablePrefix: prefixOf('upgrade_m_'),
      });
      await expect(store.init()).rejects.toThrow(/OutputCacheClock1764600000000 migration/);
      const clockMigration = new (createOutputCacheClockMigration(prefixOf('upgrade_m_')))();
      expect(clockMigration.name).toBe(`OutputCacheClock_${prefixOf('upgrade_m_')}1764600000000`);
      await clockMigration.up(queryRunner);
      expect(await hasRenderedAtColumn(queryRunner, migrated)).toBe(true);
      // Entries without a clock value are read as they are, even after an eviction…
      await store.clear();
      await insertPreClockRow(dataSource, migrated, old);
      expect((await store.get(old.key))?.body.toString()).toBe(old.body.toString());
      // …and evicted as before.
      expect(await store.evictTags(['Old:1'])).toBe(1);
      const fresh = makeEntry({ renderedAt: await store.clock() });
      expect(await store.setIfCurrent(fresh)).toBe(true);
      expect((await store.get(fresh.key))?.renderedAt).toBe(fresh.renderedAt);
      await store.close();
      await clockMigration.down(queryRunner);
      expect(await hasRenderedAtColumn(queryRunner, migrated)).toBe(false);
      await new (createOutputCacheMigration(prefixOf('upgrade_m_')))().down(queryRunner);

      // By synchronize: it adds what the tables lack.
      const synced = outputCacheTableNames(dataSource, prefixOf('upgrade_s_'));
      await new (createOutputCacheMigration(prefixOf('upgrade_s_')))().up(queryRunner);
      await insertPreClockRow(dataSource, synced, old);
      const syncing = new TypeOrmOutputCacheStore({
        dataSource,
        tablePrefix: prefixOf('upgrade_s_'),
        synchronize: true,
      });
      expect((await syncing.get(old.key))?.key).toBe(old.key);
      expect(await hasRenderedAtColumn(queryRunner, synced)).toBe(true);
      expect(await syncing.clock()).toBe(0);
      await syncing.close();
      // Again on tables that have everything: nothing to add, nothing lost.
      const again = new TypeOrmOutputCacheStore({
        dataSource,
        tablePrefix: prefixOf('upgrade_s_'),
        synchronize: true,
      });
      expect((await again.get(old.key))?.key).toBe(old.key);
      await again.close();
    } finally {
      await queryRunner.release();
      await dataSource.destroy();
    }
  });
}

describe('typeorm store: tables, lifecycle and options', () => {
  const sqlite = () =>
    new DataSource({ type: 'better-sqlite3', database: ':memory:' }) as DataSource;

  it('ships a migration that creates the tables, and drops them on revert', async () => {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      migrations: [
        OutputCacheTables1763700000000,
        createOutputCacheMigration('shop_cache_'),
        OutputCacheClock1764600000000,
        createOutputCacheClockMigration('shop_cache_'),
      ],
    });
    await dataSource.initialize();
    try {
      const ran = await dataSource.runMigrations();
      expect(ran.map((m) => m.name)).toEqual([
        'OutputCacheTables1763700000000',
        'OutputCacheTables_shop_cache_1763700000000',
        'OutputCacheClock1764600000000',
        'OutputCacheClock_shop_cache_1764600000000',
      ]);
      const tables = async () =>
        (
          await dataSource.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' " +
              "AND name NOT IN ('migrations', 'sqlite_sequence') ORDER BY name",
          )
        ).map((row: { name: string }) => row.name);
      expect(await tables()).toEqual([
        'output_cache_entries',
        'output_cache_generations',
        'output_cache_tags',
        'shop_cache_entries',
        'shop_cache_generations',
        'shop_cache_tags',
      ]);
      const indexes = await dataSource.query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'output_cache_%'",
      );
      expect(indexes.map((row: { name: string }) => row.name)).toEqual(
        expect.arrayContaining([
          'output_cache_entries_expires_at_idx',
          'output_cache_entries_path_idx',
          'output_cache_tags_key_hash_idx',
          'output_cache_generations_marked_at_idx',
        ]),
      );

      // Without synchronize, the store runs on the migrated tables.
      const store = new TypeOrmOutputCacheStore({ dataSource, tablePrefix: 'shop_cache_' });
      const entry = makeEntry();
      await store.set(entry);
      expect((await store.get(entry.key))?.body.toString()).toBe(entry.body.toString());
      await store.close();

      for (let i = 0; i < 4; i++) await dataSource.undoLastMigration();
      expect(await tables()).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('says what to do when the tables are missing', async () => {
    const dataSource = sqlite();
    await dataSource.initialize();
    const store = new TypeOrmOutputCacheStore({ dataSource });
    try {
      await expect(store.init()).rejects.toThrow(
        /OutputCacheTables1763700000000 and OutputCacheClock1764600000000 migrations/,
      );
      await expect(store.get('k')).rejects.toThrow(/synchronize: true/);
      // Not remembered: once the tables are there, the store works.
      const queryRunner = dataSource.createQueryRunner();
      await new OutputCacheTables1763700000000().up(queryRunner);
      await expect(store.count()).rejects.toThrow(/OutputCacheClock1764600000000 migration/);
      await new OutputCacheClock1764600000000().up(queryRunner);
      await queryRunner.release();
      expect(await store.count()).toBe(0);
    } finally {
      await store.close();
      expect(dataSource.isInitialized).toBe(true);
      await dataSource.destroy();
    }
  });

  it('works without init(), and leaves an application DataSource initialized', async () => {
    const dataSource = sqlite();
    await dataSource.initialize();
    const store = new TypeOrmOutputCacheStore({ dataSource, synchronize: true });
    const entry = makeEntry({ path: '/Blog/post' });
    await store.set(entry);
    await store.set(makeEntry({ path: '/blog/post' }));
    // A store whose first call is a prefix eviction already knows its dialect (GLOB on SQLite).
    const fresh = new TypeOrmOutputCacheStore({ dataSource, pruneInterval: 0 });
    expect(await fresh.evictPrefix('/blog')).toBe(1);
    await fresh.close();
    expect(await store.count()).toBe(1);
    await store.onModuleDestroy();
    await store.close();
    expect(dataSource.isInitialized).toBe(true);
    expect(await dataSource.query('SELECT COUNT(*) AS n FROM output_cache_entries')).toEqual([
      { n: 1 },
    ]);
    await expect(store.get(entry.key)).rejects.toThrow(/closed/);
    await dataSource.destroy();
  });

  it('initializes and destroys a DataSource of its own with the module', async () => {
    const store = new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'better-sqlite3', database: ':memory:' },
      synchronize: true,
    });
    await store.onModuleInit();
    await store.init();
    const own = ownDataSourceOf(store);
    expect(own.isInitialized).toBe(true);
    await store.onModuleDestroy();
    expect(own.isInitialized).toBe(false);
  });

  it('lets the app start with its database down; calls fail until it is up', async () => {
    const store = new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' },
    });
    await expect(store.onModuleInit()).resolves.toBeUndefined();
    await expect(store.get('k')).rejects.toThrow(/could not connect/);
    await store.close();
  });

  it('refuses an application DataSource not initialized yet, then uses it', async () => {
    const dataSource = sqlite();
    const store = new TypeOrmOutputCacheStore({ dataSource, synchronize: true });
    await expect(store.count()).rejects.toThrow(/not initialized/);
    await dataSource.initialize();
    expect(await store.count()).toBe(0);
    await store.close();
    await dataSource.destroy();
  });

  it('refuses contradictory or unsafe options', () => {
    expect(() => new TypeOrmOutputCacheStore({})).toThrow(/dataSource or dataSourceOptions/);
    expect(
      () =>
        new TypeOrmOutputCacheStore({
          dataSource: sqlite(),
          dataSourceOptions: { type: 'better-sqlite3', database: ':memory:' },
        }),
    ).toThrow(/either/);
    expect(
      () => new TypeOrmOutputCacheStore({ dataSource: sqlite(), tablePrefix: 'x"; DROP' }),
    ).toThrow(/tablePrefix/);
    expect(() => new TypeOrmOutputCacheStore({ dataSource: sqlite(), pruneInterval: -1 })).toThrow(
      /pruneInterval/,
    );
    expect(() => createOutputCacheMigration('a-b')).toThrow(/tablePrefix/);
    expect(() => createOutputCacheClockMigration('a-b')).toThrow(/tablePrefix/);
  });
});
