import { Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { BackgroundTasks } from './background-tasks.js';
import type { Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RenderCoordinator } from './render-coordinator.js';

/**
 * Marks a refresh request. Module-private and a property, not a header: nothing outside this
 * process's cache can make a request render and store in place of being served stale.
 */
const REFRESH = Symbol('nestjs-output-cache refresh');

/** Longest a refresh may take before its request is abandoned (and logged as failed). */
const REFRESH_TIMEOUT_MS = 60_000;

/**
 * Request headers a refresh does not copy: the client's caching directives and validators
 * (a client sending `Cache-Control: no-store` must not keep a page stale for the whole grace),
 * ranges, and hop-by-hop and body-framing headers (a refresh is a GET without a body).
 */
const NOT_COPIED = new Set([
  'cache-control',
  'pragma',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
]);

/**
 * Grace: renders a stale key anew, once, off the request that found it stale. The refresh is a
 * synthetic GET dispatched into this process's own HTTP server ({@link
 * HttpPlatform.dispatchInternal}), with the same URL and the request's own headers, so guards,
 * vary-by values and the key are the same; it never leaves the process, so under `node:cluster`
 * or PM2 the worker that holds the stale entry is the one that refreshes it. A symbol only this
 * module holds marks it, so it renders and stores instead of being served stale.
 */
@Injectable()
export class StaleRefresher {
  protected readonly logger = new Logger('OutputCache');
  /** Keys whose refresh is under way. */
  private readonly refreshing = new Set<string>();

  constructor(
    protected readonly platform: HttpPlatform,
    protected readonly coordinator: RenderCoordinator,
    protected readonly tasks: BackgroundTasks,
  ) {}

  /** Whether `req` is one of this process's refresh requests. */
  isRefresh(req: any): boolean {
    return this.platform.isInternal(req, REFRESH);
  }

  /** Starts the refresh of a stale entry, unless one (or a render of its key) is under way. */
  refresh(lookup: Lookup): void {
    const { key, req } = lookup;
    if (this.refreshing.has(key) || this.coordinator.isRendering(key)) return;
    const url = this.platform.url(req);
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(this.platform.headers(req))) {
      if (!NOT_COPIED.has(name) && value !== undefined) headers[name] = value;
    }
    this.refreshing.add(key);
    const started = this.tasks.run(`background refresh of ${key}`, (signal) =>
      this.dispatch(req, url, headers, signal).finally(() => this.refreshing.delete(key)),
    );
    if (!started) this.refreshing.delete(key);
  }

  /** Runs the refresh request to its end, within {@link REFRESH_TIMEOUT_MS} or until `signal`. */
  private async dispatch(
    req: any,
    url: string,
    headers: IncomingHttpHeaders,
    signal: AbortSignal,
  ): Promise<void> {
    const bounded = new AbortController();
    const onAbort = () => bounded.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => bounded.abort(new Error(`timed out after ${REFRESH_TIMEOUT_MS / 1000} s`)),
      REFRESH_TIMEOUT_MS,
    );
    timer.unref();
    try {
      const dispatch = this.platform.dispatchInternal(req, {
        url,
        headers,
        marker: REFRESH,
        signal: bounded.signal,
      });
      if (!dispatch) {
        this.logger.debug(`no server to refresh ${url} in: served stale until it expires`);
        return;
      }
      const status = await dispatch.done;
      if (status >= 400) this.logger.debug(`background refresh of ${url} answered ${status}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
