import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { ResilientStore } from '../stores/resilient.store.js';

/** First pause before a failed eviction is replayed; it doubles up to {@link MAX_DELAY_MS}. */
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** Past this many waiting evictions, they are replaced by one eviction of everything. */
const MAX_PENDING = 1000;

/** An eviction the store refused, to be made again once it answers. */
export interface PendingEviction {
  /** What it evicts, for the log (`tag Product:5`). */
  what: string;
  operation: string;
  run: (store: OutputCacheStore) => Promise<unknown>;
  /** Called with the store's answer once the replay succeeded (reports the eviction). */
  done?: (result: unknown) => void;
}

/**
 * Evictions that failed (store down, breaker open) are not forgotten: they wait here, in order,
 * and are made again with a growing pause until the store answers, so a page an edit made stale
 * is not served until it expires just because the store was away at the moment of the edit.
 * Making one again later is always safe: at worst it evicts a page rendered since (one more miss).
 * Past {@link MAX_PENDING} waiting evictions, they become one eviction of everything.
 */
@Injectable()
export class EvictionReplay implements OnModuleDestroy {
  private readonly logger = new Logger('OutputCache');
  private queue: (PendingEviction & { since: number })[] = [];
  private timer: NodeJS.Timeout | undefined;
  private delay = FIRST_DELAY_MS;
  private replaying: Promise<void> | undefined;

  constructor(private readonly store: ResilientStore) {
    // The store answers a request again: replay now rather than at the next scheduled try.
    store.onRecovered(() => {
      if (this.queue.length > 0) void this.flush();
    });
  }

  /** How many evictions wait for the store. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues an eviction that failed; it is replayed until the store takes it. */
  defer(eviction: PendingEviction): void {
    if (this.queue.length >= MAX_PENDING) {
      this.logger.error(
        `${this.queue.length} evictions wait for the store: replacing them with one eviction of everything`,
      );
      this.queue = [];
      eviction = { what: 'everything', operation: 'clear', run: (store) => store.clear() };
    }
    this.queue.push({ ...eviction, since: Date.now() });
    this.schedule();
  }

  /** Replays what waits now (tests, and an app that knows the store is back). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.replaying ??= this.replay().finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length > 0) {
      this.logger.error(
        `${this.queue.length} eviction(s) never reached the store (${this.queue.map((e) => e.what).join('; ')}): their pages are served until they expire`,
      );
    }
  }

  private schedule(): void {
    if (this.timer || this.replaying) return;
    this.timer = setTimeout(() => void this.flush(), this.delay);
    this.timer.unref();
  }

  private async replay(): Promise<void> {
    while (this.queue.length > 0) {
      const next = this.queue[0];
      let result: unknown;
      try {
        result = await this.store.call(next.operation, next.run);
      } catch {
        this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
        this.replaying = undefined;
        this.schedule();
        return;
      }
      this.queue.shift();
      this.delay = FIRST_DELAY_MS;
      this.logger.log(
        `eviction of ${next.what} made ${Math.round((Date.now() - next.since) / 1000)} s late, once the store answered`,
      );
      next.done?.(result);
    }
  }
}
