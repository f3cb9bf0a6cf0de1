import { DataSource } from 'typeorm';
import {
  createOutputCacheMigration,
  OutputCacheTables1763700000000,
  TypeOrmOutputCacheStore,
  type TypeOrmStoreOptions,
} from '../../lib/typeorm.js';
import { keyHash } from '../../lib/stores/key-hash.js';
import {
  type OutputCacheTableNames,
  outputCacheTableNames,
} from '../../lib/stores/typeorm-output-cache.migration.js';
import {
  MARIADB_URL,
  POSTGRES_URL,
  prepareMariaDb,
  preparePostgresSchema,
} from '../helpers/databases.js';
import { describeStoreContract, makeEntry } from './store-contract.js';

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
    const schema = `oc_store_${tablePrefix.replace(/_+$/, '')}`;
    await preparePostgresSchema(schema);
    app = new DataSource({
      type: 'postgres',
      url: POSTGRES_URL,
      schema,
      migrations: [createOutputCacheMigration(tablePrefix)],
      migrationsRun: true,
    });
    await app.initialize();
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

for (const db of DATABASES) {
  describeStoreContract(
    `typeorm (${db})`,
    async () => {
      const opened = await openStore(db, 'oc_test_', { pruneInterval: 0 });
      return { store: opened.store, writeRaw: opened.writeRaw, close: opened.close };
    },
    { keepsBytes: true },
  );

  describe(`typeorm store on ${db}`, () => {
    let opened: OpenedStore;
    let store: TypeOrmOutputCacheStore;

    beforeAll(async () => {
      opened = await openStore(db, 'oc_spec_', { pruneInterval: 0.05, pruneBatchSize: 3 });
      store = opened.store;
    });
    afterAll(() => opened?.close());
    beforeEach(async () => {
      await store.clear();
    });

    it('deletes expired rows and their tags in the background, in batches', async () => {
      const now = Date.now();
      const short = Array.from({ length: 7 }, () =>
        makeEntry({ createdAt: now, expiresAt: now + 150 }),
      );
      const long = makeEntry();
      for (const entry of [...short, long]) await store.set(entry);
      expect(await opened.rowCount('entries')).toBe(8);
      expect(await opened.rowCount('tags')).toBe(16);
      // 7 expired rows with batches of 3: the pruner has to go round until a batch is short.
      await eventually(async () => (await opened.rowCount('entries')) === 1);
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
}

describe('typeorm store: tables, lifecycle and options', () => {
  const sqlite = () =>
    new DataSource({ type: 'better-sqlite3', database: ':memory:' }) as DataSource;

  it('ships a migration that creates the tables, and drops them on revert', async () => {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      migrations: [OutputCacheTables1763700000000, createOutputCacheMigration('shop_cache_')],
    });
    await dataSource.initialize();
    try {
      const ran = await dataSource.runMigrations();
      expect(ran.map((m) => m.name)).toEqual([
        'OutputCacheTables1763700000000',
        'OutputCacheTables_shop_cache_1763700000000',
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
        'output_cache_tags',
        'shop_cache_entries',
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
        ]),
      );

      // Without synchronize, the store runs on the migrated tables.
      const store = new TypeOrmOutputCacheStore({ dataSource, tablePrefix: 'shop_cache_' });
      const entry = makeEntry();
      await store.set(entry);
      expect((await store.get(entry.key))?.body.toString()).toBe(entry.body.toString());
      await store.close();

      await dataSource.undoLastMigration();
      await dataSource.undoLastMigration();
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
      await expect(store.init()).rejects.toThrow(/OutputCacheTables1763700000000 migration/);
      await expect(store.get('k')).rejects.toThrow(/synchronize: true/);
      // Not remembered: once the tables are there, the store works.
      const queryRunner = dataSource.createQueryRunner();
      await new OutputCacheTables1763700000000().up(queryRunner);
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
  });
});
