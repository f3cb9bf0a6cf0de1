import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import {
  canLock,
  canReadSync,
  canSoftEvict,
  hasEvictionBus,
  hasEvictionClock,
} from '../stores/store-capabilities.js';
import type { TestBody, TestRunner } from './test-runner.js';

/**
 * An optional ability of a store, each found by its methods: `syncRead` (`getSync`), `lock`
 * (`acquireLock`), `softEviction` (`markStale`), `evictionBus` (`onRemoteEviction`) and
 * `evictionClock` (`clock` and `setIfCurrent`).
 */
export type StoreCapability =
  'syncRead' | 'lock' | 'softEviction' | 'evictionBus' | 'evictionClock';

/**
 * Every capability, in the order the suite tests them.
 *
 * @example
 * ```ts
 * const lacking = STORE_CAPABILITIES.filter((c) => !detectCapabilities(store).includes(c));
 * ```
 */
export const STORE_CAPABILITIES: readonly StoreCapability[] = [
  'syncRead',
  'lock',
  'softEviction',
  'evictionBus',
  'evictionClock',
];

/**
 * The capabilities `store` has, found by the same guards the cache uses.
 *
 * @example
 * ```ts
 * detectCapabilities(new MemoryOutputCacheStore()); // ['syncRead', 'softEviction']
 * ```
 */
export function detectCapabilities(store: OutputCacheStore): StoreCapability[] {
  const found: Record<StoreCapability, boolean> = {
    syncRead: canReadSync(store),
    lock: canLock(store),
    softEviction: canSoftEvict(store),
    evictionBus: hasEvictionBus(store),
    evictionClock: hasEvictionClock(store),
  };
  return STORE_CAPABILITIES.filter((c) => found[c]);
}

/**
 * How {@link describeOutputCacheStore} gets a store to test, and what it may expect of it.
 *
 * @example
 * ```ts
 * describeOutputCacheStore<MyStore>('my store', {
 *   create: () => new MyStore({ url: process.env.MY_URL, prefix: `test-${process.pid}:` }),
 *   createPeer: () => new MyStore({ url: process.env.MY_URL, prefix: `test-${process.pid}:` }),
 *   destroy: (store) => store.close(),
 *   capabilities: ['lock', 'evictionClock'],
 * });
 * ```
 */
export interface OutputCacheStoreSuiteOptions<S extends OutputCacheStore = OutputCacheStore> {
  /** A store on data of its own: created once, before the first test; cleared before each. */
  create(): S | Promise<S>;
  /** Closes a store the suite created (`create`'s and `createPeer`'s), after the last test. */
  destroy?(store: S): unknown;
  /**
   * A second instance on the same shared data as `store`, as another process of the app would
   * have it. Needed by a store with an eviction bus (another instance must hear the evictions);
   * when given, locks and the eviction clock are also tested across the two instances.
   */
  createPeer?(store: S): S | Promise<S>;
  /**
   * The capabilities the store declares. The suite checks that the store has exactly these (so a
   * renamed method cannot drop a whole group unnoticed) and runs their tests. Left out, the
   * capabilities are detected in each test, and the tests of those the store lacks pass as not
   * applicable: declare them.
   */
  capabilities?: readonly StoreCapability[];
  /**
   * Writes raw bytes where the store keeps `key`'s entry, for a store that keeps bytes: given,
   * the suite checks that corrupt and older-format entries read as a miss.
   */
  writeRaw?(store: S, key: string, bytes: Buffer): Promise<void>;
  /**
   * Records an eviction of `tags` on the store's eviction clock without deleting anything (an
   * eviction cut short), when the store can: given, the suite checks that it still takes effect.
   */
  markOnly?(store: S, tags: string[]): Promise<unknown>;
  /** Body size of the large-entry test. Default 8 MiB less 1 KiB (under `maxEntryBytes`). */
  largeBodyBytes?: number;
  /** Passed to `it` as its timeout (jest, vitest); leave out under `node:test`. */
  timeoutMs?: number;
  /** The runner's functions; default: its globals (see {@link TestRunner}). */
  runner?: Partial<TestRunner>;
}

/** What each group of the suite gets: the store of the test, a peer, and how to register. */
export interface StoreSuiteContext<S extends OutputCacheStore = OutputCacheStore> {
  readonly name: string;
  readonly options: OutputCacheStoreSuiteOptions<S>;
  /** The store under test (created before the first test, cleared before each). */
  store(): S;
  /** The second instance on the same data (created on first use); fails without `createPeer`. */
  peer(): Promise<S>;
  /** Registers a test of the core contract. */
  it(title: string, body: TestBody): void;
  /** Registers a test of `capability`; runs it on a store that has it. */
  itWhen(capability: StoreCapability, title: string, body: TestBody): void;
}
