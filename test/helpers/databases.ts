import type { DataSourceOptions } from 'typeorm';
import pg from 'pg';

/** The PostgreSQL the tests use (the local server; DATABASE_URL overrides). */
export const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Makes sure PostgreSQL answers and `schema` exists (empty), or fails plainly: a test that needs
 * the server never skips silently.
 */
export async function preparePostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${POSTGRES_URL} is not answering (${String(error)}). Start it with ` +
        `"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" or set DATABASE_URL.`,
    );
  }
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end();
  }
}

/** Drops `schema` (a suite's own, from `uniqueName`) once the suite is done with it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** TypeORM options for one of the databases the suites run on. */
export function databaseOptions(
  kind: 'sqlite' | 'postgres',
  entities: Function[],
  schema = 'oc_test',
): DataSourceOptions {
  return kind === 'sqlite'
    ? { type: 'better-sqlite3', database: ':memory:', entities, synchronize: true }
    : { type: 'postgres', url: POSTGRES_URL, schema, entities, synchronize: true };
}

/** The MariaDB (or MySQL) the tests use (the local server; MARIADB_URL overrides). */
export const MARIADB_URL = process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';

/**
 * Makes sure MariaDB answers, that its database exists, and drops the tables whose names start
 * with `tablePrefix` (left by an earlier run), or fails plainly like `preparePostgresSchema`.
 */
export async function prepareMariaDb(tablePrefix: string): Promise<void> {
  const url = new URL(MARIADB_URL);
  const database = url.pathname.slice(1) || 'test';
  // Loaded here so that suites without MariaDB do not load the driver.
  const { default: mysql } = await import('mysql2/promise');
  let connection: import('mysql2/promise').Connection;
  try {
    connection = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username || 'root'),
      password: decodeURIComponent(url.password),
      connectTimeout: 3000,
    });
  } catch (error) {
    throw new Error(
      `MariaDB at ${MARIADB_URL} is not answering (${String(error)}). Start it with ` +
        `"service mariadb start" or set MARIADB_URL.`,
    );
  }
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    const [rows] = await connection.query(
      'SELECT table_name AS name FROM information_schema.tables ' +
        'WHERE table_schema = ? AND table_name LIKE ?',
      [database, `${tablePrefix.replace(/[\\%_]/g, '\\$&')}%`],
    );
    for (const { name } of rows as { name: string }[]) {
      await connection.query(`DROP TABLE IF EXISTS \`${database}\`.\`${name}\``);
    }
  } finally {
    await connection.end();
  }
}
