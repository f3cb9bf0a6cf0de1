import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

/** The prefix of the store's tables unless `tablePrefix` says otherwise. */
export const DEFAULT_OUTPUT_CACHE_TABLE_PREFIX = 'output_cache_';

const MIGRATION_TIMESTAMP = 1763700000000;
const CLOCK_MIGRATION_TIMESTAMP = 1764600000000;

/**
 * Longest name of a row of the generations table, in characters: it keeps the primary key within
 * InnoDB's 3072 bytes and PostgreSQL's B-tree row limit at 4 bytes a character. A longer name
 * (a very long tag or path prefix) is recorded as `all`: a wider eviction, never a missed one.
 */
export const OUTPUT_CACHE_GENERATION_NAME_MAX = 600;

/** The SQL families the TypeORM store speaks. */
export type OutputCacheSqlDialect = 'postgres' | 'mysql' | 'sqlite';

/** TypeORM driver types → SQL family; anything else is refused with a plain message. */
const DIALECTS: Readonly<Record<string, OutputCacheSqlDialect>> = {
  postgres: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  'better-sqlite3': 'sqlite',
  sqlite: 'sqlite', // the sqlite3 driver of TypeORM 0.3
  sqljs: 'sqlite',
};

/** Where the store's tables live on one DataSource, quoted for its SQL. */
export interface OutputCacheTableNames {
  dialect: OutputCacheSqlDialect;
  /** `{prefix}entries`, schema-qualified on PostgreSQL when the DataSource names a schema. */
  entries: string;
  /** `{prefix}tags`, qualified like `entries`. */
  tags: string;
  /** `{prefix}generations` (the eviction clock), qualified like `entries`. */
  generations: string;
  /** The unquoted prefix (index names are derived from it). */
  prefix: string;
  /** The PostgreSQL schema the DataSource names, unquoted (none: the server's search_path). */
  schema?: string;
}

/** Refuses prefixes that would need quoting tricks: they end up in identifiers, not parameters. */
export function assertTablePrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new Error(
      `Output cache tablePrefix "${prefix}" must be at most 40 letters, digits or underscores`,
    );
  }
  return prefix;
}

/** The SQL family of a DataSource, or a plain error for drivers the store does not speak. */
export function outputCacheDialectOf(dataSource: DataSource): OutputCacheSqlDialect {
  const type = String(dataSource.options.type);
  const dialect = DIALECTS[type];
  if (!dialect) {
    throw new Error(
      `TypeOrmOutputCacheStore does not support the "${type}" driver ` +
        '(postgres, mysql, mariadb, better-sqlite3, sqlite and sqljs only)',
    );
  }
  return dialect;
}

/** Quotes an identifier for the dialect. */
export function quoteIdentifier(dialect: OutputCacheSqlDialect, name: string): string {
  return dialect === 'mysql' ? `\`${name.replace(/`/g, '``')}\`` : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The store's table names on `dataSource`. Raw SQL does not get TypeORM's schema handling, so on
 * PostgreSQL the names carry the DataSource's `schema` option (the server's search_path would
 * otherwise decide).
 */
export function outputCacheTableNames(
  dataSource: DataSource,
  tablePrefix: string = DEFAULT_OUTPUT_CACHE_TABLE_PREFIX,
): OutputCacheTableNames {
  const dialect = outputCacheDialectOf(dataSource);
  const prefix = assertTablePrefix(tablePrefix);
  const schema =
    dialect === 'postgres' ? (dataSource.options as { schema?: string }).schema : undefined;
  const qualify = (table: string) =>
    (schema ? `${quoteIdentifier(dialect, schema)}.` : '') + quoteIdentifier(dialect, table);
  return {
    dialect,
    entries: qualify(`${prefix}entries`),
    tags: qualify(`${prefix}tags`),
    generations: qualify(`${prefix}generations`),
    prefix,
    ...(schema ? { schema } : {}),
  };
}

/**
 * The statements that create the entries and tags tables and their indexes if missing, as the
 * {@link OutputCacheTables1763700000000} migration made them (the migration and
 * `synchronize: true` share them; {@link createOutputCacheClockSql} adds the eviction clock).
 * Per dialect on purpose:
 * - PostgreSQL: `path` is indexed with `varchar_pattern_ops`, without which a `LIKE 'prefix%'`
 *   cannot use the index under a non-C collation.
 * - MySQL/MariaDB: binary collations, because `_ci` collations would make the case-sensitive
 *   base64url key hashes and tags collide; `path` is indexed on its first 255 characters (InnoDB
 *   limits index keys to 3072 bytes, 4 per utf8mb4 character); indexes are declared inline as
 *   MySQL has no `CREATE INDEX IF NOT EXISTS`.
 * - SQLite: plain (BINARY collation, which prefix eviction by GLOB needs to use the index).
 */
export function createOutputCacheTablesSql(names: OutputCacheTableNames): string[] {
  const { dialect, entries, tags, prefix } = names;
  const index = (suffix: string) => quoteIdentifier(dialect, `${prefix}${suffix}`);
  if (dialect === 'mysql') {
    const ascii = 'CHARACTER SET ascii COLLATE ascii_bin';
    const utf8 = 'CHARACTER SET utf8mb4 COLLATE utf8mb4_bin';
    return [
      `CREATE TABLE IF NOT EXISTS ${entries} (` +
        `key_hash VARCHAR(64) ${ascii} NOT NULL, ` +
        `cache_key MEDIUMTEXT ${utf8} NOT NULL, ` +
        `path VARCHAR(1024) ${utf8} NOT NULL, ` +
        `route_id VARCHAR(255) ${utf8} NOT NULL, ` +
        `status INT NOT NULL, ` +
        `tags MEDIUMTEXT ${utf8} NOT NULL, ` +
        `data LONGBLOB NOT NULL, ` +
        `size INT NOT NULL, ` +
        `created_at BIGINT NOT NULL, ` +
        `expires_at BIGINT NOT NULL, ` +
        `PRIMARY KEY (key_hash), ` +
        `KEY ${index('entries_path_idx')} (path(255)), ` +
        `KEY ${index('entries_expires_at_idx')} (expires_at)` +
        `) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS ${tags} (` +
        `tag VARCHAR(255) ${utf8} NOT NULL, ` +
        `key_hash VARCHAR(64) ${ascii} NOT NULL, ` +
        `PRIMARY KEY (tag, key_hash), ` +
        `KEY ${index('tags_key_hash_idx')} (key_hash)` +
        `) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ];
  }
  const blob = dialect === 'postgres' ? 'BYTEA' : 'BLOB';
  const pathIndex = dialect === 'postgres' ? 'path varchar_pattern_ops' : 'path';
  return [
    `CREATE TABLE IF NOT EXISTS ${entries} (` +
      'key_hash VARCHAR(64) NOT NULL PRIMARY KEY, ' +
      'cache_key TEXT NOT NULL, ' +
      'path VARCHAR(1024) NOT NULL, ' +
      'route_id VARCHAR(255) NOT NULL, ' +
      'status INTEGER NOT NULL, ' +
      'tags TEXT NOT NULL, ' +
      `data ${blob} NOT NULL, ` +
      'size INTEGER NOT NULL, ' +
      'created_at BIGINT NOT NULL, ' +
      'expires_at BIGINT NOT NULL)',
    `CREATE INDEX IF NOT EXISTS ${index('entries_path_idx')} ON ${entries} (${pathIndex})`,
    `CREATE INDEX IF NOT EXISTS ${index('entries_expires_at_idx')} ON ${entries} (expires_at)`,
    `CREATE TABLE IF NOT EXISTS ${tags} (` +
      'tag VARCHAR(255) NOT NULL, ' +
      'key_hash VARCHAR(64) NOT NULL, ' +
      'PRIMARY KEY (tag, key_hash))',
    `CREATE INDEX IF NOT EXISTS ${index('tags_key_hash_idx')} ON ${tags} (key_hash)`,
  ];
}

/** The statements that drop the entries and tags tables (their indexes go with them). */
export function dropOutputCacheTablesSql(names: OutputCacheTableNames): string[] {
  return [`DROP TABLE IF EXISTS ${names.tags}`, `DROP TABLE IF EXISTS ${names.entries}`];
}

/**
 * The statements that add the eviction clock to the tables (the clock migration and
 * `synchronize: true` share them): the `{prefix}generations` table (`name` of what was evicted
 * — `t:{tag}`, `k:{key hash}`, `p:{path prefix}`, `all`, the watermark `w` and the counter
 * `clock` itself —, its `generation`, and `marked_at`, the time pruning goes by) and, unless
 * `hasRenderedAt`, the nullable `rendered_at` column of the entries (NULL for entries written
 * without a clock, which are read as they are). Names compare byte by byte everywhere
 * (`COLLATE "C"` on PostgreSQL, a binary collation on MySQL), so that the `p:` rows are one
 * range of the primary key.
 */
export function createOutputCacheClockSql(
  names: OutputCacheTableNames,
  hasRenderedAt: boolean,
): string[] {
  const { dialect, entries, generations, prefix } = names;
  const index = quoteIdentifier(dialect, `${prefix}generations_marked_at_idx`);
  const column = hasRenderedAt
    ? []
    : [`ALTER TABLE ${entries} ADD COLUMN rendered_at BIGINT${dialect === 'mysql' ? ' NULL' : ''}`];
  if (dialect === 'mysql') {
    return [
      `CREATE TABLE IF NOT EXISTS ${generations} (` +
        `name VARCHAR(${OUTPUT_CACHE_GENERATION_NAME_MAX}) ` +
        'CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, ' +
        'generation BIGINT NOT NULL, ' +
        'marked_at BIGINT NOT NULL, ' +
        'PRIMARY KEY (name), ' +
        `KEY ${index} (marked_at)` +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      ...column,
    ];
  }
  const collate = dialect === 'postgres' ? ' COLLATE "C"' : '';
  return [
    `CREATE TABLE IF NOT EXISTS ${generations} (` +
      `name VARCHAR(${OUTPUT_CACHE_GENERATION_NAME_MAX})${collate} NOT NULL PRIMARY KEY, ` +
      'generation BIGINT NOT NULL, ' +
      'marked_at BIGINT NOT NULL)',
    `CREATE INDEX IF NOT EXISTS ${index} ON ${generations} (marked_at)`,
    ...column,
  ];
}

/** The statements that remove the eviction clock (the clock migration's `down`). */
export function dropOutputCacheClockSql(
  names: OutputCacheTableNames,
  hasRenderedAt: boolean,
): string[] {
  return [
    `DROP TABLE IF EXISTS ${names.generations}`,
    ...(hasRenderedAt ? [`ALTER TABLE ${names.entries} DROP COLUMN rendered_at`] : []),
  ];
}

/**
 * Whether the entries table has its `rendered_at` column (tables made before the eviction clock
 * do not). Asked of the catalog, not by a failing probe: a failed statement would abort the
 * migration's transaction on PostgreSQL.
 */
export async function hasRenderedAtColumn(
  queryRunner: QueryRunner,
  names: OutputCacheTableNames,
): Promise<boolean> {
  const table = `${names.prefix}entries`;
  let rows: unknown[];
  if (names.dialect === 'postgres') {
    rows = await queryRunner.query(
      'SELECT 1 FROM information_schema.columns WHERE table_schema = ' +
        "COALESCE($1::text, current_schema()) AND table_name = $2 AND column_name = 'rendered_at'",
      [names.schema ?? null, table],
    );
  } else if (names.dialect === 'mysql') {
    rows = await queryRunner.query(
      'SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() ' +
        "AND table_name = ? AND column_name = 'rendered_at'",
      [table],
    );
  } else {
    rows = await queryRunner.query(
      "SELECT 1 FROM pragma_table_info(?) WHERE name = 'rendered_at'",
      [table],
    );
  }
  return rows.length > 0;
}

/** The DataSource of a query runner (`dataSource` since TypeORM 1.0, `connection` before). */
function dataSourceOf(queryRunner: QueryRunner): DataSource {
  return (queryRunner as { dataSource?: DataSource }).dataSource ?? queryRunner.connection;
}

/**
 * Creates the tables of `TypeOrmOutputCacheStore` (default prefix `output_cache_`):
 * `output_cache_entries` (one row per entry: key hash, key, path, route id, status, tags, the
 * encoded entry, body size, creation and expiry times; indexed on path and expiry) and
 * `output_cache_tags` (tag → key hash, the index tag eviction reads). `down` drops both.
 * Add it to your DataSource's `migrations` with {@link OutputCacheClock1764600000000}, which
 * adds the eviction clock; for another `tablePrefix`, use {@link createOutputCacheMigration}.
 * Works on PostgreSQL, MySQL/MariaDB and SQLite.
 *
 * @example
 * ```ts
 * new DataSource({
 *   type: 'postgres',
 *   url: process.env.DATABASE_URL,
 *   migrations: [OutputCacheTables1763700000000, OutputCacheClock1764600000000, ...yours],
 * });
 * ```
 */
export class OutputCacheTables1763700000000 implements MigrationInterface {
  /** TypeORM records this name; it ends with the timestamp TypeORM orders migrations by. */
  name = `OutputCacheTables${MIGRATION_TIMESTAMP}`;
  protected readonly tablePrefix: string = DEFAULT_OUTPUT_CACHE_TABLE_PREFIX;

  async up(queryRunner: QueryRunner): Promise<void> {
    const names = outputCacheTableNames(dataSourceOf(queryRunner), this.tablePrefix);
    for (const sql of createOutputCacheTablesSql(names)) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const names = outputCacheTableNames(dataSourceOf(queryRunner), this.tablePrefix);
    for (const sql of dropOutputCacheTablesSql(names)) await queryRunner.query(sql);
  }
}

/**
 * The migration of {@link OutputCacheTables1763700000000} for a store configured with another
 * `tablePrefix`. Its name carries the prefix (`OutputCacheTables_shop_1763700000000`), so stores
 * with different prefixes can each have their migration on one DataSource.
 *
 * @example
 * ```ts
 * const store = new TypeOrmOutputCacheStore({ dataSource, tablePrefix: 'shop_cache_' });
 * // in the DataSource options:
 * migrations: [
 *   createOutputCacheMigration('shop_cache_'),
 *   createOutputCacheClockMigration('shop_cache_'),
 * ],
 * ```
 */
export function createOutputCacheMigration(
  tablePrefix: string,
): new () => OutputCacheTables1763700000000 {
  assertTablePrefix(tablePrefix);
  if (tablePrefix === DEFAULT_OUTPUT_CACHE_TABLE_PREFIX) return OutputCacheTables1763700000000;
  const name = `OutputCacheTables_${tablePrefix}${MIGRATION_TIMESTAMP}`;
  return class extends OutputCacheTables1763700000000 {
    override name = name;
    protected override readonly tablePrefix = tablePrefix;
  };
}

/**
 * Adds the eviction clock to the tables of {@link OutputCacheTables1763700000000} (default
 * prefix `output_cache_`): the `output_cache_generations` table and the `rendered_at` column of
 * `output_cache_entries`. Entries already cached stay, and are read as they are. An installation
 * made before the clock adds this migration to its list; a new one lists both. `down` removes
 * both again. For another `tablePrefix`, use {@link createOutputCacheClockMigration}.
 *
 * @example
 * ```ts
 * migrations: [OutputCacheTables1763700000000, OutputCacheClock1764600000000, ...yours],
 * ```
 */
export class OutputCacheClock1764600000000 implements MigrationInterface {
  /** TypeORM records this name; it ends with the timestamp TypeORM orders migrations by. */
  name = `OutputCacheClock${CLOCK_MIGRATION_TIMESTAMP}`;
  protected readonly tablePrefix: string = DEFAULT_OUTPUT_CACHE_TABLE_PREFIX;

  async up(queryRunner: QueryRunner): Promise<void> {
    const names = outputCacheTableNames(dataSourceOf(queryRunner), this.tablePrefix);
    const sql = createOutputCacheClockSql(names, await hasRenderedAtColumn(queryRunner, names));
    for (const statement of sql) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const names = outputCacheTableNames(dataSourceOf(queryRunner), this.tablePrefix);
    const sql = dropOutputCacheClockSql(names, await hasRenderedAtColumn(queryRunner, names));
    for (const statement of sql) await queryRunner.query(statement);
  }
}

/**
 * The migration of {@link OutputCacheClock1764600000000} for a store configured with another
 * `tablePrefix`, named like {@link createOutputCacheMigration}'s
 * (`OutputCacheClock_shop_cache_1764600000000`).
 *
 * @example
 * ```ts
 * const store = new TypeOrmOutputCacheStore({ dataSource, tablePrefix: 'shop_cache_' });
 * // in the DataSource options:
 * migrations: [
 *   createOutputCacheMigration('shop_cache_'),
 *   createOutputCacheClockMigration('shop_cache_'),
 * ],
 * ```
 */
export function createOutputCacheClockMigration(
  tablePrefix: string,
): new () => OutputCacheClock1764600000000 {
  assertTablePrefix(tablePrefix);
  if (tablePrefix === DEFAULT_OUTPUT_CACHE_TABLE_PREFIX) return OutputCacheClock1764600000000;
  const name = `OutputCacheClock_${tablePrefix}${CLOCK_MIGRATION_TIMESTAMP}`;
  return class extends OutputCacheClock1764600000000 {
    override name = name;
    protected override readonly tablePrefix = tablePrefix;
  };
}
