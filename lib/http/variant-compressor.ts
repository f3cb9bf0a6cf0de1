import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { EvictionLog } from '../provider/eviction-log.js';
import type { CacheEntry } from '../stores/cache-entry.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { BackgroundTasks } from './background-tasks.js';
import { precompress } from './variants.js';

/**
 * Makes the gzip and brotli variants of an entry once, on its first hit, off the event loop,
 * and stores the entry again with them. Waiting for a first hit spares the CPU for pages
 * requested once (most entries of a crawl or a cache-busting flood): a miss costs no more than
 * a render. Entries not worth it are settled when built (`variants: {}`) and never tried again.
 */
@Injectable()
export class VariantCompressor {
  private readonly compressing = new Set<string>();
  /** Entry objects already tried here (a failed attempt is not repeated on every hit). */
  private readonly tried = new WeakSet<CacheEntry>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
    private readonly store: ResilientStore,
    private readonly evictions: EvictionLog,
    private readonly tasks: BackgroundTasks,
  ) {}

  /** Called on each hit of a page without holes; starts the work at most once per entry. */
  onHit(entry: CacheEntry): void {
    if (!this.options.precompress || entry.variants || this.tried.has(entry)) return;
    if (this.compressing.has(entry.key)) return;
    this.tried.add(entry);
    this.compressing.add(entry.key);
    const since = this.evictions.now();
    const started = this.tasks.run('variant compression', async () => {
      try {
        await this.compress(entry, since);
      } finally {
        this.compressing.delete(entry.key);
      }
    });
    if (!started) this.compressing.delete(entry.key);
  }

  protected async compress(entry: CacheEntry, since: number): Promise<void> {
    const copy: CacheEntry = { ...entry };
    await precompress(copy);
    const evicted = () => this.evictions.evictedSince(since, entry.key, entry.path, entry.tags);
    if (evicted()) return;
    // Only if the entry is still the one compressed (not replaced nor evicted meanwhile).
    const current = this.store.readSync?.(entry.key) ?? (await this.store.get(entry.key));
    if (current?.createdAt !== entry.createdAt) return;
    // Kept only if nothing it carries was evicted since its render began (any instance).
    if ((await this.store.setIfCurrent(copy)) !== 'stored') return;
    // An eviction that ran while the write was on its way did not see the copy.
    if (evicted()) await this.store.delete(entry.key);
  }
}
