import {
  type IncomingHttpHeaders,
  IncomingMessage,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { Duplex, type Writable } from 'node:stream';
import type { StoredHeaders } from '../../stores/cache-entry.js';
import type { InternalDispatch, InternalRequest, ResponseStream } from './http-platform.js';

// What every platform on node:http shares (Express, Fastify): internal requests dispatched into
// the server's `request` event, the moment a response's head is final, and a whole response
// written on the raw `ServerResponse` (the fast lane writes hits there, before any framework).

/**
 * Dispatches a synthetic GET request into the server `socket` belongs to (see
 * `HttpPlatform.dispatchInternal`), starting it through `outside` (outside the caller's async
 * context). `undefined` when there is no such server with a `request` listener.
 */
export function dispatchIntoServer(
  original: (Partial<Socket> & { server?: any; encrypted?: boolean }) | undefined,
  request: InternalRequest,
  outside: <T>(fn: () => T) => T,
): InternalDispatch | undefined {
  const server = original?.server;
  if (typeof server?.emit !== 'function' || server.listenerCount('request') === 0) {
    return undefined;
  }
  const socket = new DiscardingSocket(original ?? {}, server);
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
      outside(() => server.emit('request', synthetic, res));
    } catch (error) {
      res.destroy();
      synthetic.destroy();
      reject(error);
    }
  });
  return { done };
}

/**
 * Calls `listener` once with the status and the final headers when `res` writes its head: after
 * every wrapper of `writeHead` (session hooks) and before a byte is serialised, so the listener
 * may still set headers on `res`.
 */
export function observeHeadWritten(
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

/**
 * Writes a whole response on a raw `ServerResponse` (header sets applied in order, later ones
 * win). Used for hits written before or without a framework's reply.
 */
export function writeRawResponse(
  res: ServerResponse,
  status: number,
  body: Buffer | undefined,
  ...headers: StoredHeaders[]
): void {
  res.statusCode = status;
  for (const set of headers) for (const name in set) res.setHeader(name, set[name]);
  res.end(body);
}

/**
 * A {@link ResponseStream} writing into `body` (the raw response itself, or a stream a framework
 * pipes into it), closed when the raw response `raw` closes. A `flush()` on `body` (the
 * `compression` middleware's) is called after each piece, so that a compressed response still
 * goes out piece by piece.
 */
export function responseStream(body: Writable, raw: ServerResponse): ResponseStream {
  let closed = raw.destroyed;
  let aborted = closed && !raw.writableFinished;
  raw.once('close', () => {
    closed = true;
    aborted = !raw.writableFinished;
  });
  const open = () => !closed && !body.destroyed && !body.writableEnded;
  const flush = (body as Writable & { flush?: unknown }).flush;
  return {
    write(chunk) {
      if (!open()) return;
      body.write(chunk);
      if (typeof flush === 'function') flush.call(body);
    },
    end() {
      if (open()) body.end();
    },
    get aborted() {
      return aborted;
    },
    get closed() {
      return closed;
    },
  };
}

/** Starts a streamed response on a raw `ServerResponse` (see `HttpPlatform.streamResponse`). */
export function streamRawResponse(
  res: ServerResponse,
  status: number | undefined,
  ...headers: StoredHeaders[]
): ResponseStream {
  if (status !== undefined) res.statusCode = status;
  for (const set of headers) for (const name in set) res.setHeader(name, set[name]);
  res.removeHeader('content-length');
  return responseStream(res, res);
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
