import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import pg from 'pg';
import { BlogPost } from './entities/blog-post.entity.js';
import { Category } from './entities/category.entity.js';
import { Product } from './entities/product.entity.js';
import { Review } from './entities/review.entity.js';
import { Setting } from './entities/setting.entity.js';
import type { ResolvedSampleAppOptions } from './sample-app.options.js';

/**
 * SQLite (better-sqlite3) by default; PostgreSQL when `DATABASE_URL` is set and no SQLite
 * database was asked for explicitly.
 */
export function databaseOptions(options: ResolvedSampleAppOptions): TypeOrmModuleOptions {
  const entities = [Category, Product, Review, BlogPost, Setting];
  const url = process.env.DATABASE_URL;
  if (url && options.database === undefined) {
    // DATABASE_SCHEMA keeps several shops (or test runs) apart in one database.
    const schema = process.env.DATABASE_SCHEMA;
    return {
      type: 'postgres',
      url,
      entities,
      synchronize: true,
      ...(schema ? { schema } : {}),
      ...FAIL_FAST,
    };
  }
  return {
    type: 'better-sqlite3',
    database: options.database ?? 'sample-app.sqlite',
    entities,
    synchronize: true,
    ...FAIL_FAST,
  };
}

/**
 * A sample that cannot reach its database says so at once: @nestjs/typeorm's default is 10
 * attempts 3 s apart (27 s of retries and a stack trace each), meant for a database that starts
 * alongside the app. One attempt: the error is in the first lines.
 */
const FAIL_FAST = { retryAttempts: 1, retryDelay: 0 } as const;

/** What the sample's database is, for the start-up banner (no password). */
export function describeDatabase(options: ResolvedSampleAppOptions): string {
  const url = process.env.DATABASE_URL;
  if (url && options.database === undefined) {
    const schema = process.env.DATABASE_SCHEMA;
    return `PostgreSQL ${withoutPassword(url)}${schema ? ` (schema ${schema})` : ''}`;
  }
  return `SQLite ${options.database ?? 'sample-app.sqlite'}`;
}

/**
 * On PostgreSQL with `DATABASE_SCHEMA`, creates the schema when it is missing (TypeORM's
 * `synchronize` creates tables, not schemas). A database that cannot be reached, or does not
 * exist, rejects with one line that says what to do.
 */
export async function preparePostgres(options: ResolvedSampleAppOptions): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url || options.database !== undefined) return;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {}); // a dropped connection after the check is not ours to report
  try {
    await client.connect();
  } catch (error) {
    throw new Error(postgresProblem(url, error));
  }
  try {
    const schema = process.env.DATABASE_SCHEMA;
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replace(/"/g, '""')}"`);
  } catch (error) {
    throw new Error(
      `cannot create schema "${process.env.DATABASE_SCHEMA}" (DATABASE_SCHEMA) in ${withoutPassword(url)}: ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

function postgresProblem(url: string, error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const where = withoutPassword(url);
  if (code === '3D000') {
    const name = new URL(url).pathname.slice(1);
    return `${message} (DATABASE_URL ${where}): create it first, e.g. createdb -h ${new URL(url).hostname} -U ${new URL(url).username || 'postgres'} ${name}`;
  }
  return `cannot connect to PostgreSQL at ${where} (DATABASE_URL): ${message ?? String(error)}`;
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable DATABASE_URL)';
  }
}
