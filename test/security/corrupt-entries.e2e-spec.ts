import 'reflect-metadata';
import { Packr } from 'msgpackr';
import { DataSource } from 'typeorm';
import {
  type CacheEntry,
  encodeEntry,
  MemoryOutputCacheStore,
  OUTPUT_CACHE_STORE,
  OutputCacheProvider,
  type OutputCacheStore,
} from '../../lib/index.js';
import { RedisOutputCacheStore, TieredOutputCacheStore } from '../../lib/redis.js';
import { keyHash } from '../../lib/stores/key-hash.js';
import { outputCacheTableNames } from '../../lib/stores/typeorm-output-cache.migration.js';
import { TypeOrmOutputCacheStore } from '../../lib/typeorm.js';
import { databaseOptions, preparePostgresSchema } from '../helpers/databases.js';
import { connectRedis, deletePrefix, REDIS_URL } from '../helpers/redis.js';
import type { TestApp } from '../helpers/test-app.js';
import { uniqueName } from '../helpers/unique-name.js';
import { until } from '../helpers/wait.js';
import { attack } from './attack.controller.js';
import { createAttackApp, mark, rawRequest } from './attack-kit.js';

/**
 * Corrupt and old-format entries in every store. The rule: whatever a store hands back, a
 * request is answered 200: bytes that do not decode (another format, an unknown version,
 * truncated, wrong shape) are a plain miss; an entry that decodes but could not be written
 * (a status outside 200-599, a header or ETag Node refuses, a hole outside the body) is a miss
 * counted `unservable`; the page renders and is stored again. The previous format (2) is read.
 */
/** One host for every app: the key holds it, and two apps listen on two ports. */
const SHOP = { headers: { host: 'shop.example' } };
const packr = new Packr({ useRecords: false, moreTypes: false });
const withHeader = (version: number, payload: Uint8Array) =>
  Buffer.concat([Buffer.from([0x4f, 0x43, version]), payload]);

/** Bytes that are no entry this code can read. */
const UNDECODABLE: [string, (good: CacheEntry) => Buffer][] = [
  ['garbage', () => Buffer.from('<html>not an entry</html>')],
  ['an empty value', () => Buffer.alloc(0)],
  ['an old format (version 1)', (good) => withHeader(1, packr.pack([good.key, good.status]))],
  ['a future format (version 9)', (good) => withHeader(9, encodeEntry(good).subarray(3))],
  ['truncated bytes', (good) => encodeEntry(good).subarray(0, 40)],
  ['the wrong number of fields', () => withHeader(3, packr.pack([1, 2, 3]))],
  ['fields of the wrong type', () => withHeader(3, packr.pack(Array(16).fill('x')))],
  ['not MessagePack', () => withHeader(3, Buffer.from([0xc1, 0xc1, 0xc1]))],
];

/** Entries that decode but must not be written as a response. */
const UNSERVABLE: [string, (good: CacheEntry) => CacheEntry][] = [
  ['status 700', (good) => ({ ...good, status: 700 })],
  ['CR/LF in a header', (good) => ({ ...good, headers: { ...good.headers, 'x-a': 'a\r\nb' } })],
  ['CR/LF in the ETag', (good) => ({ ...good, etag: '"a"\r\nSet-Cookie: sid=evil' })],
  [
    'a hole outside the body',
    (good) => ({ ...good, holes: [{ at: good.body.length + 5, name: 'Visitor', args: '{}' }] }),
  ],
];

interface StoreCase {
  name: string;
  /** A store for one app; `shared` says whether two apps see each other's entries. */
  make: () => OutputCacheStore;
  /** Replaces the stored bytes of `key` (byte stores only). */
  writeBytes?: (key: string, bytes: Buffer) => Promise<void>;
  /** Reads go through a second app (its own L1): the first holds the good copy in memory. */
  readThroughSecondApp?: boolean;
  setUp?: () => Promise<void>;
  tearDown?: () => Promise<void>;
}

function describeStore(store: StoreCase): void {
  describe(`attack: corrupt and old-format entries, ${store.name} (e2e)`, () => {
    let writer: TestApp;

    beforeAll(async () => {
      await store.setUp?.();
      writer = await createAttackApp({ store: store.make(), storeTimeout: 2 });
    });
    afterAll(async () => {
      await writer?.close();
      await store.tearDown?.();
    });

    /** The page stored by the writer, and the app that will read what replaces it. */
    async function storedPage(path: string): Promise<{ good: CacheEntry; reader: TestApp }> {
      attack.renders = 0;
      await writer.app.get(OutputCacheProvider).invalidateAll();
      const since = mark(writer);
      // A background deletion of the previous test's spoilt entry may still overtake one render
      // (a key deletion marks the key's clock on stores that keep one): ask until one is stored.
      await until(async () => {
        expect((await rawRequest(writer, path, SHOP)).status).toBe(200);
        return since().stored >= 1;
      }, 'the page to be stored');
      const cache = writer.app.get<OutputCacheStore>(OUTPUT_CACHE_STORE);
      // By path: entries an eviction removes in the background may still be listed a moment.
      const summary = (await cache.list({ skip: 0, take: 100 })).find((e) => e.path === path)!;
      const good = (await cache.get(summary.key))!;
      expect(good.path).toBe(path);
      const reader = store.readThroughSecondApp
        ? await createAttackApp({ store: store.make(), storeTimeout: 2 })
        : writer;
      return { good, reader };
    }

    /** A corrupt entry is answered 200 by a render, and the page is stored and hit again. */
    async function expectRecovers(reader: TestApp, path: string, unservable: number) {
      const since = mark(reader);
      const res = await rawRequest(reader, path, SHOP);
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('MISS');
      expect(since().unservable).toBe(unservable);
      // Rendered anew and stored again: hit within a few requests, each answered 200.
      let hit = res;
      await until(async () => {
        hit = await rawRequest(reader, path, SHOP);
        expect(hit.status).toBe(200);
        return hit.headers['x-cache'] === 'HIT';
      }, 'the page to be stored and hit again');
      expect(hit.text).toContain(' #');
    }

    if (store.writeBytes) {
      const writeBytes = store.writeBytes;

      it.each(UNDECODABLE)(
        'rule "bytes that do not decode are a miss": %s',
        async (_what, spoil) => {
          const { good, reader } = await storedPage('/attack/page');
          try {
            await writeBytes(good.key, spoil(good));
            await expectRecovers(reader, '/attack/page', 0);
          } finally {
            if (reader !== writer) await reader.close();
          }
        },
      );

      it('rule "the previous format is read": a version-2 entry is served', async () => {
        const { good, reader } = await storedPage('/attack/page');
        try {
          const fields = packr.unpack(encodeEntry(good).subarray(3)) as unknown[];
          await writeBytes(good.key, withHeader(2, packr.pack(fields.slice(0, 15))));
          const res = await rawRequest(reader, '/attack/page', SHOP);
          expect(res.status).toBe(200);
          expect(res.headers['x-cache']).toBe('HIT');
          expect(res.text).toBe(good.body.toString());
        } finally {
          if (reader !== writer) await reader.close();
        }
      });
    }

    it.each(UNSERVABLE)(
      'rule "an unservable entry is a miss, never a 500": %s',
      async (_what, spoil) => {
        const path = _what === 'a hole outside the body' ? '/attack/holed' : '/attack/page';
        const { good, reader } = await storedPage(path);
        try {
          if (store.writeBytes) await store.writeBytes(good.key, encodeEntry(spoil(good)));
          else await writer.app.get<OutputCacheStore>(OUTPUT_CACHE_STORE).set(spoil(good));
          await expectRecovers(reader, path, 1);
        } finally {
          if (reader !== writer) await reader.close();
        }
      },
    );
  });
}

describeStore({ name: 'memory store', make: () => new MemoryOutputCacheStore() });

{
  const prefix = `${uniqueName('oc_attack_redis')}:`;
  let admin: Awaited<ReturnType<typeof connectRedis>>;
  describeStore({
    name: 'Redis store',
    make: () => new RedisOutputCacheStore({ url: REDIS_URL, prefix }),
    writeBytes: async (key, bytes) => {
      await admin.set(`${prefix}e:${keyHash(key)}`, bytes, 'PX', 60_000);
    },
    setUp: async () => {
      admin = await connectRedis();
    },
    tearDown: async () => {
      await deletePrefix(admin, prefix);
      admin.disconnect();
    },
  });
}

{
  const prefix = `${uniqueName('oc_attack_tiered')}:`;
  let admin: Awaited<ReturnType<typeof connectRedis>>;
  describeStore({
    name: 'tiered store (L2 corrupt, read by an instance with an empty L1)',
    make: () => new TieredOutputCacheStore({ redis: { url: REDIS_URL, prefix } }),
    readThroughSecondApp: true,
    writeBytes: async (key, bytes) => {
      await admin.set(`${prefix}e:${keyHash(key)}`, bytes, 'PX', 60_000);
    },
    setUp: async () => {
      admin = await connectRedis();
    },
    tearDown: async () => {
      await deletePrefix(admin, prefix);
      admin.disconnect();
    },
  });
}

for (const kind of ['sqlite', 'postgres'] as const) {
  const schema = uniqueName('oc_attack');
  let dataSource: DataSource;
  describeStore({
    name: `TypeORM store on ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
    make: () => new TypeOrmOutputCacheStore({ dataSource, synchronize: true, pruneInterval: 0 }),
    writeBytes: async (key, bytes) => {
      const { entries } = outputCacheTableNames(dataSource, 'output_cache_');
      const placeholder = (n: number) => (kind === 'postgres' ? `$${n}` : '?');
      await dataSource.query(
        `UPDATE ${entries} SET data = ${placeholder(1)} WHERE key_hash = ${placeholder(2)}`,
        [bytes, keyHash(key)],
      );
    },
    setUp: async () => {
      if (kind === 'postgres') await preparePostgresSchema(schema);
      dataSource = new DataSource(databaseOptions(kind, [], schema));
      await dataSource.initialize();
    },
    tearDown: async () => {
      if (kind === 'postgres') await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await dataSource.destroy();
    },
  });
}
