import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { ComponentRegistry } from '../components/component.registry.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';
import type { CacheEntry } from '../stores/cache-entry.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { BackgroundTasks } from './background-tasks.js';
import { unservableReason } from './entry-validator.js';

/**
 * The read stage: the entry under a key, synchronously when the store can answer at once (a
 * memory hit costs no promise), else through the resilient store (a failure is a miss). An
 * entry that cannot be served ({@link unservableReason}) is a miss: it is deleted, counted, and
 * logged once per key.
 */
@Injectable()
export class EntryReader {
  protected readonly logger = new Logger('OutputCache');
  /** Entries already checked (a memory store hands back the same object on every hit). */
  private readonly checked = new WeakSet<CacheEntry>();
  private readonly reported = new LRUCache<string, true>({ max: 1000 });

  constructor(
    protected readonly store: ResilientStore,
    protected readonly components: ComponentRegistry,
    protected readonly events: OutputCacheEvents,
    protected readonly tasks: BackgroundTasks,
  ) {}

  /** The servable entry under `key` (fresh or not), or undefined. */
  read(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    const local = this.store.readSync?.(key);
    if (local && (local.expiresAt > Date.now() || this.store.syncIsComplete)) {
      return this.servable(local);
    }
    if (this.store.syncIsComplete) return undefined;
    return this.store.get(key).then((entry) => (entry ? this.servable(entry) : undefined));
  }

  /** The entry if it can be served; else drops it. */
  servable(entry: CacheEntry): CacheEntry | undefined {
    if (this.checked.has(entry)) return entry;
    const reason = unservableReason(entry, (name) => this.components.has(name));
    if (reason === undefined) {
      this.checked.add(entry);
      return entry;
    }
    this.events.decision({
      result: 'unservable',
      route: entry.routeId,
      reason,
      url: entry.path,
      key: entry.key,
    });
    if (!this.reported.has(entry.key)) {
      this.reported.set(entry.key, true);
      this.logger.warn(`unservable entry (${reason}) for ${entry.key}: deleted, rendered anew`);
    }
    this.tasks.run('deleting an unservable entry', () => this.store.delete(entry.key));
    return undefined;
  }
}
