import { Injectable } from '@nestjs/common';
import { AsyncResource } from 'node:async_hooks';
import {
  type IncomingHttpHeaders,
  IncomingMessage,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { StoredHeaders } from '../../stores/cache-entry.js';
import {
  type FastLaneHandler,
  HttpPlatform,
  type InternalDispatch,
  type InternalRequest,
  type UncapturedEnd,
} from './http-platform.js';

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
    const header = firstValue(req.headers['x-forwarded-proto']) ?? proto;
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
    const server = req.socket?.server;
    if (typeof server?.emit !== 'function' || server.listenerCount('request') === 0) {
      return undefined;
    }
    const socket = new DiscardingSocket(req.socket, server);
    const synthetic = new IncomingMessage(socket as unknown as Socket);
    synthetic.method = 'GET';
    synthetic.url = request.url;
    synthetic.httpVersionMajor = 1;
    synthetic.httpVersionMinor = 1;
    synthetic.httpVersion = '1.1';
    synthetic.headers = { ...request.headers };
    synthetic.rawHeaders = rawHeaders(request.headers);
    (synthetic as unknown as Record<symbol, boolean>)[request.marker] = true;
    synthetic.push(null); // no body
    synthetic.complete = true; // all of it "arrived": ending it is not an abort
    const res = new ServerResponse(synthetic);
    res.assignSocket(socket as unknown as Socket);
    const done = new Promise<number>((resolve, reject) => {
      const { signal } = request;
      const abort = () => {
        if (res.writableFinished) return;
        res.destroy(); // destroys the socket: the response closes unfinished
        synthetic.destroy(); // 'aborted' and 'close', as when a client goes away
      };
      res.once('finish', () => {
        // Drained as Node drains an unread request, then closed: 'close' follows on res.
        synthetic.resume();
        socket.destroy();
      });
      res.once('close', () => {
        signal?.removeEventListener('abort', abort);
        if (res.writableFinished) resolve(res.statusCode);
        else if (signal?.aborted) reject(signal.reason);
        else reject(new Error('the response was destroyed before it ended'));
      });
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        this.outsideRequests(() => server.emit('request', synthetic, res));
      } catch (error) {
        res.destroy();
        synthetic.destroy();
        reject(error);
      }
    });
    return { done };
  }

  override installFastLane(adapter: any, handler: FastLaneHandler): boolean {
    const server = adapter?.getHttpServer?.();
    const app = adapter?.getInstance?.();
    if (typeof server?.listeners !== 'function' || typeof app?.get !== 'function') return false;
    const trust = app.get('trust proxy fn');
    if (typeof trust === 'function') this.trustProxy = trust;
    // Express's own first middleware sets it on every response; a fast-lane hit looks the same.
    const poweredBy = typeof app.enabled === 'function' && app.enabled('x-powered-by');
    const listeners = server.listeners('request') as ((...args: unknown[]) => void)[];
    const toApp = (req: IncomingMessage, res: ServerResponse) => {
      for (const listener of listeners) listener.call(server, req, res);
    };
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // This process's internal requests (refresh, warm-up) come on a socket of their own, not
      // a connection: they must reach the route, which renders and stores.
      if (!(req.socket instanceof Socket)) return toApp(req, res);
      let served: boolean | Promise<boolean>;
      try {
        if (poweredBy) res.setHeader('X-Powered-By', 'Express');
        served = handler(req, res);
      } catch {
        served = false;
      }
      if (served === true) return;
      if (served === false) return toApp(req, res);
      served.then(
        (ok) => ok || toApp(req, res),
        () => toApp(req, res),
      );
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
    // Innermost: node:http's writeHead hands the head to _storeHeader once every wrapper of
    // writeHead (a session's Set-Cookie hook) has run and before a byte is serialised, so the
    // listener sees the final headers and may still set some (X-Cache-Reason).
    const store = (res as unknown as Partial<HeadStore>)._storeHeader;
    if (typeof store === 'function') {
      (res as unknown as HeadStore)._storeHeader = function storeHeaderObserved(
        this: ServerResponse,
        firstLine: string,
        given: unknown,
      ) {
        delete (this as unknown as Partial<HeadStore>)._storeHeader; // once
        const progressive = given !== null && given === outHeadersOf(this);
        const headers = this.getHeaders();
        // writeHead(status, headers) on a response with no header set before: they come apart.
        if (!progressive && given) Object.assign(headers, headersArgument([0, given]));
        listener(this.statusCode, headers);
        if (progressive || !given || Array.isArray(given)) {
          // Headers the listener set went into the response's own map: pass that, if any.
          const own = outHeadersOf(this);
          return store.call(this, firstLine, progressive || !own ? given : own);
        }
        return store.call(this, firstLine, { ...(given as object), ...this.getHeaders() });
      };
      return;
    }
    const writeHead = res.writeHead;
    let called = false;
    res.writeHead = function writeHeadObserved(this: ServerResponse, ...args: unknown[]) {
      const result = (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      if (!called) {
        called = true;
        // getHeaders() is a snapshot already; headers given to writeHead itself join it.
        const headers = this.getHeaders();
        if (args.length > 1) Object.assign(headers, headersArgument(args));
        listener(this.statusCode, headers);
      }
      return result;
    } as ServerResponse['writeHead'];
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
    res.statusCode = status;
    for (const set of headers) for (const name in set) res.setHeader(name, set[name]);
    res.end(body);
    // Nest still ends its reply after the interceptor (an @Render view, a returned value).
    res.send = inert;
    res.json = inert;
    res.render = inert;
  }
}

/**
 * The socket of an internal request: no connection, everything written is discarded. It looks
 * like the original request's socket where the app may look (protocol, addresses, server), so
 * `req.protocol`, `req.ip` and a key built of them are the same as for a client's request.
 */
class DiscardingSocket extends Duplex {
  readonly encrypted: boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
  readonly localAddress?: string;
  readonly localPort?: number;

  constructor(
    original: Partial<Socket> & { encrypted?: boolean },
    readonly server: unknown,
  ) {
    super();
    this.encrypted = !!original.encrypted;
    this.remoteAddress = original.remoteAddress;
    this.remotePort = original.remotePort;
    this.remoteFamily = original.remoteFamily;
    this.localAddress = original.localAddress;
    this.localPort = original.localPort;
    // Whoever destroys it with an error (a middleware, an aborted response) must not crash us.
    this.on('error', () => {});
  }

  override _read(): void {
    // No bytes ever arrive: the request's end is pushed on the request itself.
  }

  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    callback();
  }

  // What middleware may call on a net.Socket; nothing to do without a connection.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** The raw form of headers (`[name, value, name, value, ...]`), as Node's parser fills it. */
function rawHeaders(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else if (value !== undefined) raw.push(name, value);
  }
  return raw;
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

/** Headers passed to `writeHead` itself (`writeHead(status, [reason,] headers)`). */
/** node:http's internal serialiser of a response head (see onHeadersWritten). */
interface HeadStore {
  _storeHeader(firstLine: string, headers: unknown): void;
}

/** The response's own header map (node:http's `kOutHeaders`), when it has one. */
function outHeadersOf(res: ServerResponse): unknown {
  const symbol = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders');
  return symbol === undefined ? undefined : (res as unknown as Record<symbol, unknown>)[symbol];
}

function headersArgument(args: unknown[]): OutgoingHttpHeaders {
  const last = args[args.length - 1];
  if (args.length < 2 || typeof last !== 'object' || last === null) return {};
  const headers: OutgoingHttpHeaders = {};
  if (Array.isArray(last)) {
    // The raw form: [name, value, name, value, ...]
    for (let i = 0; i + 1 < last.length; i += 2)
      headers[String(last[i]).toLowerCase()] = last[i + 1];
    return headers;
  }
  for (const [name, value] of Object.entries(last)) headers[name.toLowerCase()] = value as never;
  return headers;
}
