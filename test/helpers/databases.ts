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
