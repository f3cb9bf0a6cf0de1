import { type CacheEntry, MemoryOutputCacheStore } from '../../lib/index.js';

/**
 * A real memory store whose calls fail or hang on demand, as a network store does in an outage,
 * and that can run a hook just before a variant write lands (to race an eviction into it).
 */
export class FaultyStore extends MemoryOutputCacheStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  /** How many calls fail next, whatever the mode (then it applies again). */
  failNext = 0;
  /** Runs once, before the next write of an entry that carries a gzip variant. */
  beforeVariantWrite: (() => Promise<unknown>) | undefined;

  private act<T>(real: () => Promise<T>): Promise<T> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('connection reset'));
    }
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return real();
  }

  override get(key: string) {
    return this.act(() => super.get(key));
  }
  override set(entry: CacheEntry) {
    return this.act(async () => {
      const hook = entry.variants?.gzip ? this.beforeVariantWrite : undefined;
      this.beforeVariantWrite = hook ? undefined : this.beforeVariantWrite;
      await hook?.();
      return super.set(entry);
    });
  }
  override delete(key: string) {
    return this.act(() => super.delete(key));
  }
  override evictTags(tags: readonly string[]) {
    return this.act(() => super.evictTags(tags));
  }
  override evictPrefix(prefix: string) {
    return this.act(() => super.evictPrefix(prefix));
  }
  override clear() {
    return this.act(() => super.clear());
  }
  override count() {
    return this.act(() => super.count());
  }
  override list(options: { skip: number; take: number }) {
    return this.act(() => super.list(options));
  }
}
