import type { OutputCacheStore } from '../../lib/index.js';
import { describeOutputCacheStore } from '../../lib/testing.js';

/**
 * The store contract is a product now: `nestjs-output-cache/testing` (`lib/testing.ts`). This
 * file keeps the older call shape for tests that still use it; new tests call
 * `describeOutputCacheStore` and declare their capabilities.
 */
export { checkEvictionClock, makeTestEntry as makeEntry } from '../../lib/testing.js';

/** What a store's test file gives the contract suite. */
export interface StoreUnderTest {
  store: OutputCacheStore;
  /** Writes raw bytes where the store keeps `key`'s entry (stores that keep bytes). */
  writeRaw?: (key: string, bytes: Buffer) => Promise<void>;
  /** Releases connections; the store's own close is tested here too. */
  close: () => Promise<void>;
}

/** What the contract can do with a store (the rest is detected). */
export interface StoreCapabilities {
  /** The store keeps bytes (it must give `writeRaw`): corrupt entries are tested. */
  keepsBytes: boolean;
  /** The store implements `markStale` (soft eviction). */
  softEviction?: boolean;
}

/**
 * The exported suite over `open()`: a second `open()` is the peer (another instance on the same
 * data), and capabilities are detected in each test.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  capabilities: StoreCapabilities,
): void {
  const opened = new Map<OutputCacheStore, StoreUnderTest>();
  const create = async () => {
    const sut = await open();
    if (capabilities.keepsBytes && !sut.writeRaw) {
      throw new Error(`${name}: a store that keeps bytes must give writeRaw`);
    }
    if (capabilities.softEviction && typeof (sut.store as any).markStale !== 'function') {
      throw new Error(`${name}: a store tested for soft eviction must implement markStale`);
    }
    opened.set(sut.store, sut);
    return sut.store;
  };
  describeOutputCacheStore(name, {
    create,
    createPeer: create,
    destroy: (store) => opened.get(store)?.close(),
    writeRaw: capabilities.keepsBytes
      ? (store, key, bytes) => opened.get(store)!.writeRaw!(key, bytes)
      : undefined,
  });
}
