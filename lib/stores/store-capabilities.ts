import type {
  EvictionBusStore,
  EvictionClockStore,
  EvictionReportingStore,
  LocalCopyStore,
  LockingStore,
  OutputCacheStore,
  SoftEvictingStore,
  SyncReadableStore,
  UsageReportingStore,
} from './output-cache-store.interface.js';

/** Whether the store can answer a read synchronously (a hit then costs no promise). */
export function canReadSync(store: OutputCacheStore): store is SyncReadableStore {
  return typeof (store as Partial<SyncReadableStore>).getSync === 'function';
}

/** Whether the store offers a render lock shared by every instance. */
export function canLock(store: OutputCacheStore): store is LockingStore {
  return typeof (store as Partial<LockingStore>).acquireLock === 'function';
}

/** Whether the store can mark entries stale instead of deleting them. */
export function canSoftEvict(store: OutputCacheStore): store is SoftEvictingStore {
  return typeof (store as Partial<SoftEvictingStore>).markStale === 'function';
}

/** Whether the store reports other instances' evictions. */
export function hasEvictionBus(store: OutputCacheStore): store is EvictionBusStore {
  return typeof (store as Partial<EvictionBusStore>).onRemoteEviction === 'function';
}

/** Whether the store keeps an eviction clock shared by every instance. */
export function hasEvictionClock(store: OutputCacheStore): store is EvictionClockStore {
  const candidate = store as Partial<EvictionClockStore>;
  return typeof candidate.clock === 'function' && typeof candidate.setIfCurrent === 'function';
}

/** Whether the store can say how many entries and bytes it holds. */
export function canReportUsage(store: OutputCacheStore): store is UsageReportingStore {
  return typeof (store as Partial<UsageReportingStore>).usage === 'function';
}

/** Whether the store reports the entries it drops on its own (LRU bound, expiry). */
export function reportsEvictions(store: OutputCacheStore): store is EvictionReportingStore {
  return typeof (store as Partial<EvictionReportingStore>).onEvicted === 'function';
}

/** Whether the store keeps local copies it can hand over when the shared store fails. */
export function keepsLocalCopies(store: OutputCacheStore): store is LocalCopyStore {
  return typeof (store as Partial<LocalCopyStore>).getLocalCopy === 'function';
}
