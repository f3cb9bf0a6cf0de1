import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
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
    return { type: 'postgres', url, entities, synchronize: true, ...(schema ? { schema } : {}) };
  }
  return {
    type: 'better-sqlite3',
    database: options.database ?? 'sample-app.sqlite',
    entities,
    synchronize: true,
  };
}
