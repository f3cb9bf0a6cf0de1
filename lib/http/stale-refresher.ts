import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { BackgroundTasks } from './background-tasks.js';
import type { Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RenderCoordinator } from './render-coordinator.js';

/** Header of the loopback request that refreshes a stale entry (with a per-process secret). */
export const REFRESH_HEADER = 'x-output-cache-refresh';

/**
 * Request headers a refresh does not copy: the client's caching directives and validators
 * (a client sending `Cache-Control: no-store` must not keep a page stale for the whole grace),
 * ranges, and hop-by-hop headers.
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
  REFRESH_HEADER,
]);

/**
 * Grace: renders a stale key anew, once, off the request that found it stale. The refresh is a
 * loopback request to this server with the same URL and the request's own headers (so guards,
 * vary-by values and the key are the same), marked with a per-process secret so that it renders
 * and stores instead of being served stale.
 */
@Injectable()
export class StaleRefresher {
  protected readonly logger = new Logger('OutputCache');
  private readonly token = randomBytes(18).toString('base64url');
  /** Keys whose refresh is under way. */
  private readonly refreshing = new Set<string>();

  constructor(
    protected readonly platform: HttpPlatform,
    protected readonly coordinator: RenderCoordinator,
    protected readonly tasks: BackgroundTasks,
  ) {}

  /** Whether `req` is one of this process's refresh requests. */
  isRefresh(req: any): boolean {
    return this.platform.headers(req)[REFRESH_HEADER] === this.token;
  }

  /** Starts the refresh of a stale entry, unless one (or a render of its key) is under way. */
  refresh(lookup: Lookup): void {
    const { key, req } = lookup;
    if (this.refreshing.has(key) || this.coordinator.isRendering(key)) return;
    const local = this.platform.localAddress(req);
    if (!local) return;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(this.platform.headers(req))) {
      if (!NOT_COPIED.has(name) && value !== undefined) headers[name] = value;
    }
    headers[REFRESH_HEADER] = this.token;
    this.refreshing.add(key);
    const started = this.tasks.run(`background refresh of ${key}`, (signal) =>
      this.send(local, this.platform.url(req), headers, signal).finally(() =>
        this.refreshing.delete(key),
      ),
    );
    if (!started) this.refreshing.delete(key);
  }

  private send(
    local: { address: string; port: number; encrypted: boolean },
    path: string,
    headers: http.OutgoingHttpHeaders,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const client = local.encrypted ? https : http;
      const request = client.request(
        {
          host: local.address,
          port: local.port,
          method: 'GET',
          path,
          headers,
          rejectUnauthorized: false,
          timeout: 60_000,
          signal,
        },
        (response) => {
          response.resume();
          response.once('end', resolve);
          response.once('error', reject);
        },
      );
      request.once('error', reject);
      request.once('timeout', () => request.destroy(new Error('timed out')));
      request.end();
    });
  }
}
