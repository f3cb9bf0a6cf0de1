/**
 * `nestjs-output-cache/typeorm`: the store on a relational database (TypeORM, an optional peer
 * dependency) and its migrations. Kept out of the main entry so that an app on the memory store
 * never loads TypeORM.
 */
export { TypeOrmOutputCacheStore, type TypeOrmStoreOptions } from './stores/typeorm.store.js';
export {
  createOutputCacheClockMigration,
  createOutputCacheMigration,
  DEFAULT_OUTPUT_CACHE_TABLE_PREFIX,
  OutputCacheClock1764600000000,
  OutputCacheTables1763700000000,
} from './stores/typeorm-output-cache.migration.js';
