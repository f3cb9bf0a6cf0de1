import { Injectable } from '@nestjs/common';
import { AsyncResource } from 'node:async_hooks';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { StoredHeaders } from '../../stores/cache-entry.js';
import {
  type FastLaneHandler,
  HttpPlatform,
  type InternalDispatch,
  type InternalRequest,
  type ResponseStream,
  type UncapturedEnd,
} from './http-platform.js';
import { frontRequestListener } from './fast-lane-listener.js';
import {
  dispatchIntoServer,
  observeHeadWritten,
  streamRawResponse,
  writeRawResponse,
} from './node-http.js';

/** The Express response methods the platform wraps. */
interface ExpressResponse extends ServerResponse {
  send?: (body?: unknown) => unknown;
  json?: (body?: unknown) => unknown;
  render?: (...args: unknown[]) => unknown;
}

function inert(this: unknown) {
  return this;
}

/** Express's `trust proxy fn` setting: whether to believe the hop at `index` from `address`. */
type TrustProxy = (address: string | undefined, index: number) => boolean;

/**
 * {@link HttpPlatform} for `@nestjs/platform-express` (Express 5). Every reply of a route passes
 * through `res.send` of its response (`@Render` sends the rendered HTML, JSON replies the
 * serialised string), so that is where bodies are captured; `writeHead` is where the head is
 * final (hooks such as `on-headers`, used by `express-session`, add headers there).
 */
@Injectable()
export class ExpressPlatform extends HttpPlatform {
  /** Runs `fn` in the async context this platform was created in (the app's boot, no request). */
  private readonly outsideRequests = AsyncResource.bind(<T>(fn: () => T): T => fn());
  /** The app's `trust proxy` (read when the fast lane is installed; Express's default: none). */
  private trustProxy: TrustProxy = () => false;

  method(req: any): string {
    return req.method;
  }

  url(req: any): string {
    return req.originalUrl ?? req.url;
  }

  protocol(req: any): string {
    // As the app sees it: under `trust proxy`, X-Forwarded-Proto verbatim (`HTTP`, `evil`), which
    // the key must hold as is, or a page linking to `evil://` is stored for every `http` visitor.
    if (typeof req.protocol === 'string') return req.protocol;
    // A raw node:http request (the fast lane): resolved as Express's `req.protocol` does.
    const proto = req.socket?.encrypted ? 'https' : 'http';
    if (!this.trustProxy(req.socket?.remoteAddress, 0)) return proto;
    const header = firstValue(req.headers['x-forwarded-proto']) || proto;
    const comma = header.indexOf(',');
    return comma === -1 ? header.trim() : header.slice(0, comma).trim();
  }

  host(req: any): string {
    if (req.app !== undefined) return req.host ?? req.headers.host ?? '';
    // A raw node:http request (the fast lane): resolved as Express's `req.host` does.
    let host = firstValue(req.headers['x-forwarded-host']);
    if (!host || !this.trustProxy(req.socket?.remoteAddress, 0)) {
      host = firstValue(req.headers.host);
    } else if (host.includes(',')) {
      host = host.slice(0, host.indexOf(',')).trimEnd();
    }
    return host ?? '';
  }

  headers(req: any): IncomingHttpHeaders {
    return req.headers;
  }

  dispatchInternal(req: any, request: InternalRequest): InternalDispatch | undefined {
    return dispatchIntoServer(req.socket, request, this.outsideRequests);
  }

  override installFastLane(adapter: any, handler: FastLaneHandler): boolean {
    const server = adapter?.getHttpServer?.();
    const app = adapter?.getInstance?.();
    if (typeof server?.listeners !== 'function' || typeof app?.get !== 'function') return false;
    const trust = app.get('trust proxy fn');
    if (typeof trust === 'function') this.trustProxy = trust;
    // Express's own first middleware sets it on every response; a fast-lane hit looks the same.
    const poweredBy = typeof app.enabled === 'function' && app.enabled('x-powered-by');
    frontRequestListener(server, handler, (_req, res) => {
      if (poweredBy) res.setHeader('X-Powered-By', 'Express');
    });
    return true;
  }

  status(res: ServerResponse): number {
    return res.statusCode;
  }

  responseHeaders(res: ServerResponse): OutgoingHttpHeaders {
    return res.getHeaders(); // a new object each call
  }

  setHeader(res: ServerResponse, name: string, value: string | string[]): void {
    res.setHeader(name, value);
  }

  removeHeader(res: ServerResponse, name: string): void {
    res.removeHeader(name);
  }

  headersSent(res: ServerResponse): boolean {
    return res.headersSent;
  }

  captureBody(
    res: ExpressResponse,
    onBody: (body: Buffer | string, send: (body: Buffer | string) => void) => void,
  ): void {
    const original = res.send;
    if (typeof original !== 'function') return;
    res.send = function captureSend(this: ExpressResponse, body?: unknown) {
      // Objects go through res.json, which serialises and comes back here with a string.
      if (typeof body !== 'string' && !Buffer.isBuffer(body)) return original.call(this, body);
      res.send = original;
      settleContentType(res, body);
      onBody(body, (final) => original.call(res, final));
      return res;
    };
  }

  onHeadersWritten(
    res: ServerResponse,
    listener: (status: number, headers: OutgoingHttpHeaders) => void,
  ): void {
    observeHeadWritten(res, listener);
  }

  onClose(res: ServerResponse, listener: (end: UncapturedEnd) => void): void {
    res.once('close', () => listener(res.writableFinished ? 'streamed' : 'aborted'));
  }

  wrapRender(res: ExpressResponse, wrap: <T>(render: () => T) => T): void {
    const render = res.render;
    if (typeof render !== 'function') return;
    res.render = function renderWrapped(this: unknown, ...args: unknown[]) {
      return wrap(() => render.apply(this, args));
    };
  }

  writeResponse(
    res: ExpressResponse,
    status: number,
    body: Buffer | undefined,
    ...headers: StoredHeaders[]
  ): void {
    writeRawResponse(res, status, body, ...headers);
    // Nest still ends its reply after the interceptor (an @Render view, a returned value).
    res.send = inert;
    res.json = inert;
    res.render = inert;
  }

  streamResponse(
    res: ExpressResponse,
    status: number | undefined,
    ...headers: StoredHeaders[]
  ): ResponseStream {
    // Nest still ends its reply after the interceptor (an @Render view, a returned value).
    res.send = inert;
    res.json = inert;
    res.render = inert;
    return streamRawResponse(res, status, ...headers);
  }
}

/** A header's first value (a repeated header arrives as an array only for a few names). */
function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Content types settled exactly as Express would, so stored headers match what went out. */
function settleContentType(res: ServerResponse, body: string | Buffer): void {
  const type = res.getHeader('content-type');
  if (typeof body === 'string') {
    if (type === undefined) res.setHeader('content-type', 'text/html; charset=utf-8');
    else if (typeof type === 'string' && !/;\s*charset=/i.test(type)) {
      res.setHeader('content-type', `${type}; charset=utf-8`);
    }
  } else if (type === undefined) {
    res.setHeader('content-type', 'application/octet-stream');
  }
}
