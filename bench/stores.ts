/**
 * The stores of the "stores" group, each set up the way an application would, with its own key
 * prefix, tables or file, and a cleanup that removes them again.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryOutputCacheStore, type OutputCacheStore } from '../lib/index.js';
import { RedisOutputCacheStore, TieredOutputCacheStore } from '../lib/redis.js';
import { TypeOrmOutputCacheStore } from '../lib/typeorm.js';
import {
  checkRedis,
  DATABASE_URL,
  dropPgTables,
  PG_SCHEMA,
  preparePg,
  REDIS_URL,
  redisPrefix,
} from './services.js';

export type StoreKind = 'memory' | 'tiered' | 'redis' | 'sqlite' | 'postgres';

export interface BenchStore {
  store: OutputCacheStore;
  /** Removes what the store left behind (keys, tables, files) and closes it. */
  cleanup: () => Promise<void>;
}

/**
 * Creates (and connects) a store of the given kind; rejects with a one-line error when its
 * server is not reachable.
 */
export async function createBenchStore(kind: StoreKind): Promise<BenchStore> {
  switch (kind) {
    case 'memory':
      return {
        store: new MemoryOutputCacheStore({ maxEntries: 100_000 }),
        cleanup: async () => undefined,
      };
    case 'redis': {
      await checkRedis();
      const store = new RedisOutputCacheStore({ url: REDIS_URL, prefix: redisPrefix('redis') });
      await store.redis();
      return {
        store,
        cleanup: async () => {
          await store.clear();
          await store.close();
        },
      };
    }
    case 'tiered': {
      await checkRedis();
      const store = new TieredOutputCacheStore({
        redis: { url: REDIS_URL, prefix: redisPrefix('tiered') },
      });
      await store.start();
      return {
        store,
        cleanup: async () => {
          await store.clear();
          await store.close();
        },
      };
    }
    case 'sqlite': {
      const file = path.join(os.tmpdir(), `output-cache-bench-${process.pid}.sqlite`);
      const store = new TypeOrmOutputCacheStore({
        dataSourceOptions: { type: 'better-sqlite3', database: file },
        synchronize: true,
      });
      const removeFiles = () => {
        for (const suffix of ['', '-journal', '-wal', '-shm'])
          rmSync(file + suffix, { force: true });
      };
      try {
        await store.init();
      } catch (error) {
        removeFiles();
        throw error;
      }
      return {
        store,
        cleanup: async () => {
          await store.close();
          removeFiles();
        },
      };
    }
    case 'postgres': {
      const createdSchema = await preparePg();
      const tablePrefix = `bench_${process.pid}_`;
      const store = new TypeOrmOutputCacheStore({
        dataSourceOptions: { type: 'postgres', url: DATABASE_URL, schema: PG_SCHEMA },
        tablePrefix,
        synchronize: true,
      });
      const drop = () =>
        dropPgTables(
          [`${tablePrefix}entries`, `${tablePrefix}tags`, `${tablePrefix}generations`],
          createdSchema,
        );
      try {
        await store.init();
      } catch (error) {
        await drop().catch(() => undefined);
        throw error;
      }
      return {
        store,
        cleanup: async () => {
          await store.close();
          await drop();
        },
      };
    }
  }
}
