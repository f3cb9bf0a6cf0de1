import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ROUTE_TAG_PREFIX } from '../output-cache.constants.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { type CacheEviction, OutputCacheEvents } from '../observability/output-cache-events.js';
import type { CdnPurgeBatch, CdnPurger } from './cdn-purger.interface.js';
import { CdnTagEncoder } from './cdn-tag-encoder.js';
import type { ResolvedCdnOptions } from './cdn.options.js';

/** Purges waiting for their batch, hard and soft apart. */
interface Pending {
  tags: Set<string>;
  prefixes: Set<string>;
  all: boolean;
}

/**
 * Forwards the app's evictions to the CDN's purger: listens to every eviction on
 * {@link OutputCacheEvents} made by this instance (`remote` ones were forwarded by the instance
 * that made them, so a cluster purges once), maps them to CDN tags (a route to `route:<id>`), and
 * sends them in batches of at most the purger's `maxTagsPerRequest`, after a short `linger` that
 * lets evictions of one commit share a request. A failed batch is retried with doubling delays,
 * then logged at error level (one line a batch). The app's eviction call never waits for it.
 * One purge is sent at a time: what is evicted meanwhile waits, merged, for the purge in flight
 * to end, so a CDN that answers slowly or not at all holds at most `maxPending` tags, never a
 * growing queue of batches.
 *
 * Not forwarded: `key` evictions (one variant of the app's cache, whose URL the key does not
 * tell: evict by tag, route or prefix to reach the CDN), and the store's own `lru`, `expiry` and
 * `overtaken`. Prefixes reach purgers that can purge by URL (Varnish); others log them.
 *
 * @example
 * ```ts
 * // Wired by OutputCacheModule when `cdn.purger` is set; to wait for purges in a test:
 * await app.get(CdnPurgeForwarder).flush();
 * ```
 */
@Injectable()
export class CdnPurgeForwarder implements OnModuleInit, OnApplicationShutdown {
  protected readonly logger = new Logger('OutputCache');
  private readonly cdn: ResolvedCdnOptions | undefined;
  private readonly encoder: CdnTagEncoder | undefined;
  private hard: Pending = empty();
  private soft: Pending = empty();
  private pendingTags = 0;
  private timer: NodeJS.Timeout | undefined;
  /**
   * The sender while it runs: it sends what waits, batch after batch (a purge never overtakes an
   * earlier one), until nothing does.
   */
  private sending: Promise<void> | undefined;
  private unlisten: (() => void) | undefined;
  private closed = false;

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedOutputCacheOptions,
    private readonly events: OutputCacheEvents,
  ) {
    this.cdn = options.cdn;
    this.encoder = options.cdn ? new CdnTagEncoder(options.cdn) : undefined;
  }

  onModuleInit(): void {
    if (!this.cdn?.purger) return;
    this.unlisten = this.events.listen({ eviction: (eviction) => this.accept(eviction) });
  }

  /** Sends what is waiting and resolves when every batch so far was sent (or given up). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const purger = this.cdn?.purger;
    // Started only with something to send: its first batch is awaited before `sending` clears.
    if (purger && this.sending === undefined && this.waiting()) this.sending = this.drain(purger);
    return this.sending ?? Promise.resolve();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unlisten?.();
    this.closed = true;
    await this.flush();
  }

  /** Queues one eviction (never throws, never waits). */
  protected accept(eviction: CacheEviction): void {
    if (eviction.remote === true || this.closed) return;
    const into = eviction.soft ? this.soft : this.hard;
    switch (eviction.cause) {
      case 'all':
        into.all = true;
        break;
      case 'tag':
        this.addTags(into, eviction.values);
        break;
      case 'route':
        this.addTags(
          into,
          eviction.values.map((id) => ROUTE_TAG_PREFIX + id),
        );
        break;
      case 'prefix':
        if (this.cdn!.purger!.purgesPrefixes) for (const p of eviction.values) into.prefixes.add(p);
        else {
          this.logger.warn(
            `CDN purge: prefix eviction ${eviction.values.join(' ')} not forwarded (the purger cannot purge by URL); evict by tag or route to reach the CDN`,
          );
        }
        break;
      default:
        // `key` (one variant, URL unknown) and the store's own lru, expiry, overtaken.
        return;
    }
    if (this.pendingTags > this.cdn!.maxPending) {
      // Bounded memory: one purge of everything covers whatever was waiting.
      this.logger.warn(
        `CDN purge: more than ${this.cdn!.maxPending} tags waiting; purging everything instead`,
      );
      this.hard = { ...empty(), all: true };
      this.soft = empty();
      this.pendingTags = 0;
    }
    if (this.pendingTags >= this.cdn!.purger!.maxTagsPerRequest) {
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => void this.flush(), this.cdn!.linger * 1000);
    this.timer.unref?.();
  }

  /** Sends what waits, batch after batch, until nothing does (what comes meanwhile, too). */
  private async drain(purger: CdnPurger): Promise<void> {
    try {
      for (;;) {
        const batches = [
          ...this.take(this.hard, false, purger),
          ...this.take(this.soft, true, purger),
        ];
        this.hard = empty();
        this.soft = empty();
        this.pendingTags = 0;
        if (batches.length === 0) return;
        for (const batch of batches) await this.send(purger, batch);
      }
    } finally {
      this.sending = undefined;
    }
  }

  private waiting(): boolean {
    return [this.hard, this.soft].some((p) => p.all || p.tags.size > 0 || p.prefixes.size > 0);
  }

  private addTags(into: Pending, tags: readonly string[]): void {
    for (const tag of this.encoder!.purgeTags(tags)) {
      if (!into.tags.has(tag)) {
        into.tags.add(tag);
        this.pendingTags++;
      }
    }
  }

  /** The batches of one kind: everything alone, else tags and prefixes in bounded slices. */
  private take(pending: Pending, soft: boolean, purger: CdnPurger): CdnPurgeBatch[] {
    if (pending.all) return [{ tags: [], prefixes: [], all: true, soft }];
    // A hard purge of a tag makes a soft one of it redundant.
    const tags = soft ? [...pending.tags].filter((t) => !this.hard.tags.has(t)) : [...pending.tags];
    const prefixes = [...pending.prefixes];
    const size = purger.maxTagsPerRequest;
    const batches: CdnPurgeBatch[] = [];
    for (let i = 0; i < tags.length; i += size) {
      batches.push({ tags: tags.slice(i, i + size), prefixes: [], all: false, soft });
    }
    for (let i = 0; i < prefixes.length; i += size) {
      batches.push({ tags: [], prefixes: prefixes.slice(i, i + size), all: false, soft });
    }
    return batches;
  }

  /** One batch, with retries; a final failure is logged, never thrown. */
  private async send(purger: CdnPurger, batch: CdnPurgeBatch): Promise<void> {
    const { retries, retryDelay } = this.cdn!;
    for (let attempt = 0; ; attempt++) {
      try {
        await purger.purge(batch);
        return;
      } catch (error) {
        if (attempt >= retries) {
          this.logger.error(
            `CDN purge failed after ${attempt + 1} attempt(s): ${describe(batch)}: ${String((error as Error)?.message ?? error)}`,
          );
          return;
        }
        const delay = Math.min(30_000, retryDelay * 1000 * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, delay).unref?.());
      }
    }
  }
}

function empty(): Pending {
  return { tags: new Set(), prefixes: new Set(), all: false };
}

/** A batch in a log line: its kind and first few values. */
function describe(batch: CdnPurgeBatch): string {
  const kind = batch.soft ? 'soft' : 'hard';
  if (batch.all) return `${kind} purge of everything`;
  const values = batch.tags.length > 0 ? batch.tags : batch.prefixes;
  const shown = values.slice(0, 5).join(' ');
  const more = values.length > 5 ? ` (+${values.length - 5} more)` : '';
  return `${kind} purge of ${batch.tags.length > 0 ? 'tags' : 'prefixes'} ${shown}${more}`;
}
