import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackgroundTasks } from '../http/background-tasks.js';
import { HttpPlatform } from '../http/platform/http-platform.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import {
  type CacheDecision,
  type CacheDecisionResult,
  OutputCacheEvents,
} from '../observability/output-cache-events.js';

/**
 * Marks the cache's own warm-up and refresh-ahead requests. Module-private and a property, not a
 * header: no client can make its request look like one.
 */
const WARM_UP = Symbol('nestjs-output-cache warm-up');

/** Longest a warm-up render may take before its request is abandoned (reported as `failed`). */
const RENDER_TIMEOUT_MS = 60_000;

/** How many pages `warm()` renders at a time when `concurrency` is not given. */
export const DEFAULT_WARM_UP_CONCURRENCY = 4;

/** Request headers a warm-up never sends: credentials make a page private, not warm. */
const NEVER_SENT = new Set(['cookie', 'authorization', 'proxy-authorization']);

/** Options of {@link OutputCacheProvider.warm}. */
export interface WarmUpOptions {
  /** How many pages render at the same time (a whole number, 1 or more). Default 4. */
  concurrency?: number;
  /**
   * Headers of every warm-up request. They decide the vary-by values of the warmed entries: a
   * warm-up without them stores the default variant (no cookies, no `Accept-Language`). `host`
   * here is the host of paths given without one. `cookie` and `authorization` are never sent.
   */
  headers?: Record<string, string>;
}

/**
 * What became of one URL: `status` is the response's status (undefined when no response came),
 * `result` the cache's decision for it: `stored` (now in the cache), `hit` (it already was),
 * `not-stored` or `bypass` (with `reason`), `failed` (with `error`), `unknown` when the cache
 * reported nothing for it (a route that is not cacheable).
 */
export interface WarmUpReport {
  url: string;
  status: number | undefined;
  result: CacheDecisionResult | 'failed' | 'unknown';
  /** Why not stored, for `not-stored` and `bypass`. */
  reason?: string;
  /** What went wrong, for `failed`. */
  error?: string;
  /** The key of the entry, when the cache computed one. */
  key?: string;
}

/** One page to render: the request target and its headers (lower-case names). */
export interface InternalPage {
  url: string;
  headers: IncomingHttpHeaders;
}

/** Decisions seen for one internal request on its way. */
interface Tracker {
  last?: CacheDecision;
  /** Called when a decision after which no other comes for that request arrives. */
  settled?: () => void;
}

/**
 * Renders pages through the app in this process, as a client's GET would, without any network:
 * a synthetic request is dispatched into the app's own HTTP server ({@link
 * HttpPlatform.dispatchInternal}, as the stale refresher does), so it passes the same middleware,
 * guards, vary-by resolvers and key as a client's request, and its response is discarded. What
 * the cache did with it is read from the {@link OutputCacheEvents} decisions for its URL.
 *
 * Behind {@link OutputCacheProvider.warm}, and the render path of refresh-ahead.
 *
 * @example
 * ```ts
 * const report = await warmUp.warm(['/', '/category/1'], { concurrency: 2 });
 * // [{ url: '/', status: 200, result: 'stored', key: '...' }, ...]
 * ```
 */
@Injectable()
export class WarmUp implements OnModuleDestroy {
  protected readonly logger = new Logger('OutputCache');
  /** Internal requests on their way, by request target. */
  private readonly inflight = new Map<string, Set<Tracker>>();
  private readonly unlisten: () => void;

  constructor(
    protected readonly platform: HttpPlatform,
    protected readonly adapterHost: HttpAdapterHost,
    protected readonly tasks: BackgroundTasks,
    events: OutputCacheEvents,
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
  ) {
    this.unlisten = events.listen({ decision: (decision) => this.observe(decision) });
  }

  onModuleDestroy(): void {
    this.unlisten();
  }

  /**
   * Renders every URL (a path such as `/category/1`, or an absolute URL whose host becomes the
   * `Host` header), at most `concurrency` at a time, and resolves with one report per distinct
   * URL, in order. Never rejects for a page: a failure is in its report.
   */
  async warm(urls: readonly string[], options: WarmUpOptions = {}): Promise<WarmUpReport[]> {
    if (!Array.isArray(urls) || urls.some((url) => typeof url !== 'string')) {
      throw new TypeError('warm: pass an array of URLs, e.g. warm(["/", "/category/1"])');
    }
    const concurrency = options.concurrency ?? DEFAULT_WARM_UP_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(
        `warm: concurrency must be a whole number, 1 or more, got ${String(concurrency)}`,
      );
    }
    const headers = sendable(options.headers ?? {});
    const distinct = [...new Set(urls)];
    return mapBounded(distinct, concurrency, (url) => {
      const page = this.toPage(url, headers);
      return typeof page === 'string' ? Promise.resolve(failed(url, page)) : this.render(page, url);
    });
  }

  /**
   * Renders one page through the app and resolves with what the cache did with it (`url` in the
   * report is `label`, default the page's URL). Never rejects.
   */
  render(page: InternalPage, label = page.url): Promise<WarmUpReport> {
    if (page.headers.host === undefined) {
      const host = this.defaultHost();
      if (host) page = { url: page.url, headers: { ...page.headers, host } };
    }
    return new Promise<WarmUpReport>((resolve) => {
      const started = this.tasks.run(`rendering ${page.url} ahead of requests`, (signal) =>
        this.dispatch(page, label, signal).then(resolve),
      );
      if (!started) resolve(failed(label, 'the app is shutting down'));
    });
  }

  /**
   * The `Host` of paths given without one: the address the server listens on (`localhost` when
   * it listens on every interface), with its port.
   */
  protected defaultHost(): string | undefined {
    const address = this.server()?.address?.() as AddressInfo | string | null | undefined;
    if (!address || typeof address === 'string') return undefined;
    const anyAddress = address.address === '::' || address.address === '0.0.0.0';
    const name = anyAddress
      ? 'localhost'
      : address.family === 'IPv6' || address.address.includes(':')
        ? `[${address.address}]`
        : address.address;
    return `${name}:${address.port}`;
  }

  private server(): any {
    try {
      return this.adapterHost.httpAdapter?.getHttpServer();
    } catch {
      return undefined; // no HTTP server (an application context)
    }
  }

  /** The page for `url`, or why there is none. */
  private toPage(url: string, headers: IncomingHttpHeaders): InternalPage | string {
    if (url.startsWith('/') && !url.startsWith('//')) {
      const host = headers.host ?? this.defaultHost();
      return { url, headers: host ? { ...headers, host } : headers };
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'not a path (/...) nor an absolute http(s) URL';
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return `not an http(s) URL (${parsed.protocol})`;
    }
    return { url: parsed.pathname + parsed.search, headers: { ...headers, host: parsed.host } };
  }

  private async dispatch(
    page: InternalPage,
    label: string,
    signal: AbortSignal,
  ): Promise<WarmUpReport> {
    const server = this.server();
    // dispatchInternal reads the server (and the addresses it reports) off the request's socket.
    const address = server?.address?.() as AddressInfo | string | null | undefined;
    const origin = {
      socket: {
        server,
        remoteAddress: '127.0.0.1',
        remotePort: 0,
        remoteFamily: 'IPv4',
        localAddress: typeof address === 'object' && address ? address.address : '127.0.0.1',
        localPort: typeof address === 'object' && address ? address.port : 0,
        encrypted: false,
      },
    };
    const tracker: Tracker = {};
    const trackers = this.inflight.get(page.url) ?? new Set<Tracker>();
    trackers.add(tracker);
    this.inflight.set(page.url, trackers);
    const bounded = new AbortController();
    const onAbort = () => bounded.abort(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => bounded.abort(new Error(`timed out after ${RENDER_TIMEOUT_MS / 1000} s`)),
      RENDER_TIMEOUT_MS,
    );
    timer.unref();
    try {
      const dispatch = server
        ? this.platform.dispatchInternal(origin, {
            url: page.url,
            headers: page.headers,
            marker: WARM_UP,
            signal: bounded.signal,
          })
        : undefined;
      if (!dispatch) {
        return failed(label, 'no HTTP server to render in: call warm() after app.init()');
      }
      const status = await dispatch.done;
      await this.settle(tracker);
      const last = tracker.last;
      if (!last) return { url: label, status, result: 'unknown' };
      return {
        url: label,
        status,
        result: last.result,
        ...(last.reason === undefined ? {} : { reason: last.reason }),
        ...(last.key === undefined ? {} : { key: last.key }),
      };
    } catch (error) {
      return failed(label, error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      trackers.delete(tracker);
      if (trackers.size === 0 && this.inflight.get(page.url) === trackers) {
        this.inflight.delete(page.url);
      }
    }
  }

  /**
   * Waits for the decision that ends a render: a page is stored (or not) off the response, by a
   * background write bounded by the store's timeout, so `stored` may come after the response.
   */
  private settle(tracker: Tracker): Promise<void> {
    if (tracker.last && tracker.last.result !== 'miss') return Promise.resolve();
    const waitMs = tracker.last
      ? Math.max(2_000, this.options.storeTimeout * 4_000)
      : // Nothing reported by the end of the response: give a late report one turn, no more.
        0;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), waitMs);
      tracker.settled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private observe(decision: CacheDecision): void {
    if (this.inflight.size === 0 || decision.url === undefined) return;
    const trackers = this.inflight.get(decision.url);
    if (!trackers) return;
    for (const tracker of trackers) {
      // A concurrent client request for the same URL reports under it too; its outcome is the
      // same page's, so it is as good an answer.
      if (tracker.last && tracker.last.result !== 'miss' && decision.result === 'miss') continue;
      tracker.last = decision;
      if (decision.result !== 'miss') tracker.settled?.();
    }
  }
}

function failed(url: string, error: string): WarmUpReport {
  return { url, status: undefined, result: 'failed', error };
}

/** The headers a warm-up may send (lower-case names, no credentials). */
export function sendable(
  headers: Record<string, string | string[] | undefined>,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value !== undefined && !NEVER_SENT.has(lower)) out[lower] = value as string;
  }
  return out;
}

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
