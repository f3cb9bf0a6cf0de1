import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import {
  type CacheEntry,
  type CacheEntrySummary,
  retainUntil,
  staleCopy,
  summarize,
} from './cache-entry.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import { RedisEvictionClock } from './redis-eviction-clock.js';
import { keyHash } from './key-hash.js';
import type {
  EvictionClockStore,
  LockingStore,
  SoftEvictingStore,
  StaleSelector,
} from './output-cache-store.interface.js';

/** Options of {@link RedisOutputCacheStore}. Durations are seconds. */
export interface RedisStoreOptions {
  /**
   * An existing ioredis client, a `Redis` or a `Cluster`: used as it is, and not closed by the
   * store.
   */
  client?: Redis | Cluster;
  /** Or a URL (`redis://127.0.0.1:6379/0`): the store connects, fails fast, and closes. */
  url?: string;
  /** Or ioredis options (merged over the fail-fast defaults). */
  redis?: RedisOptions;
  /**
   * Or a Redis Cluster to connect to: its startup nodes, and ioredis `Cluster` options (merged
   * over the fail-fast defaults; `redis` options, if any, are its nodes' `redisOptions`). The
   * store opens the cluster client, and closes it.
   *
   * @example
   * ```ts
   * new RedisOutputCacheStore({ cluster: { nodes: [{ host: '10.0.0.1', port: 6379 }] } })
   * ```
   */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /**
   * Prefix of every key. Default `oc:`. On a Redis Cluster (a `Cluster` client or `cluster`
   * options) every key of the store lives in one hash slot, so that multi-key commands,
   * transactions and the eviction scripts work: a prefix without a hash tag is wrapped in one
   * (`oc:` becomes `{oc}:`, `shop:oc:` becomes `{shop:oc}:`); a prefix with one (`{shop}:oc:`)
   * is kept. `keyPrefix` says which one is used.
   */
  prefix?: string;
  /** Entries handled per round trip while evicting (keeps every command short). Default 200. */
  batchSize?: number;
  /** How often expired entries are dropped from the indexes. Default 60; 0 turns it off. */
  cleanupInterval?: number;
  /**
   * When the entries of an eviction are deleted. `'background'` (default): `evictTags` /
   * `evictPrefix` mark the eviction clock and resolve at once (a constant cost, however many
   * entries the tag covers) with how many entries carried the tags or prefix; from that moment
   * no instance reads or stores an entry it overtook, and the entries are deleted in the
   * background, a batch at a time (`count()` and `list()` still show them until then:
   * `sweeping()` resolves when they are gone). `'inline'`: deleted before the call resolves,
   * which then resolves how many went (the cost grows with the entries: about 0.5 s for
   * 10,000).
   */
  sweep?: 'inline' | 'background';
}

/** Fail-fast defaults for a connection the store opens itself. */
export const FAIL_FAST_REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  // A clean-up bound for a command left hanging (a paused server), above `storeTimeout`: requests
  // stop waiting at `storeTimeout` already, and evictions must not fail on a busy server.
  commandTimeout: 1000,
  connectTimeout: 1000,
  retryStrategy: (times) => Math.min(times * 100, 1000),
  // Concurrent hits share one socket write per event-loop tick (about a third less CPU a hit).
  enableAutoPipelining: true,
};

/** Pause between two batches of a background sweep (it yields Redis to the app's requests). */
const SWEEP_PAUSE_MS = 2;
/** Most entries a background sweep deletes per batch. */
const SWEEP_BATCH = 50;

/** Longest `close()` waits for a clean QUIT before it drops a connection. */
export const CLOSE_TIMEOUT_MS = 1000;

const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Entries in Redis, shared by every instance of the app (ioredis).
 *
 * Layout under the prefix: `e:{hash}` the encoded entry with a PX expiry; `t:{tag}` a set of
 * entry hashes; `x` a sorted set of hashes by expiry (count, list, cleanup); `m` a hash of entry
 * summaries (so the indexes can be cleaned once an entry expired); `p` a sorted set of
 * `{path}\0{hash}` for prefix eviction. Evicting pops a tag's members a batch at a time, so
 * evicting a tag of 100,000 entries never blocks Redis; a background cleanup removes expired
 * entries from the indexes, so nothing grows without bound.
 *
 * On a Redis Cluster (`client: Cluster`, or `cluster` options) the prefix carries a hash tag
 * (`{oc}:`), so every key of the store lives in one slot: an entry is written with its indexes in
 * one transaction, and a read checks the eviction clock in the same script. The cache lives on
 * one shard; the rest of the cluster is untouched.
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ store: new RedisOutputCacheStore({ url: process.env.REDIS_URL }) })
 * // On a Redis Cluster: keys under `{oc}:`, in one slot.
 * OutputCacheModule.forRoot({
 *   store: new RedisOutputCacheStore({ cluster: { nodes: [{ host: 'redis-1', port: 6379 }] } }),
 * })
 * ```
 */
export class RedisOutputCacheStore
  implements LockingStore, SoftEvictingStore, EvictionClockStore, OnModuleDestroy
{
  private readonly logger = new Logger('OutputCache');
  private client: Redis | Cluster | undefined;
  private connecting: Promise<Redis | Cluster> | undefined;
  /** The connection the store opened, from the moment it exists (close() ends it). */
  private ownConnection: Redis | Cluster | undefined;
  private closed = false;
  /** Background deletions of evicted entries under way (`sweep: 'background'`). */
  private readonly sweeps = new Set<Promise<void>>();

  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly batch: number;
  /** When evicted entries are deleted (see `RedisStoreOptions.sweep`). */
  private readonly sweepMode: 'inline' | 'background';
  /** The eviction clock, kept in Redis (shared by every instance). */
  readonly evictionClock: RedisEvictionClock;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private lastErrorLog = 0;

  constructor(private readonly options: RedisStoreOptions = {}) {
    if (options.cluster && (options.client || options.url)) {
      throw new Error(
        'RedisOutputCacheStore: give one of `client`, `url` or `cluster`, not several (a ' +
          'Cluster client goes in `client`; `cluster` makes the store open one itself).',
      );
    }
    this.owned = !options.client;
    this.client = options.client;
    const onCluster = !!options.cluster || (!!options.client && isCluster(options.client));
    this.prefix = onCluster ? hashTagged(options.prefix ?? 'oc:') : (options.prefix ?? 'oc:');
    this.batch = options.batchSize ?? 200;
    this.sweepMode = options.sweep ?? 'background';
    this.evictionClock = new RedisEvictionClock(this.prefix, () => this.redis());
  }

  /**
   * The connection (opened on first use when the store owns it). Rejects once the store is
   * closed: a late call never opens a connection again.
   */
  async redis(): Promise<Redis | Cluster> {
    if (this.closed) throw closedError();
    if (this.client) return this.client;
    this.connecting ??= this.connect();
    return this.connecting;
  }

  private async connect(): Promise<Redis | Cluster> {
    const ioredis = await import('ioredis').catch(() => {
      throw new Error('RedisOutputCacheStore needs the ioredis package: npm install ioredis');
    });
    if (this.closed) throw closedError();
    const RedisClass = (ioredis.default ?? ioredis.Redis) as unknown as new (
      ...args: any[]
    ) => Redis;
    const options = { ...FAIL_FAST_REDIS_OPTIONS, ...this.options.redis };
    const cluster = this.options.cluster;
    let client: Redis | Cluster;
    if (cluster) {
      // The same fail-fast defaults: those of the cluster client itself, the rest for its nodes.
      const { enableAutoPipelining, enableOfflineQueue, retryStrategy, ...nodeOptions } = options;
      client = new ioredis.Cluster(cluster.nodes, {
        enableOfflineQueue,
        enableAutoPipelining,
        clusterRetryStrategy: retryStrategy,
        ...cluster.options,
        redisOptions: { ...nodeOptions, ...cluster.options?.redisOptions },
      });
    } else {
      client = this.options.url
        ? new RedisClass(this.options.url, options)
        : new RedisClass(options);
    }
    this.ownConnection = client;
    client.on('error', (error: Error) => this.logError('connection', error));
    // Without an offline queue, commands sent before the connection is ready fail: wait for
    // it once, briefly. If Redis is down, commands fail fast until ioredis reconnects.
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('end', done);
        resolve();
      };
      const timer = setTimeout(done, options.connectTimeout ?? 1000);
      client.once('ready', done);
      // close() during the wait ends the connection: stop waiting.
      client.once('end', done);
    });
    if (this.closed) throw closedError();
    this.client = client;
    this.startCleanup();
    return client;
  }

  /** The key prefix. */
  get keyPrefix(): string {
    return this.prefix;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const hash = keyHash(key);
    // Entry and eviction clock together: one round trip, and never an overtaken entry.
    const data = await this.evictionClock.read(
      this.entryKey(hash),
      this.metaKey,
      this.renderedKey,
      hash,
    );
    if (!data) return undefined;
    const entry = decodeEntry(data);
    if (typeof entry === 'string') {
      this.logger.debug(`unreadable entry (${entry}) for ${key}: a miss`);
      return undefined;
    }
    return retainUntil(entry) > Date.now() && entry.key === key ? entry : undefined;
  }

  /** The store's eviction clock now: note it before a render reads any data. */
  clock(): Promise<number> {
    return this.evictionClock.now();
  }

  /**
   * Stores `entry` unless something it carries (a tag, its key, a prefix of its path, or
   * everything) was evicted after `entry.renderedAt`, by any instance. Resolves whether it is
   * stored.
   */
  async setIfCurrent(entry: CacheEntry): Promise<boolean> {
    const renderedAt = entry.renderedAt ?? 0;
    const hash = keyHash(entry.key);
    const overtaken = () => this.evictionClock.overtaken(renderedAt, hash, entry.path, entry.tags);
    if (await overtaken()) return false;
    await this.set(entry);
    // An eviction marked between the check and the write deleted its members before this one
    // was added: check again, now that the entry is visible to any later eviction.
    if (await overtaken()) {
      await this.removeHashes([hash]);
      return false;
    }
    return true;
  }

  async set(entry: CacheEntry): Promise<void> {
    const redis = await this.redis();
    // With background deletion an entry is only kept from being read by the clock: one written
    // without a render time counts as rendered now.
    if (this.sweepMode === 'background' && entry.renderedAt === undefined) {
      entry = { ...entry, renderedAt: await this.evictionClock.now() };
    }
    const ttl = retainUntil(entry) - Date.now();
    if (ttl <= 0) return;
    const hash = keyHash(entry.key);
    const previous = await redis.hget(this.metaKey, hash);
    const multi = redis.multi();
    if (previous) {
      const old = parseSummary(previous);
      for (const tag of old?.tags ?? []) {
        if (!entry.tags.includes(tag)) multi.srem(this.tagKey(tag), hash);
      }
      if (old && old.path !== entry.path) multi.zrem(this.pathsKey, `${old.path}\0${hash}`);
    }
    multi.set(this.entryKey(hash), encodeEntry(entry), 'PX', ttl);
    for (const tag of entry.tags) {
      const tagKey = this.tagKey(tag);
      multi.sadd(tagKey, hash);
      // A tag set lives as long as its longest-lived entry (NX sets a first expiry, GT extends).
      multi.pexpire(tagKey, ttl + 60_000, 'NX');
      multi.pexpire(tagKey, ttl + 60_000, 'GT');
    }
    multi.zadd(this.expiryKey, retainUntil(entry), hash);
    multi.hset(this.metaKey, hash, JSON.stringify(summarize(entry)));
    // The render time alone, for the read's fast path (no eviction since: nothing to check).
    if (entry.renderedAt !== undefined) multi.hset(this.renderedKey, hash, entry.renderedAt);
    else multi.hdel(this.renderedKey, hash);
    multi.zadd(this.pathsKey, 0, `${entry.path}\0${hash}`);
    await execOrThrow(multi);
  }

  async delete(key: string): Promise<boolean> {
    await this.evictionClock.mark({ keyHash: keyHash(key) });
    return (await this.removeHashes([keyHash(key)])) > 0;
  }

  /**
   * Evicts every entry carrying any of `tags`: the clock is marked first (from then on no
   * instance reads or stores an entry it overtook, even if the deletions below are cut short by
   * an outage), then the entries are deleted a batch at a time, never blocking Redis. Entries
   * rendered since the mark stay. Resolves how many went.
   */
  async evictTags(tags: readonly string[]): Promise<number> {
    const redis = await this.redis();
    const markedAt = await this.evictionClock.mark({ tags });
    if (this.sweepMode === 'background') {
      const counting = redis.pipeline();
      for (const tag of tags) counting.scard(this.tagKey(tag));
      const counts = (await execOrThrow(counting)) as number[];
      this.inBackground(`tags ${tags.join(', ')}`, () => this.sweepTags(tags, markedAt));
      return counts.reduce((sum, n) => sum + Number(n), 0);
    }
    let removed = 0;
    for (const tag of tags) {
      // SPOP a batch at a time: each command is short, so other clients are never held up. At
      // most the members there were: those put back (rendered since the mark) are not popped
      // forever.
      let left = await redis.scard(this.tagKey(tag));
      while (left > 0) {
        const hashes = (await redis.spop(this.tagKey(tag), Math.min(left, this.batch))) as
          string[] | null;
        if (!hashes || hashes.length === 0) break;
        left -= hashes.length;
        const gone = await this.removeOvertaken(hashes, markedAt);
        removed += gone.removed;
        const kept = hashes.filter((h) => !gone.overtaken.has(h));
        if (kept.length > 0) await redis.sadd(this.tagKey(tag), ...kept);
        // Let the app's requests (and their store calls) in between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return removed;
  }

  /** Evicts every entry whose path starts with `pathPrefix`, as {@link evictTags} does. */
  async evictPrefix(pathPrefix: string): Promise<number> {
    const redis = await this.redis();
    const markedAt = await this.evictionClock.mark({ prefix: pathPrefix });
    const [min, max] = prefixRange(pathPrefix);
    if (this.sweepMode === 'background') {
      const count = await redis.zlexcount(this.pathsKey, min, max);
      this.inBackground(`prefix ${pathPrefix}`, () => this.evictPrefixNow(min, max, markedAt));
      return count;
    }
    return this.evictPrefixNow(min, max, markedAt);
  }

  /** Resolves when the background deletions started so far (`sweep: 'background'`) ended. */
  async sweeping(): Promise<void> {
    while (this.sweeps.size > 0) await Promise.allSettled([...this.sweeps]);
  }

  private inBackground(what: string, run: () => Promise<unknown>): void {
    const done: Promise<void> = run()
      .then(() => undefined)
      .catch((error: unknown) => {
        // The entries stay overtaken (never read nor stored again) and expire on their own.
        if (!this.closed) this.logError(`deleting the entries of ${what}`, error as Error);
      })
      .finally(() => this.sweeps.delete(done));
    this.sweeps.add(done);
  }

  /** Deletes the entries of `tags` that the mark overtook, a batch at a time. */
  private async sweepTags(tags: readonly string[], markedAt: number): Promise<void> {
    const redis = await this.redis();
    for (const tag of tags) {
      let cursor = '0';
      do {
        if (this.closed) return;
        // Small batches: each one's pipeline holds Redis for a fraction of a millisecond.
        const [next, hashes] = await redis.sscan(
          this.tagKey(tag),
          cursor,
          'COUNT',
          Math.min(this.batch, SWEEP_BATCH),
        );
        cursor = next;
        await this.removeOvertaken(hashes, markedAt);
        // Nobody waits for the sweep: it gives way to everyone else's commands between batches.
        await new Promise((resolve) => setTimeout(resolve, SWEEP_PAUSE_MS));
      } while (cursor !== '0');
    }
  }

  private async evictPrefixNow(min: Buffer, max: Buffer, markedAt: number): Promise<number> {
    const redis = await this.redis();
    let removed = 0;
    let offset = 0;
    for (;;) {
      const members = await redis.zrangebylex(this.pathsKey, min, max, 'LIMIT', offset, this.batch);
      if (members.length === 0) break;
      const hashes = members.map((m) => m.slice(m.lastIndexOf('\0') + 1));
      const gone = await this.removeOvertaken(hashes, markedAt);
      removed += gone.removed;
      // Members whose entries had already expired go too; those rendered since stay.
      const stale = members.filter((_, k) => gone.overtaken.has(hashes[k]));
      if (stale.length > 0) await redis.zrem(this.pathsKey, ...stale);
      offset += members.length - stale.length;
      if (members.length < this.batch) break;
    }
    return removed;
  }

  /**
   * Removes those of `hashes` rendered before `markedAt` (or without a render time): resolves
   * which they were, and how many of their entries still existed.
   */
  private async removeOvertaken(
    hashes: string[],
    markedAt: number,
  ): Promise<{ overtaken: Set<string>; removed: number }> {
    if (hashes.length === 0) return { overtaken: new Set(), removed: 0 };
    const metas = await this.summariesOf(hashes);
    const overtaken: string[] = [];
    const theirs: (CacheEntrySummary | undefined)[] = [];
    hashes.forEach((hash, i) => {
      const meta = metas[i];
      if (meta?.renderedAt !== undefined && meta.renderedAt >= markedAt) return;
      overtaken.push(hash);
      theirs.push(meta);
    });
    return { overtaken: new Set(overtaken), removed: await this.removeHashes(overtaken, theirs) };
  }

  async clear(): Promise<number> {
    const redis = await this.redis();
    await this.evictionClock.mark({ all: true });
    const live = await this.count();
    // SCAN walks one server's keys. On a cluster every key of the store is in one slot, on one
    // master: scan each (the others answer nothing), so a slot that moved is still found.
    for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(
          cursor,
          'MATCH',
          `${escapeGlob(this.prefix)}*`,
          'COUNT',
          1000,
        );
        cursor = next;
        // The eviction clock stays: renders under way must still learn of this eviction.
        const evicted = keys.filter((k) => !this.evictionClock.owns(k));
        // Through the client: on a cluster it sends them to the slot's master.
        if (evicted.length > 0) await redis.unlink(...evicted);
      } while (cursor !== '0');
    }
    return live;
  }

  async count(): Promise<number> {
    const redis = await this.redis();
    return redis.zcount(this.expiryKey, `(${Date.now()}`, '+inf');
  }

  async list({ skip, take }: { skip: number; take: number }): Promise<CacheEntrySummary[]> {
    if (take <= 0) return [];
    const redis = await this.redis();
    const hashes = await redis.zrangebyscore(
      this.expiryKey,
      `(${Date.now()}`,
      '+inf',
      'LIMIT',
      skip,
      take,
    );
    if (hashes.length === 0) return [];
    return (await this.summariesOf(hashes)).filter((m) => m !== undefined);
  }

  /**
   * Soft eviction: the selected fresh entries become stale now, re-written with their grace, so
   * they are served stale while one refresh runs; an entry without grace is deleted. Resolves
   * how many were marked or deleted.
   */
  async markStale(selector: StaleSelector): Promise<number> {
    const redis = await this.redis();
    // A render under way would otherwise store a fresh page from data older than this. The
    // stale copies are written as of this mark: they are meant to be served (stale).
    const markedAt = await this.evictionClock.mark(
      'key' in selector ? { keyHash: keyHash(selector.key) } : selector,
    );
    let hashes: string[];
    if ('tags' in selector) {
      const members = await Promise.all(selector.tags.map((t) => redis.smembers(this.tagKey(t))));
      hashes = [...new Set(members.flat())];
    } else if ('prefix' in selector) {
      const [min, max] = prefixRange(selector.prefix);
      hashes = (await redis.zrangebylex(this.pathsKey, min, max)).map((m) =>
        m.slice(m.lastIndexOf('\0') + 1),
      );
    } else if ('key' in selector) {
      hashes = [keyHash(selector.key)];
    } else {
      hashes = await redis.zrangebyscore(this.expiryKey, `(${Date.now()}`, '+inf');
    }
    const now = Date.now();
    let marked = 0;
    for (let i = 0; i < hashes.length; i += this.batch) {
      const batch = hashes.slice(i, i + this.batch);
      const datas = await redis.mgetBuffer(...batch.map((h) => this.entryKey(h)));
      const pipeline = redis.pipeline();
      const graceless: string[] = [];
      datas.forEach((data, j) => {
        const entry = data ? decodeEntry(data) : undefined;
        if (!entry || typeof entry === 'string') return;
        if (entry.expiresAt <= now) {
          // Already stale: not counted, its grace unchanged, but written as of this mark too,
          // or the mark would read as overtaking it (and a soft eviction would delete it).
          const left = retainUntil(entry) - now;
          if (entry.renderedAt === undefined || entry.renderedAt >= markedAt || left <= 0) return;
          const kept = { ...entry, renderedAt: markedAt };
          pipeline.set(this.entryKey(batch[j]), encodeEntry(kept), 'PX', left);
          pipeline.hset(this.metaKey, batch[j], JSON.stringify(summarize(kept)));
          pipeline.hset(this.renderedKey, batch[j], markedAt);
          return;
        }
        const hash = batch[j];
        const stale = staleCopy(entry, now);
        if (!stale) {
          graceless.push(hash);
          return;
        }
        stale.renderedAt = markedAt;
        pipeline.set(this.entryKey(hash), encodeEntry(stale), 'PX', retainUntil(stale) - now);
        // count() and list() read the indexes: they follow the entry's new expiry.
        pipeline.zadd(this.expiryKey, retainUntil(stale), hash);
        pipeline.hset(this.metaKey, hash, JSON.stringify(summarize(stale)));
        pipeline.hset(this.renderedKey, hash, markedAt);
        marked++;
      });
      if (pipeline.length > 0) await execOrThrow(pipeline);
      // No grace to be served stale in: the eviction is a hard one.
      marked += await this.removeHashes(graceless);
    }
    return marked;
  }

  /**
   * Takes the cross-instance render lock of `key` (SET NX PX). Resolves a release function, or
   * undefined when another instance holds it.
   */
  async acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const redis = await this.redis();
    const lockKey = `${this.prefix}l:${keyHash(key)}`;
    const token = randomBytes(12).toString('base64url');
    const ok = await redis.set(lockKey, token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') return undefined;
    return async () => {
      await redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
    };
  }

  /** Drops expired entries from the indexes, a batch at a time. Runs in the background. */
  async cleanup(): Promise<number> {
    const redis = await this.redis();
    let cleaned = 0;
    for (;;) {
      const hashes = await redis.zrangebyscore(
        this.expiryKey,
        '-inf',
        Date.now(),
        'LIMIT',
        0,
        this.batch,
      );
      if (hashes.length === 0) break;
      cleaned += hashes.length;
      await this.removeHashes(hashes);
      if (hashes.length < this.batch) break;
    }
    return cleaned;
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * Closes the store for good: stops the cleanup and closes the connection if the store opened
   * it, within about a second whatever its state (a clean QUIT when Redis answers, else the
   * socket is dropped). Every later call rejects at once and opens no connection.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
    const connection = this.ownConnection;
    this.ownConnection = undefined;
    this.client = undefined;
    this.connecting = undefined;
    if (this.owned && connection) await closeConnection(connection);
  }

  /** The summaries of `hashes` (undefined where there is none, or it is unreadable). */
  private async summariesOf(hashes: string[]): Promise<(CacheEntrySummary | undefined)[]> {
    const redis = await this.redis();
    return (await redis.hmget(this.metaKey, ...hashes)).map((m) =>
      m ? parseSummary(m) : undefined,
    );
  }

  /**
   * Removes entries and their index memberships (`metas`: their summaries, when the caller read
   * them already); resolves how many entries existed.
   */
  private async removeHashes(
    hashes: string[],
    metas?: (CacheEntrySummary | undefined)[],
  ): Promise<number> {
    if (hashes.length === 0) return 0;
    const redis = await this.redis();
    metas ??= await this.summariesOf(hashes);
    // A pipeline, not MULTI: a transaction of thousands of commands would run as one block and
    // hold up every other client; eviction needs no atomicity.
    const pipeline = redis.pipeline();
    hashes.forEach((hash, i) => {
      pipeline.unlink(this.entryKey(hash));
      const meta = metas[i];
      for (const tag of meta?.tags ?? []) pipeline.srem(this.tagKey(tag), hash);
      if (meta) pipeline.zrem(this.pathsKey, `${meta.path}\0${hash}`);
    });
    pipeline.zrem(this.expiryKey, ...hashes);
    pipeline.hdel(this.metaKey, ...hashes);
    pipeline.hdel(this.renderedKey, ...hashes);
    const results = await execOrThrow(pipeline);
    let removed = 0;
    let index = 0;
    for (const meta of metas) {
      if (results[index] === 1) removed++;
      index += 1 + (meta?.tags.length ?? 0) + (meta ? 1 : 0);
    }
    return removed;
  }

  private startCleanup(): void {
    const seconds = this.options.cleanupInterval ?? 60;
    if (seconds <= 0 || this.cleanupTimer) return;
    this.cleanupTimer = setInterval(() => {
      this.cleanup().catch((error) => this.logError('cleanup', error));
    }, seconds * 1000);
    this.cleanupTimer.unref();
  }

  private logError(what: string, error: Error): void {
    // An outage reports an error per retry: say it once a few seconds.
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.logger.warn(`redis ${what}: ${error.message}`);
  }

  private entryKey(hash: string): string {
    return `${this.prefix}e:${hash}`;
  }

  private tagKey(tag: string): string {
    return `${this.prefix}t:${tag}`;
  }

  private get expiryKey(): string {
    return `${this.prefix}x`;
  }

  private get metaKey(): string {
    return `${this.prefix}m`;
  }

  /** Render times by entry hash (the clock value), for the read's fast path. */
  private get renderedKey(): string {
    return `${this.prefix}r`;
  }

  private get pathsKey(): string {
    return `${this.prefix}p`;
  }
}

/**
 * Ends a connection within `timeoutMs`, whatever its state: a QUIT (pending replies arrive
 * first) when it is ready, raced against the timer; then, or at once when it is not ready
 * (connecting, reconnecting to a Redis that is down, where QUIT would wait in the offline queue
 * for ever), the socket is dropped and reconnection stops.
 *
 * @example
 * ```ts
 * await closeConnection(subscriber); // resolves within a second, Redis up or down
 * ```
 */
export async function closeConnection(
  client: Redis | Cluster,
  timeoutMs = CLOSE_TIMEOUT_MS,
): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<void>((resolve) => client.once('end', resolve));
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    // QUIT's reply comes before the server closes the socket: wait for the close as well.
    const quit = client.quit().then(
      () => ended,
      () => undefined,
    );
    await Promise.race([quit, expired]);
    clearTimeout(timer);
    // Ended cleanly: a disconnect now would set a Cluster back to 'disconnecting' for good.
    if ((client.status as string) === 'end') return;
  }
  client.disconnect();
}

/** Whether `client` is an ioredis `Cluster` (ioredis itself is loaded lazily: no instanceof). */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return client.isCluster;
}

/**
 * `prefix` with a Redis Cluster hash tag, so that every key under it hashes to one slot: kept if
 * its first `{` is closed by a `}` within it around something, else wrapped (`oc:` → `{oc}:`).
 */
function hashTagged(prefix: string): string {
  const hasTag = (p: string) => {
    const open = p.indexOf('{');
    return open >= 0 && p.indexOf('}', open + 1) > open + 1;
  };
  if (hasTag(prefix)) return prefix;
  const body = prefix.endsWith(':') ? prefix.slice(0, -1) : prefix;
  const tagged = `{${body}}${prefix.slice(body.length)}`;
  if (!hasTag(tagged)) {
    throw new Error(
      `RedisOutputCacheStore: on a Redis Cluster every key of the store must live in one slot, ` +
        `and the prefix ${JSON.stringify(prefix)} cannot be given a hash tag: use one like '{oc}:'.`,
    );
  }
  return tagged;
}

function closedError(): Error {
  return new Error(
    'RedisOutputCacheStore is closed: close() (or the app shutting down) ended it for good, and ' +
      'it opens no connection again. Make calls before closing, or create a new store.',
  );
}

/** ZRANGEBYLEX bounds of every `{path}\0{hash}` member whose path starts with `prefix`. */
function prefixRange(prefix: string): [Buffer, Buffer] {
  const min = Buffer.from(`[${prefix}`);
  return [min, Buffer.concat([min, Buffer.from([0xff])])];
}

function parseSummary(json: string): CacheEntrySummary | undefined {
  try {
    const value = JSON.parse(json) as CacheEntrySummary;
    return Array.isArray(value.tags) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function execOrThrow(
  multi: ReturnType<(Redis | Cluster)['multi']> | ReturnType<(Redis | Cluster)['pipeline']>,
): Promise<unknown[]> {
  const results = await multi.exec();
  if (!results) throw new Error('redis transaction was aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}
