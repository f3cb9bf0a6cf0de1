import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { DataSource, DataSourceOptions, QueryRunner } from 'typeorm';
import { type CacheEntry, type CacheEntrySummary, retainUntil } from './cache-entry.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import { keyHash } from './key-hash.js';
import type { EvictionClockStore } from './output-cache-store.interface.js';
import {
  assertTablePrefix,
  createOutputCacheClockSql,
  createOutputCacheTablesSql,
  DEFAULT_OUTPUT_CACHE_TABLE_PREFIX,
  hasRenderedAtColumn,
  OUTPUT_CACHE_GENERATION_NAME_MAX,
  type OutputCacheSqlDialect,
  type OutputCacheTableNames,
  outputCacheTableNames,
} from './typeorm-output-cache.migration.js';

/** Options of {@link TypeOrmOutputCacheStore}: give `dataSource` or `dataSourceOptions`. */
export interface TypeOrmStoreOptions {
  /**
   * The application's DataSource, initialized (as `@nestjs/typeorm` provides it). The store only
   * runs raw SQL on it (no entity to register) and never destroys it. On SQLite prefer
   * `dataSourceOptions`: TypeORM runs every query of a SQLite DataSource on one connection, so
   * the store's transactions and the application's would share it.
   */
  dataSource?: DataSource;
  /** Options of a DataSource of the store's own: created on `init()`, destroyed on `close()`. */
  dataSourceOptions?: DataSourceOptions;
  /**
   * Prefix of the three tables (`{prefix}entries`, `{prefix}tags`, `{prefix}generations`).
   * Default `output_cache_`.
   */
  tablePrefix?: string;
  /**
   * Create the tables (and indexes) on `init()` if they are missing, and add what tables made
   * before the eviction clock lack. Default `false`: run the {@link OutputCacheTables1763700000000}
   * and {@link OutputCacheClock1764600000000} migrations instead; `init()` then checks.
   */
  synchronize?: boolean;
  /** Seconds between background deletions of expired rows; `0` turns them off. Default 60. */
  pruneInterval?: number;
  /** Rows deleted per statement (pruning, evictions, clear); 1–10,000. Default 500. */
  pruneBatchSize?: number;
}

/** Rows of a result as TypeORM gives them back with `useStructuredResult`. */
interface Result {
  records: Record<string, unknown>[];
  affected?: number;
}
type Run = (sql: string, params?: unknown[]) => Promise<Result>;

/** SQL written once per store, with `?` placeholders (rewritten to `$n` for PostgreSQL). */
interface Statements {
  /** The entry and whether an eviction overtook it (params: `k:{hash}`, hash, now). */
  get: string;
  upsert: string;
  deleteTagsOf: string;
  count: string;
  list: string;
  pathMatches: string;
  selectExpired: string;
  selectAny: string;
  selectOrphanTags: string;
  /** The clock now (no row: 0). */
  clock: string;
  /** Advances the clock by one (params: now); PostgreSQL returns the new value. */
  bumpClock: string;
  /** Generations marked before a time (params: time, limit): pruned into the watermark. */
  selectOldGenerations: string;
  /** Raises the watermark `w` to a pruned generation (params: generation, now). */
  raiseWatermark: string;
  /** Deletes the entry of a hash if still the render of a clock value (params: hash, value). */
  deleteRendered: string;
  /** The same for an entry written without a clock value (params: hash). */
  deleteUnclocked: string;
  /** Deletes the tag rows of a hash whose entry is gone (params: hash). */
  deleteOrphanTagsOf: string;
}

/** Most tags (or generation names) written per statement. */
const TAG_INSERT_BATCH = 500;
/** Attempts of a write that lost a deadlock or a serialization conflict. */
const WRITE_ATTEMPTS = 4;
/** How long a recorded generation is kept before the watermark stands in for it. */
const GENERATION_RETENTION_MS = 24 * 60 * 60_000;
/** Most generations pruned into the watermark per eviction (pruning never holds one up long). */
const GENERATION_PRUNE_BATCH = 100;

/**
 * A store on a SQL database through TypeORM (PostgreSQL, MySQL/MariaDB, SQLite): entries
 * survive restarts and are shared by every instance of the application. Runs raw SQL on three
 * tables, `{prefix}entries` (the encoded entry plus the columns that evictions and listings
 * read), `{prefix}tags` (the tag index) and `{prefix}generations` (the eviction clock); create
 * them with the {@link OutputCacheTables1763700000000} and {@link OutputCacheClock1764600000000}
 * migrations or `synchronize: true`. Expired rows are deleted in the background every
 * `pruneInterval` seconds.
 *
 * The eviction clock is shared by every instance, like the Redis store's: a counter in the
 * database (the `clock` row), advanced by every eviction before it deletes anything, which
 * records the new value as the generation of what it evicted (`t:{tag}`, `k:{key hash}`,
 * `p:{path prefix}`, `all`). A render notes the clock before it reads data, and its entry is
 * kept only if nothing it carries got a later generation (`setIfCurrent`); a read never returns
 * an entry that an eviction overtook. Generations older than ten minutes are pruned, the highest
 * becoming the watermark `w`, which overtakes any older render.
 *
 * Registered as the module's store it is initialized and closed with the application; used on
 * its own, every method initializes it on first use, and `close()` releases it.
 *
 * @example
 * ```ts
 * // the application's DataSource (TypeOrmModule.forRoot makes it injectable everywhere):
 * OutputCacheModule.forRootAsync({
 *   inject: [DataSource],
 *   useFactory: (dataSource: DataSource) => ({
 *     store: new TypeOrmOutputCacheStore({ dataSource }),
 *   }),
 * });
 * // or a database of its own:
 * new TypeOrmOutputCacheStore({
 *   dataSourceOptions: { type: 'better-sqlite3', database: 'cache.sqlite' },
 *   synchronize: true,
 * });
 * ```
 */
export class TypeOrmOutputCacheStore implements EvictionClockStore, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('OutputCache');
  private readonly tablePrefix: string;
  private readonly synchronize: boolean;
  private readonly pruneIntervalMs: number;
  private readonly batchSize: number;

  private dataSource?: DataSource;
  private ownDataSource?: DataSource;
  private tables?: OutputCacheTableNames;
  private sql?: Statements;
  private initializing?: Promise<void>;
  private ready = false;
  private closed = false;
  private pruneTimer?: NodeJS.Timeout;
  private pruning?: Promise<void>;
  /** SQLite writes, one after the other (see `exclusive`). */
  private sqliteQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: TypeOrmStoreOptions) {
    if (!options.dataSource === !options.dataSourceOptions) {
      throw new Error('TypeOrmOutputCacheStore needs either dataSource or dataSourceOptions');
    }
    this.tablePrefix = assertTablePrefix(options.tablePrefix ?? DEFAULT_OUTPUT_CACHE_TABLE_PREFIX);
    this.synchronize = options.synchronize ?? false;
    const interval = options.pruneInterval ?? 60;
    if (!(interval >= 0) || !Number.isFinite(interval)) {
      throw new Error(`TypeOrmOutputCacheStore pruneInterval must be seconds >= 0`);
    }
    this.pruneIntervalMs = interval * 1000;
    this.batchSize = Math.min(10_000, Math.max(1, Math.floor(options.pruneBatchSize ?? 500)));
  }

  /** Initializes with the application; a database that is down is retried on first use. */
  async onModuleInit(): Promise<void> {
    try {
      await this.init();
    } catch (error) {
      // A cache that cannot start is a miss on every request, not an application that
      // cannot start: every call tries again.
      this.logger.error(`TypeORM output cache store not ready: ${String(error)}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * Connects (creating the own DataSource if configured), creates or checks the tables and
   * starts pruning. Idempotent; every method awaits it, so calling it is optional. A failure is
   * not remembered: the next call tries again.
   *
   * @example
   * ```ts
   * const store = new TypeOrmOutputCacheStore({ dataSource, synchronize: true });
   * await store.init(); // fail at boot rather than on the first request
   * ```
   */
  init(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('TypeOrmOutputCacheStore is closed'));
    this.initializing ??= this.initialize().catch((error: unknown) => {
      this.initializing = undefined;
      throw error;
    });
    return this.initializing;
  }

  /**
   * Stops pruning and destroys the DataSource the store created; an application's DataSource
   * stays initialized. Idempotent.
   *
   * @example
   * ```ts
   * await store.close();
   * ```
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.initializing?.catch(() => undefined);
    await this.pruning;
    const own = this.ownDataSource;
    this.ownDataSource = undefined;
    this.ready = false;
    if (own?.isInitialized) await own.destroy();
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const hash = keyHash(key);
    // The entry and the eviction clock in one query: never an overtaken entry, even when the
    // eviction's deletions were cut short (or have not reached it yet).
    const { records } = await this.read((run) =>
      run(this.sql!.get, [`k:${hash}`, hash, Date.now()]),
    );
    const row = records[0];
    const data = row?.data;
    if (data === undefined || data === null) return undefined;
    if (Number(row.overtaken) === 1) {
      await this.deleteRendered(hash, Number(row.rendered_at)).catch((error: unknown) =>
        this.logger.debug(`Deleting an overtaken cache entry failed: ${String(error)}`),
      );
      return undefined;
    }
    const entry = decodeEntry(data instanceof Uint8Array ? data : undefined);
    if (typeof entry === 'string') {
      this.logger.debug(`Unreadable cache entry (${entry}) for ${key}: treated as a miss`);
      return undefined;
    }
    // A different key under the same SHA-256 will not happen; a miss costs nothing if it does.
    return entry.key === key ? entry : undefined;
  }

  /** The store's eviction clock now: note it before a render reads any data. */
  async clock(): Promise<number> {
    const { records } = await this.read((run) => run(this.sql!.clock));
    return Number(records[0]?.generation ?? 0);
  }

  /**
   * Stores `entry` unless something it carries (a tag, its key, a prefix of its path, or
   * everything) was evicted after `entry.renderedAt`, by any instance. Resolves whether it is
   * stored.
   */
  async setIfCurrent(entry: CacheEntry): Promise<boolean> {
    const hash = keyHash(entry.key);
    const overtaken = () =>
      this.overtaken(entry.renderedAt ?? 0, hash, entry.path, [...new Set(entry.tags)]);
    if (await overtaken()) return false;
    await this.set(entry);
    // An eviction marked between the check and the write may have selected its entries before
    // this one was committed: check again, now that any later eviction sees the entry.
    if (await overtaken()) {
      await this.deleteRendered(hash, entry.renderedAt);
      return false;
    }
    return true;
  }

  async set(entry: CacheEntry): Promise<void> {
    if (retainUntil(entry) <= Date.now()) return;
    const hash = keyHash(entry.key);
    const row = [
      hash,
      entry.key,
      entry.path,
      entry.routeId,
      entry.status,
      JSON.stringify(entry.tags),
      encodeEntry(entry),
      entry.body.length,
      entry.createdAt,
      // The row lives as long as the entry is kept (grace, stale-if-error), not just fresh.
      retainUntil(entry),
      entry.renderedAt ?? null,
    ];
    const tags = [...new Set(entry.tags)];
    await this.write(async (run, queryRunner) => {
      // The entry row first: every write of the store locks entries before tags, and a
      // concurrent eviction of this key waits on the entry row, not halfway through its tags.
      await this.upsert(queryRunner, run, row);
      await run(this.sql!.deleteTagsOf, [hash]);
      for (let i = 0; i < tags.length; i += TAG_INSERT_BATCH) {
        const batch = tags.slice(i, i + TAG_INSERT_BATCH);
        const values = batch.map(() => '(?, ?)').join(', ');
        await run(
          `INSERT INTO ${this.tables!.tags} (tag, key_hash) VALUES ${values}`,
          batch.flatMap((tag) => [tag, hash]),
        );
      }
    });
  }

  async delete(key: string): Promise<boolean> {
    const hash = keyHash(key);
    await this.mark([`k:${hash}`]);
    return (await this.deleteIds([hash])) > 0;
  }

  async evictTags(tags: readonly string[]): Promise<number> {
    const unique = [...new Set(tags)];
    // Marked first: a render under way anywhere that carries one of the tags is not kept.
    await this.mark(unique.map((tag) => `t:${tag}`));
    let removed = 0;
    for (let i = 0; i < unique.length; i += this.batchSize) {
      const batch = unique.slice(i, i + this.batchSize);
      const select = () =>
        `SELECT DISTINCT key_hash FROM ${this.tables!.tags} ` +
        `WHERE tag IN (${placeholders(batch.length)}) LIMIT ?`;
      removed += await this.deleteSelected(select, [...batch, this.batchSize]);
    }
    return removed;
  }

  async evictPrefix(pathPrefix: string): Promise<number> {
    await this.mark([`p:${pathPrefix}`]); // connects: the pattern depends on the dialect
    const pattern =
      this.dialect === 'sqlite' ? `${escapeGlob(pathPrefix)}*` : `${escapeLike(pathPrefix)}%`;
    return this.deleteSelected(() => this.sql!.pathMatches, [pattern, this.batchSize]);
  }

  async clear(): Promise<number> {
    // The clock stays: renders under way must still learn of this eviction.
    await this.mark(['all']);
    const removed = await this.deleteSelected(() => this.sql!.selectAny, [this.batchSize]);
    // Tag rows without an entry cannot come from the store's transactions; sweep them anyway
    // so that clear() leaves empty tables behind. Selected first and deleted like the others
    // (entries, then tags): one DELETE over the whole tags table would lock tags before
    // entries, the reverse of every other write, and deadlock with them on InnoDB.
    await this.deleteSelected(() => this.sql!.selectOrphanTags, [this.batchSize]);
    return removed;
  }

  async count(): Promise<number> {
    const { records } = await this.read((run) => run(this.sql!.count, [Date.now()]));
    return Number(records[0]?.n ?? 0);
  }

  async list({ skip, take }: { skip: number; take: number }): Promise<CacheEntrySummary[]> {
    const limit = Math.max(0, Math.floor(take));
    if (limit === 0) return [];
    const offset = Math.max(0, Math.floor(skip));
    const { records } = await this.read((run) => run(this.sql!.list, [Date.now(), limit, offset]));
    // Summaries come from the columns; the tags column keeps the entry's own order, which the
    // tag index (sorted by tag) would lose. The row keeps only the time it is kept until (grace,
    // stale-if-error): freshness and grace are read from the entry itself (a listing is an admin
    // call, a page at a time); an entry that does not decode shows its row's time.
    return records.map((row) => {
      const data = row.data;
      const decoded = decodeEntry(data instanceof Uint8Array ? data : undefined);
      const entry = typeof decoded === 'string' ? undefined : decoded;
      const keptUntil = Number(row.expires_at);
      return {
        key: String(row.cache_key),
        path: String(row.path),
        routeId: String(row.route_id),
        tags: parseTags(row.tags),
        status: Number(row.status),
        size: Number(row.size),
        createdAt: Number(row.created_at),
        expiresAt: entry?.expiresAt ?? keptUntil,
        ...(entry?.graceUntil === undefined ? {} : { graceUntil: entry.graceUntil }),
        retainUntil: keptUntil,
        ...(row.rendered_at === null || row.rendered_at === undefined
          ? {}
          : { renderedAt: Number(row.rendered_at) }),
      };
    });
  }

  /**
   * Deletes expired rows now, in batches of `pruneBatchSize`; resolves how many went. The
   * background timer calls it every `pruneInterval` seconds.
   *
   * @example
   * ```ts
   * const removed = await store.prune();
   * ```
   */
  async prune(): Promise<number> {
    const now = Date.now();
    return this.deleteSelected(() => this.sql!.selectExpired, [now, this.batchSize], now);
  }

  private get dialect(): OutputCacheSqlDialect | undefined {
    return this.tables?.dialect;
  }

  private async initialize(): Promise<void> {
    let dataSource = this.options.dataSource;
    if (!dataSource) {
      const { DataSource } = await loadTypeOrm();
      dataSource = new DataSource(this.options.dataSourceOptions!);
      try {
        await dataSource.initialize();
      } catch (error) {
        throw new Error(`TypeOrmOutputCacheStore could not connect: ${String(error)}`, {
          cause: error,
        });
      }
      this.ownDataSource = dataSource;
    } else if (!dataSource.isInitialized) {
      throw new Error(
        'The DataSource given to TypeOrmOutputCacheStore is not initialized yet: initialize it ' +
          'first (TypeOrmModule does), or give dataSourceOptions',
      );
    }
    try {
      const tables = outputCacheTableNames(dataSource, this.tablePrefix);
      this.dataSource = dataSource;
      this.tables = tables;
      this.sql = statements(tables);
      if (this.synchronize) await this.createTables(dataSource, tables);
      else await this.checkTables(dataSource, tables);
      // close() ran meanwhile, and found nothing to destroy yet.
      if (this.closed) throw new Error('TypeOrmOutputCacheStore is closed');
    } catch (error) {
      // The next attempt creates a fresh DataSource: this one must not stay connected.
      const own = this.ownDataSource;
      this.ownDataSource = undefined;
      if (own?.isInitialized) await own.destroy().catch(() => undefined);
      throw error;
    }
    this.ready = true;
    if (this.pruneIntervalMs > 0) {
      this.pruneTimer = setInterval(() => this.pruneInBackground(), this.pruneIntervalMs);
      // Pruning alone must not keep the process alive.
      this.pruneTimer.unref();
    }
  }

  private async createTables(dataSource: DataSource, tables: OutputCacheTableNames) {
    const queryRunner = dataSource.createQueryRunner();
    try {
      for (const sql of createOutputCacheTablesSql(tables)) await queryRunner.query(sql);
      // Tables made before the eviction clock get it; entries already cached stay.
      const hasRenderedAt = await hasRenderedAtColumn(queryRunner, tables);
      for (const sql of createOutputCacheClockSql(tables, hasRenderedAt)) {
        await queryRunner.query(sql);
      }
    } catch (error) {
      // Two instances creating the tables at once: one of them loses on PostgreSQL's catalog.
      await this.checkTables(dataSource, tables).catch(() => {
        throw error;
      });
    } finally {
      await queryRunner.release();
    }
  }

  private async checkTables(dataSource: DataSource, tables: OutputCacheTableNames) {
    try {
      await dataSource.query(`SELECT 1 FROM ${tables.entries} WHERE 1 = 0`);
      await dataSource.query(`SELECT 1 FROM ${tables.tags} WHERE 1 = 0`);
    } catch (error) {
      throw new Error(
        `Output cache tables ${tables.entries} and ${tables.tags} are missing: run the ` +
          'OutputCacheTables1763700000000 and OutputCacheClock1764600000000 migrations ' +
          '(createOutputCacheMigration and createOutputCacheClockMigration for another ' +
          `tablePrefix) or set synchronize: true (${String(error)})`,
        { cause: error },
      );
    }
    try {
      await dataSource.query(`SELECT rendered_at FROM ${tables.entries} WHERE 1 = 0`);
      await dataSource.query(`SELECT 1 FROM ${tables.generations} WHERE 1 = 0`);
    } catch (error) {
      throw new Error(
        `Output cache tables were made before the eviction clock (${tables.generations} or ` +
          `the rendered_at column of ${tables.entries} is missing): run the ` +
          'OutputCacheClock1764600000000 migration (createOutputCacheClockMigration for ' +
          `another tablePrefix) or set synchronize: true (${String(error)})`,
        { cause: error },
      );
    }
  }

  /**
   * Records an eviction before it deletes anything: advances the clock by one and gives the new
   * value, as their generation, to `names` (`t:{tag}`, `k:{hash}`, `p:{prefix}`, `all`), in one
   * transaction. Concurrent marks queue on the clock row, so the clock hands out every value
   * once. A few generations older than the retention are pruned, the highest of them raising the
   * watermark `w`. Resolves the clock value of the mark (the clock now when nothing is named).
   */
  private async mark(names: readonly string[]): Promise<number> {
    // A name too long for its column is recorded as everything: wider, never missed.
    const unique = [
      ...new Set(names.map((n) => (n.length > OUTPUT_CACHE_GENERATION_NAME_MAX ? 'all' : n))),
    ];
    if (unique.length === 0) return this.clock();
    return this.write(async (run) => {
      const now = Date.now();
      const bumped = await run(this.sql!.bumpClock, [now]);
      const generation = Number(
        (this.dialect === 'postgres' ? bumped : await run(this.sql!.clock)).records[0]?.generation,
      );
      for (let i = 0; i < unique.length; i += TAG_INSERT_BATCH) {
        const batch = unique.slice(i, i + TAG_INSERT_BATCH);
        const values = batch.map(() => '(?, ?, ?)').join(', ');
        await run(
          upsertGenerationsSql(this.tables!, values),
          batch.flatMap((name) => [name, generation, now]),
        );
      }
      const { records: old } = await run(this.sql!.selectOldGenerations, [
        now - GENERATION_RETENTION_MS,
        GENERATION_PRUNE_BATCH,
      ]);
      if (old.length > 0) {
        const pruned = old.map((row) => String(row.name));
        await run(
          `DELETE FROM ${this.tables!.generations} WHERE name IN (${placeholders(pruned.length)})`,
          pruned,
        );
        const highest = Math.max(...old.map((row) => Number(row.generation)));
        await run(this.sql!.raiseWatermark, [highest, now]);
      }
      return generation;
    });
  }

  /**
   * Whether an entry rendered at clock value `renderedAt`, with this key hash, path and tags, was
   * overtaken: its tags, its key, everything or the watermark got a later generation, or a later
   * prefix eviction covers its path.
   */
  private async overtaken(
    renderedAt: number,
    hash: string,
    path: string,
    tags: readonly string[],
  ): Promise<boolean> {
    const names = tags.map((tag) => `t:${tag}`);
    // One query unless the entry carries hundreds of tags.
    for (let i = 0; i === 0 || i < names.length; i += TAG_INSERT_BATCH) {
      const batch = ['all', 'w', `k:${hash}`, ...names.slice(i, i + TAG_INSERT_BATCH)];
      const { records } = await this.read((run) =>
        run(overtakenSql(this.tables!, batch.length), [
          renderedAt,
          ...batch,
          renderedAt,
          renderedAt,
          path,
        ]),
      );
      if (Number(records[0]?.overtaken) === 1) return true;
    }
    return false;
  }

  /**
   * Deletes the entry of `hash` if it is still the render of clock value `renderedAt` (a newer
   * render written meanwhile stays), and its tag rows with it.
   */
  private async deleteRendered(hash: string, renderedAt: number | undefined): Promise<void> {
    await this.write(async (run) => {
      if (renderedAt === undefined) await run(this.sql!.deleteUnclocked, [hash]);
      else await run(this.sql!.deleteRendered, [hash, renderedAt]);
      await run(this.sql!.deleteOrphanTagsOf, [hash]);
    });
  }

  private pruneInBackground(): void {
    if (this.pruning || !this.ready) return;
    this.pruning = this.prune()
      .then((removed) => {
        if (removed > 0) this.logger.debug(`Pruned ${removed} expired cache entries`);
      })
      .catch((error: unknown) => this.logger.warn(`Pruning expired entries failed: ${error}`))
      .finally(() => (this.pruning = undefined));
  }

  private async connected(): Promise<DataSource> {
    if (!this.ready) await this.init();
    return this.dataSource!;
  }

  /** Runs reads on a query runner of its own (a pooled connection, or SQLite's only one). */
  private async read<T>(work: (run: Run) => Promise<T>): Promise<T> {
    const dataSource = await this.connected();
    const queryRunner = dataSource.createQueryRunner();
    try {
      return await work(runOn(queryRunner, this.dialect!));
    } finally {
      await queryRunner.release();
    }
  }

  /**
   * Runs `work` in a READ COMMITTED transaction, again if it lost a deadlock (MySQL's InnoDB
   * picks victims even among well-ordered writers).
   */
  private async write<T>(work: (run: Run, queryRunner: QueryRunner) => Promise<T>): Promise<T> {
    const dataSource = await this.connected();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exclusive(() => this.transaction(dataSource, work));
      } catch (error) {
        if (attempt >= WRITE_ATTEMPTS || !isTransientConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt * 5 + Math.random() * 20));
      }
    }
  }

  private async transaction<T>(
    dataSource: DataSource,
    work: (run: Run, queryRunner: QueryRunner) => Promise<T>,
  ): Promise<T> {
    const queryRunner = dataSource.createQueryRunner();
    try {
      // READ COMMITTED everywhere: MySQL's default REPEATABLE READ adds gap locks that make
      // concurrent tag rewrites deadlock; SQLite has no such level (it is serial anyway).
      await queryRunner.startTransaction(this.dialect === 'sqlite' ? undefined : 'READ COMMITTED');
      try {
        const result = await work(runOn(queryRunner, this.dialect!), queryRunner);
        await queryRunner.commitTransaction();
        return result;
      } catch (error) {
        await queryRunner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await queryRunner.release();
    }
  }

  /**
   * TypeORM hands out the same query runner (one connection) for every query on SQLite, so two
   * transactions of the store would interleave on it: its writes queue up instead.
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.dialect !== 'sqlite') return work();
    const result = this.sqliteQueue.then(work);
    this.sqliteQueue = result.catch(() => undefined);
    return result;
  }

  /**
   * MySQL: the binary protocol (`execute`) sends the entry as bytes; the text protocol would
   * send it as hex, twice its size, past MariaDB's default 16 MiB max_allowed_packet as soon
   * as a body passes 8 MiB.
   */
  private async upsert(queryRunner: QueryRunner, run: Run, row: unknown[]): Promise<void> {
    if (this.dialect === 'mysql') {
      const connection = (await queryRunner.connect()) as {
        execute?: (sql: string, params: unknown[], done: (error: unknown) => void) => void;
      };
      if (typeof connection?.execute === 'function') {
        await new Promise<void>((resolve, reject) =>
          connection.execute!(this.sql!.upsert, row, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        return;
      }
    }
    await run(this.sql!.upsert, row);
  }

  /**
   * Deletes, batch by batch, the entries whose hashes `select` returns (its last parameter is
   * the batch size), until a batch comes back short; resolves how many entries went.
   */
  private async deleteSelected(
    select: () => string,
    params: unknown[],
    expiredBefore?: number,
  ): Promise<number> {
    let removed = 0;
    for (;;) {
      const { records } = await this.read((run) => run(select(), params));
      const ids = records.map((row) => String(row.key_hash));
      if (ids.length > 0) removed += await this.deleteIds(ids, expiredBefore);
      if (ids.length < this.batchSize) return removed;
    }
  }

  /**
   * Deletes the entries `ids` (still expired before `expiredBefore`, if given) and their tag
   * rows, one transaction per batch. Tag rows go only where the entry is gone, so an entry
   * that a concurrent `set` wrote again keeps its tags: an entry without its tag rows could
   * never be evicted by tag.
   */
  private async deleteIds(ids: readonly string[], expiredBefore?: number): Promise<number> {
    await this.connected();
    const { entries, tags } = this.tables!;
    let removed = 0;
    const sorted = [...ids].sort();
    for (let i = 0; i < sorted.length; i += this.batchSize) {
      const batch = sorted.slice(i, i + this.batchSize);
      const list = placeholders(batch.length);
      removed += await this.write(async (run) => {
        const deleted =
          expiredBefore === undefined
            ? await run(`DELETE FROM ${entries} WHERE key_hash IN (${list})`, batch)
            : await run(`DELETE FROM ${entries} WHERE key_hash IN (${list}) AND expires_at <= ?`, [
                ...batch,
                expiredBefore,
              ]);
        await run(
          `DELETE FROM ${tags} WHERE key_hash IN (${list}) AND NOT EXISTS ` +
            `(SELECT 1 FROM ${entries} WHERE ${entries}.key_hash = ${tags}.key_hash)`,
          batch,
        );
        return deleted.affected ?? 0;
      });
    }
    return removed;
  }
}

/** The store's fixed statements for one set of tables. */
function statements(names: OutputCacheTableNames): Statements {
  const { dialect, entries, tags, generations } = names;
  const columns =
    'key_hash, cache_key, path, route_id, status, tags, data, size, created_at, expires_at, ' +
    'rendered_at';
  const updated = columns
    .split(', ')
    .slice(1)
    .map((column) =>
      dialect === 'mysql' ? `${column} = VALUES(${column})` : `${column} = excluded.${column}`,
    )
    .join(', ');
  const tagName =
    dialect === 'mysql' ? "CONCAT('t:', t.tag)" : `('t:' || t.tag)${collateC(dialect)}`;
  return {
    // Rows without rendered_at (written without a clock) are read as they are. The clock row
    // comes first: an entry rendered since the last eviction is settled by it alone.
    get:
      'SELECT e.data, e.rendered_at, CASE WHEN e.rendered_at IS NULL THEN 0 ' +
      `WHEN ${clockNow(generations)} <= e.rendered_at THEN 0 ` +
      // Not the watermark: an entry outliving the retention stays readable (writes check it).
      `WHEN EXISTS (SELECT 1 FROM ${generations} g WHERE g.name IN ('all', ?) ` +
      'AND g.generation > e.rendered_at) THEN 1 ' +
      `WHEN EXISTS (SELECT 1 FROM ${tags} t JOIN ${generations} g ON g.name = ${tagName} ` +
      'WHERE t.key_hash = e.key_hash AND g.generation > e.rendered_at) THEN 1 ' +
      `WHEN ${prefixOvertakes(names, 'e.path', 'e.rendered_at')} THEN 1 ` +
      `ELSE 0 END AS overtaken FROM ${entries} e WHERE e.key_hash = ? AND e.expires_at > ?`,
    upsert:
      `INSERT INTO ${entries} (${columns}) VALUES (${placeholders(11)}) ` +
      (dialect === 'mysql'
        ? `ON DUPLICATE KEY UPDATE ${updated}`
        : `ON CONFLICT (key_hash) DO UPDATE SET ${updated}`),
    deleteTagsOf: `DELETE FROM ${tags} WHERE key_hash = ?`,
    count: `SELECT COUNT(*) AS n FROM ${entries} WHERE expires_at > ?`,
    list:
      'SELECT cache_key, path, route_id, status, tags, size, created_at, expires_at, rendered_at, ' +
      `data FROM ${entries} WHERE expires_at > ? ORDER BY created_at DESC, key_hash LIMIT ? OFFSET ?`,
    // SQLite's LIKE ignores ASCII case; GLOB does not, and still uses the index.
    pathMatches:
      dialect === 'sqlite'
        ? `SELECT key_hash FROM ${entries} WHERE path GLOB ? LIMIT ?`
        : `SELECT key_hash FROM ${entries} WHERE path LIKE ? ESCAPE '!' LIMIT ?`,
    selectExpired: `SELECT key_hash FROM ${entries} WHERE expires_at <= ? LIMIT ?`,
    selectAny: `SELECT key_hash FROM ${entries} LIMIT ?`,
    selectOrphanTags:
      `SELECT DISTINCT key_hash FROM ${tags} WHERE NOT EXISTS ` +
      `(SELECT 1 FROM ${entries} WHERE ${entries}.key_hash = ${tags}.key_hash) LIMIT ?`,
    clock: `SELECT generation FROM ${generations} WHERE name = 'clock'`,
    bumpClock:
      upsertGenerationsSql(names, "('clock', 1, ?)", (current) => `${current} + 1`) +
      (dialect === 'postgres' ? ' RETURNING g.generation' : ''),
    selectOldGenerations:
      `SELECT name, generation FROM ${generations} ` +
      "WHERE marked_at <= ? AND name <> 'clock' AND name <> 'w' LIMIT ?",
    raiseWatermark: upsertGenerationsSql(
      names,
      "('w', ?, ?)",
      (current, proposed) =>
        `${dialect === 'sqlite' ? 'max' : 'GREATEST'}(${current}, ${proposed})`,
    ),
    deleteRendered: `DELETE FROM ${entries} WHERE key_hash = ? AND rendered_at = ?`,
    deleteUnclocked: `DELETE FROM ${entries} WHERE key_hash = ? AND rendered_at IS NULL`,
    deleteOrphanTagsOf:
      `DELETE FROM ${tags} WHERE key_hash = ? AND NOT EXISTS ` +
      `(SELECT 1 FROM ${entries} WHERE ${entries}.key_hash = ${tags}.key_hash)`,
  };
}

/**
 * Inserts generation rows (`values`: `(name, generation, marked_at)` tuples), or updates the
 * existing ones to `update(current, proposed)` (default: the proposed generation).
 */
function upsertGenerationsSql(
  { dialect, generations }: OutputCacheTableNames,
  values: string,
  update: (current: string, proposed: string) => string = (_, proposed) => proposed,
): string {
  const columns = '(name, generation, marked_at)';
  if (dialect === 'mysql') {
    return (
      `INSERT INTO ${generations} ${columns} VALUES ${values} ON DUPLICATE KEY UPDATE ` +
      `generation = ${update('generation', 'VALUES(generation)')}, marked_at = VALUES(marked_at)`
    );
  }
  // PostgreSQL needs the existing row named; SQLite takes the bare column for it.
  const [target, current] =
    dialect === 'postgres' ? [`${generations} AS g`, 'g.generation'] : [generations, 'generation'];
  return (
    `INSERT INTO ${target} ${columns} VALUES ${values} ON CONFLICT (name) DO UPDATE SET ` +
    `generation = ${update(current, 'excluded.generation')}, marked_at = excluded.marked_at`
  );
}

/**
 * Whether an entry not written yet is overtaken (params: renderedAt, the `count` generation
 * names it answers to, renderedAt, renderedAt, path).
 */
function overtakenSql(names: OutputCacheTableNames, count: number): string {
  const path = names.dialect === 'postgres' ? 'CAST(? AS TEXT)' : '?';
  return (
    `SELECT CASE WHEN ${clockNow(names.generations)} <= ? THEN 0 ` +
    `WHEN EXISTS (SELECT 1 FROM ${names.generations} g ` +
    `WHERE g.name IN (${placeholders(count)}) AND g.generation > ?) THEN 1 ` +
    `WHEN ${prefixOvertakes(names, path, '?')} THEN 1 ELSE 0 END AS overtaken`
  );
}

/** The clock now, as an SQL expression. */
function clockNow(generations: string): string {
  return `COALESCE((SELECT c.generation FROM ${generations} c WHERE c.name = 'clock'), 0)`;
}

/**
 * Whether a prefix eviction later than `renderedAt` covers `path` (SQL expressions). The `p:`
 * rows are one range of the primary key, as names compare byte by byte (`;` follows `:`).
 */
function prefixOvertakes(
  { dialect, generations }: OutputCacheTableNames,
  path: string,
  renderedAt: string,
): string {
  const length = dialect === 'mysql' ? 'CHAR_LENGTH' : 'length';
  return (
    `EXISTS (SELECT 1 FROM ${generations} g WHERE g.name >= 'p:' AND g.name < 'p;' ` +
    `AND g.generation > ${renderedAt} ` +
    `AND substr(${path}${collateC(dialect)}, 1, ${length}(g.name) - 2) = substr(g.name, 3))`
  );
}

/** PostgreSQL: compare in the generations' byte order, so that their primary key serves. */
function collateC(dialect: OutputCacheSqlDialect): string {
  return dialect === 'postgres' ? ' COLLATE "C"' : '';
}

/** Runs a statement written with `?` placeholders, numbering them for PostgreSQL. */
function runOn(queryRunner: QueryRunner, dialect: OutputCacheSqlDialect): Run {
  return (sql, params = []) =>
    queryRunner.query(dialect === 'postgres' ? numberPlaceholders(sql) : sql, params, true);
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

/** `?` → `$1, $2…`: the store's SQL has no `?` in literals, only parameters. */
function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Escapes LIKE wildcards and the escape character itself (`!`, chosen as `\` is special in
 * MySQL string literals). */
function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, '!$&');
}

/** Escapes GLOB wildcards: each goes into a one-character class. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[]/g, '[$&]');
}

function parseTags(value: unknown): string[] {
  try {
    const tags = JSON.parse(String(value)) as unknown;
    return Array.isArray(tags) ? tags.map(String) : [];
  } catch {
    return [];
  }
}

/** A deadlock or serialization failure (PostgreSQL 40P01/40001, MySQL 1213): worth retrying. */
function isTransientConflict(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown; driverError?: { code?: unknown } };
  const code = e?.code ?? e?.driverError?.code;
  return (
    code === '40P01' ||
    code === '40001' ||
    code === 'ER_LOCK_DEADLOCK' ||
    code === 'SQLITE_BUSY' ||
    e?.errno === 1213
  );
}

async function loadTypeOrm(): Promise<typeof import('typeorm')> {
  try {
    return await import('typeorm');
  } catch (error) {
    throw new Error('install typeorm to use TypeOrmOutputCacheStore', { cause: error });
  }
}
