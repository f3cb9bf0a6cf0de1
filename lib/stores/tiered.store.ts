import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { type CacheEntry, type CacheEntrySummary, retainUntil } from './cache-entry.js';
import { MemoryOutputCacheStore, type MemoryStoreOptions } from './memory.store.js';
import type {
  EvictionBusStore,
  EvictionClockStore,
  LocalCopyStore,
  LockingStore,
  RemoteEviction,
  SoftEvictingStore,
  StaleSelector,
  SyncReadableStore,
} from './output-cache-store.interface.js';
import {
  closeConnection,
  isCluster,
  RedisOutputCacheStore,
  type RedisStoreOptions,
} from './redis.store.js';

/** Options of {@link TieredOutputCacheStore}. Durations are seconds. */
export interface TieredStoreOptions {
  /** The shared store (L2), or options to create one. */
  redis: RedisOutputCacheStore | RedisStoreOptions;
  /** Bounds of the in-process L1. Default: 2,000 entries, 64 MiB. */
  memory?: MemoryStoreOptions;
  /** Longest an entry stays in L1. Default 300. */
  l1MaxTtl?: number;
  /**
   * Longest an L1 copy is served without asking the shared store again (whose eviction clock
   * every instance advances): the bound on how long a lost bus message can matter. Default 2.
   */
  l1Revalidate?: number;
  /** Pub/sub channel of the eviction bus. Default `{prefix}evictions`. */
  channel?: string;
}

/**
 * Longest the first call waits for the bus to subscribe. Past it the store goes on (a Redis that
 * is down must not hold every call up); ioredis subscribes once Redis answers.
 */
const BUS_SUBSCRIBE_WAIT_MS = 2000;

interface BusMessage {
  from: string;
  eviction: RemoteEviction;
}

/**
 * Memory in each instance (L1) in front of Redis (L2), kept coherent by a Redis pub/sub bus: an
 * eviction on any instance is applied to the shared store once, by that instance, and published;
 * every other instance evicts its L1. When the bus connection comes back after a loss, L1 is
 * dropped whole: evictions may have been missed meanwhile.
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({
 *   store: new TieredOutputCacheStore({ redis: { url: process.env.REDIS_URL } }),
 * })
 * ```
 */
export class TieredOutputCacheStore
  implements
    SyncReadableStore,
    LocalCopyStore,
    LockingStore,
    SoftEvictingStore,
    EvictionBusStore,
    EvictionClockStore,
    OnModuleDestroy
{
  private readonly logger = new Logger('OutputCache');
  readonly l1: MemoryOutputCacheStore;
  readonly l2: RedisOutputCacheStore;
  private readonly ownsL2: boolean;
  private readonly id = randomBytes(8).toString('base64url');
  private readonly l1MaxTtlMs: number;
  private readonly revalidateMs: number;
  /** When each L1 copy was last confirmed by the shared store. */
  private readonly checkedAt = new WeakMap<CacheEntry, number>();
  /** Bumped by every eviction applied to L1: a backfill that raced one is dropped. */
  private epoch = 0;
  private subscriber: Redis | Cluster | undefined;
  private starting: Promise<void> | undefined;
  private readonly listeners: ((eviction: RemoteEviction) => void)[] = [];
  private wasConnected = false;
  private closed = false;
  private stopBusWait: (() => void) | undefined;

  constructor(private readonly options: TieredStoreOptions) {
    this.l1 = new MemoryOutputCacheStore({
      maxEntries: options.memory?.maxEntries ?? 2_000,
      maxBytes: options.memory?.maxBytes ?? 64 * 1024 * 1024,
    });
    this.ownsL2 = !(options.redis instanceof RedisOutputCacheStore);
    this.l2 =
      options.redis instanceof RedisOutputCacheStore
        ? options.redis
        : new RedisOutputCacheStore(options.redis);
    this.l1MaxTtlMs = (options.l1MaxTtl ?? 300) * 1000;
    this.revalidateMs = (options.l1Revalidate ?? 2) * 1000;
  }

  /** Connects the bus (once, a couple of seconds at most); every method waits for it. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.starting ??= this.connectBus();
    return this.starting;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    if (this.closed) throw closedError();
    const local = this.getSync(key);
    if (local) return local;
    await this.start();
    const epoch = this.epoch;
    // The shared store reads with its eviction clock: an overtaken entry is a miss there.
    const shared = await this.l2.get(key);
    if (shared) await this.putL1(shared, epoch);
    else if (epoch === this.epoch) await this.l1.delete(key);
    return shared;
  }

  /**
   * L1 only, synchronously: lets a hit skip every promise. A copy not confirmed by the shared
   * store for `l1Revalidate` seconds is not answered here (the caller reads the shared store).
   */
  getSync(key: string): CacheEntry | undefined {
    const local = this.l1.getSync(key);
    if (!local) return undefined;
    const checked = this.checkedAt.get(local);
    return checked !== undefined && Date.now() - checked <= this.revalidateMs ? local : undefined;
  }

  /**
   * L1's copy whether confirmed or not: what the cache falls back on, for stale-if-error only,
   * when the shared store fails (see {@link LocalCopyStore}).
   */
  getLocalCopy(key: string): CacheEntry | undefined {
    return this.closed ? undefined : this.l1.getSync(key);
  }

  async set(entry: CacheEntry): Promise<void> {
    if (this.closed) throw closedError();
    await this.start();
    const epoch = this.epoch;
    await this.l2.set(entry);
    await this.putL1(entry, epoch);
  }

  /** Copies an entry into L1, unless an eviction reached L1 since `epoch` (it may cover it). */
  private async putL1(entry: CacheEntry, epoch: number): Promise<void> {
    if (epoch !== this.epoch) return;
    const copy = this.forL1(entry);
    await this.l1.set(copy);
    this.checkedAt.set(copy, Date.now());
  }

  /** The shared store's eviction clock (kept in Redis). */
  async clock(): Promise<number> {
    if (this.closed) throw closedError();
    return this.l2.clock();
  }

  /** Stored in the shared store only if not overtaken there (by any instance), then in L1. */
  async setIfCurrent(entry: CacheEntry): Promise<boolean> {
    if (this.closed) throw closedError();
    await this.start();
    const epoch = this.epoch;
    if (!(await this.l2.setIfCurrent(entry))) return false;
    await this.putL1(entry, epoch);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.evictEverywhere({ kind: 'key', key }, () => this.l2.delete(key));
  }

  async evictTags(tags: readonly string[]): Promise<number> {
    return this.evictEverywhere({ kind: 'tags', tags: [...tags] }, () => this.l2.evictTags(tags));
  }

  async evictPrefix(pathPrefix: string): Promise<number> {
    return this.evictEverywhere({ kind: 'prefix', prefix: pathPrefix }, () =>
      this.l2.evictPrefix(pathPrefix),
    );
  }

  async clear(): Promise<number> {
    return this.evictEverywhere({ kind: 'all' }, () => this.l2.clear());
  }

  /**
   * An eviction made here: applied to the shared store once, then to this instance's L1, then
   * published so that every other instance applies it to its L1.
   */
  private async evictEverywhere<T>(eviction: RemoteEviction, shared: () => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    await this.start();
    const result = await shared();
    this.applyLocally(eviction);
    await this.publish(eviction);
    return result;
  }

  async count(): Promise<number> {
    if (this.closed) throw closedError();
    return this.l2.count();
  }

  async list(options: { skip: number; take: number }): Promise<CacheEntrySummary[]> {
    if (this.closed) throw closedError();
    return this.l2.list(options);
  }

  async acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    if (this.closed) throw closedError();
    return this.l2.acquireLock(key, ttlMs);
  }

  /**
   * What this instance's L1 holds (entries, bytes): the shared store's size is not known
   * without a scan. Reported as `usage` in the stats.
   */
  usage(): { entries: number; bytes: number } {
    return this.l1.usage();
  }

  onRemoteEviction(listener: (eviction: RemoteEviction) => void): void {
    this.listeners.push(listener);
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * Closes the store for good: the bus, L1, and the shared store if this store created it,
   * within about a second whatever their state (Redis up or down). Every later call rejects at
   * once; the bus is not connected again.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopBusWait?.();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) subscriber.removeAllListeners('ready');
    await Promise.all([
      // The bus queues commands while Redis is down: QUIT there would wait for ever.
      subscriber && closeConnection(subscriber),
      this.ownsL2 && this.l2.close(),
    ]);
    await this.l1.clear();
  }

  private get channel(): string {
    return this.options.channel ?? `${this.l2.keyPrefix}evictions`;
  }

  private forL1(entry: CacheEntry): CacheEntry {
    const cap = Date.now() + this.l1MaxTtlMs;
    return retainUntil(entry) > cap
      ? {
          ...entry,
          expiresAt: Math.min(entry.expiresAt, cap),
          graceUntil: entry.graceUntil === undefined ? undefined : Math.min(entry.graceUntil, cap),
          retainUntil: cap,
        }
      : entry;
  }

  /** Soft eviction: stale in the shared store; every instance drops its copy and reads it anew. */
  async markStale(selector: StaleSelector): Promise<number> {
    const eviction: RemoteEviction =
      'tags' in selector
        ? { kind: 'tags', tags: [...selector.tags] }
        : 'prefix' in selector
          ? { kind: 'prefix', prefix: selector.prefix }
          : 'key' in selector
            ? { kind: 'key', key: selector.key }
            : { kind: 'all' };
    return this.evictEverywhere(eviction, () => this.l2.markStale(selector));
  }

  private async publish(eviction: RemoteEviction): Promise<void> {
    const redis = await this.l2.redis();
    const message: BusMessage = { from: this.id, eviction };
    await redis.publish(this.channel, JSON.stringify(message));
  }

  private async connectBus(): Promise<void> {
    const main = await this.l2.redis();
    // Closed while the shared store connected (a store given to us is not closed with us).
    if (this.closed) throw closedError();
    // A subscribed connection can do nothing else: a second one, with the same settings, that
    // reconnects forever (offline queue on, so SUBSCRIBE is replayed after a reconnect). On a
    // cluster, a second cluster client: it subscribes on one node (re-subscribing on another if
    // that one goes), and a message published on any node reaches every node.
    const subscriber = isCluster(main)
      ? main.duplicate([], {
          enableOfflineQueue: true,
          redisOptions: {
            ...main.options.redisOptions,
            maxRetriesPerRequest: null,
            commandTimeout: undefined,
          },
        })
      : main.duplicate({
          enableOfflineQueue: true,
          maxRetriesPerRequest: null,
          commandTimeout: undefined,
        });
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.logger.debug(`eviction bus: ${error.message}`));
    subscriber.on('message', (_channel: string, raw: string) => this.receive(raw));
    subscriber.on('ready', () => {
      if (this.wasConnected) {
        // Back after a loss: evictions may have been published meanwhile.
        this.logger.warn('eviction bus reconnected: dropping the local cache');
        this.epoch++;
        void this.l1.clear();
        for (const listener of this.listeners) listener({ kind: 'all' });
      }
      this.wasConnected = true;
    });
    // Waits for the subscription, briefly: a Redis that is down must not hold every call up
    // (ioredis subscribes once it answers); close() ends the wait at once.
    const subscribed = await new Promise<boolean>((resolve) => {
      const finish = (done: boolean) => {
        clearTimeout(timer);
        this.stopBusWait = undefined;
        resolve(done);
      };
      const timer = setTimeout(() => finish(false), BUS_SUBSCRIBE_WAIT_MS);
      this.stopBusWait = () => finish(true);
      subscriber.subscribe(this.channel).then(
        () => finish(true),
        (error: Error) => {
          if (!this.closed) this.logger.warn(`eviction bus not subscribed yet: ${error.message}`);
          finish(true);
        },
      );
    });
    if (this.closed) throw closedError();
    if (!subscribed) {
      this.logger.warn(
        'eviction bus not subscribed yet (Redis is not answering): it subscribes once Redis is back',
      );
    }
  }

  private receive(raw: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(raw) as BusMessage;
    } catch {
      return;
    }
    if (message.from === this.id) return;
    this.applyLocally(message.eviction);
    for (const listener of this.listeners) listener(message.eviction);
  }

  private applyLocally(eviction: RemoteEviction): void {
    this.epoch++;
    switch (eviction.kind) {
      case 'tags':
        void this.l1.evictTags(eviction.tags);
        break;
      case 'prefix':
        void this.l1.evictPrefix(eviction.prefix);
        break;
      case 'key':
        void this.l1.delete(eviction.key);
        break;
      case 'all':
        void this.l1.clear();
        break;
      default:
        return;
    }
  }
}

function closedError(): Error {
  return new Error(
    'TieredOutputCacheStore is closed: close() (or the app shutting down) ended it for good, ' +
      'and it connects nothing again. Make calls before closing, or create a new store.',
  );
}
