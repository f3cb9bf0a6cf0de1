import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpPlatform } from '../http/platform/http-platform.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import {
  type CacheDecision,
  type CacheEviction,
  OutputCacheEvents,
} from '../observability/output-cache-events.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { WarmUp } from './warm-up.js';

/**
 * Request headers a replay keeps of the first request that hit a page: those that decide its
 * host and protocol (with `trust proxy`) and the usual content negotiation. Never cookies nor
 * credentials: a page that varies by a cookie is replayed without it, which renders another
 * variant, so refresh-ahead stops replaying it (see {@link RefreshAhead}).
 */
const REPLAYED = [
  'host',
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'accept',
  'accept-language',
];
const NEVER_REPLAYED = new Set(['cookie', 'authorization', 'proxy-authorization']);

/** A page counted for refresh-ahead. */
interface HotPage {
  key: string;
  url: string;
  headers: IncomingHttpHeaders;
  hits: number;
  /** Replays that did not store it again (not stored, failed); dropped after a few. */
  misses: number;
}

/** Replays that did not store a page again before it is no longer replayed. */
const MAX_MISSES = 3;

/**
 * Refresh-ahead (`refreshAhead` option): re-renders the most-hit pages right after an eviction
 * took them, so the next client finds them cached instead of paying for the render.
 *
 * It counts the hits (and stale hits) of every key from the {@link OutputCacheEvents} decisions,
 * in a bounded table (the least-hit half is dropped and the counts halved when it is full, so
 * recent popularity wins); on an eviction made by this instance (not `overtaken` nor `lru`, not
 * received from another instance: that one replays its own), it checks which of the `top` most-hit keys
 * are gone from the store and renders those again in this process ({@link WarmUp}), at most
 * `concurrency` at a time, off the eviction's call.
 *
 * A replay is a GET with the URL and a few headers of the first request that hit the page
 * ({@link REPLAYED}: host, forwarded host and protocol, `Accept`, `Accept-Language`, and the
 * headers named by `{ header }` vary-by resolvers), never its cookies nor credentials. So only
 * pages whose vary-by values come from those headers (or are the defaults) are replayed
 * faithfully; when a replay lands on another key (a variant chosen by a cookie), that page is not
 * replayed again.
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ refreshAhead: { top: 100, concurrency: 2 } });
 * ```
 */
@Injectable()
export class RefreshAhead implements OnModuleInit, OnModuleDestroy {
  protected readonly logger = new Logger('OutputCache');
  private readonly pages = new Map<string, HotPage>();
  /** Keys whose replay landed on another key: not replayed again. */
  private readonly unfaithful = new Set<string>();
  private readonly queue: HotPage[] = [];
  private readonly replaying = new Set<string>();
  private active = 0;
  private sweeping = false;
  private sweepAgain = false;
  private closed = false;
  private unlisten?: () => void;
  private readonly replayedHeaders: string[];

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly events: OutputCacheEvents,
    protected readonly warmUp: WarmUp,
    protected readonly store: ResilientStore,
    protected readonly platform: HttpPlatform,
  ) {
    const declared = Object.values(options.varyBy).flatMap((resolver) =>
      typeof resolver === 'object' ? [resolver.header.toLowerCase()] : [],
    );
    this.replayedHeaders = [...new Set([...REPLAYED, ...declared])].filter(
      (name) => !NEVER_REPLAYED.has(name),
    );
  }

  /** Most keys counted: the top N and enough below them to notice a page becoming hot. */
  private get capacity(): number {
    return Math.max(1_000, (this.options.refreshAhead?.top ?? 0) * 10);
  }

  onModuleInit(): void {
    if (!this.options.enabled || !this.options.refreshAhead) return;
    this.unlisten = this.events.listen({
      decision: (decision) => this.count(decision),
      eviction: (eviction) => this.evicted(eviction),
    });
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.unlisten?.();
    this.queue.length = 0;
  }

  /** The counted pages, most hit first (for tests and admin views). */
  hottest(
    limit = this.options.refreshAhead?.top ?? 0,
  ): { key: string; url: string; hits: number }[] {
    return this.ranked()
      .slice(0, limit)
      .map(({ key, url, hits }) => ({ key, url, hits }));
  }

  private count(decision: CacheDecision): void {
    if (decision.result !== 'hit' && decision.result !== 'stale') return;
    const { key, url } = decision;
    if (key === undefined || url === undefined || this.unfaithful.has(key)) return;
    let page = this.pages.get(key);
    if (!page) {
      page = { key, url, headers: this.replayable(decision.request), hits: 0, misses: 0 };
      this.pages.set(key, page);
      if (this.pages.size > this.capacity) this.prune();
    }
    page.hits++;
  }

  /** The headers of `req` a replay sends (a copy: the request itself is not kept). */
  private replayable(req: unknown): IncomingHttpHeaders {
    if (!req) return {};
    const headers = this.platform.headers(req);
    const kept: IncomingHttpHeaders = {};
    for (const name of this.replayedHeaders) {
      const value = headers[name];
      if (value !== undefined) kept[name] = Array.isArray(value) ? [...value] : value;
    }
    return kept;
  }

  /** Keeps the most-hit half, with halved counts. */
  private prune(): void {
    const keep = this.ranked().slice(0, Math.floor(this.capacity / 2));
    this.pages.clear();
    for (const page of keep) {
      page.hits = Math.ceil(page.hits / 2);
      this.pages.set(page.key, page);
    }
  }

  private ranked(): HotPage[] {
    return [...this.pages.values()].sort((a, b) => b.hits - a.hits);
  }

  private evicted(eviction: CacheEviction): void {
    // Not `overtaken` (nothing left the store), nor `lru` (re-rendering what the memory bound
    // just dropped would fight the bound), nor another instance's (that one replays its own).
    if (this.closed || eviction.remote || eviction.cause === 'overtaken') return;
    if (eviction.cause === 'lru') return;
    // Off the eviction's call: listeners run inside it.
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = true;
    setImmediate(() => void this.sweep());
  }

  /** Queues the top pages whose entries are gone; one sweep at a time, again if asked meanwhile. */
  private async sweep(): Promise<void> {
    try {
      do {
        this.sweepAgain = false;
        const top = this.ranked().slice(0, this.options.refreshAhead?.top ?? 0);
        for (const page of top) {
          if (this.closed) return;
          if (this.replaying.has(page.key)) continue;
          if (await this.store.get(page.key)) continue;
          this.replaying.add(page.key);
          this.queue.push(page);
          this.pump();
        }
      } while (this.sweepAgain && !this.closed);
    } catch (error) {
      this.logger.warn(`refresh-ahead: checking the store failed (${String(error)})`);
    } finally {
      this.sweeping = false;
    }
  }

  private pump(): void {
    const concurrency = this.options.refreshAhead?.concurrency ?? 1;
    while (this.active < concurrency && this.queue.length > 0 && !this.closed) {
      const page = this.queue.shift() as HotPage;
      this.active++;
      void this.replay(page).finally(() => {
        this.active--;
        this.replaying.delete(page.key);
        this.pump();
      });
    }
  }

  private async replay(page: HotPage): Promise<void> {
    const report = await this.warmUp.render({ url: page.url, headers: page.headers });
    if (report.key !== undefined && report.key !== page.key) {
      // Its key depends on something a replay does not send (a cookie, a client address).
      this.logger.debug(
        `refresh-ahead: ${page.url} renders another variant without the client's cookies; not replayed again`,
      );
      this.pages.delete(page.key);
      this.unfaithful.add(page.key);
      if (this.unfaithful.size > this.capacity) this.unfaithful.clear();
      return;
    }
    if (report.result === 'stored' || report.result === 'hit' || report.result === 'collapsed') {
      page.misses = 0;
      this.logger.debug(`refresh-ahead: ${page.url} rendered again (${report.result})`);
      return;
    }
    this.logger.debug(
      `refresh-ahead: ${page.url} was not stored again (${report.result}${report.reason ? `: ${report.reason}` : ''}${report.error ? `: ${report.error}` : ''})`,
    );
    if (++page.misses >= MAX_MISSES) this.pages.delete(page.key);
  }
}
