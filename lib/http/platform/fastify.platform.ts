import { Injectable } from '@nestjs/common';
import { AsyncResource } from 'node:async_hooks';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { StoredHeaders } from '../../stores/cache-entry.js';
import { frontRequestListener } from './fast-lane-listener.js';
import {
  type FastLaneHandler,
  HttpPlatform,
  type InternalDispatch,
  type InternalRequest,
  type ResponseStream,
  type UncapturedEnd,
} from './http-platform.js';
import {
  dispatchIntoServer,
  observeHeadWritten,
  responseStream,
  streamRawResponse,
  writeRawResponse,
} from './node-http.js';

// Fastify's types are not imported: the library must not need `fastify` installed (an Express
// app has none). These are the parts of a Fastify 5 reply and request the platform uses.

/** The parts of a Fastify 5 `FastifyReply` the platform uses. */
interface FastifyReplyLike {
  raw: ServerResponse;
  statusCode: number;
  sent: boolean;
  send(payload?: unknown): FastifyReplyLike;
  code(status: number): FastifyReplyLike;
  header(name: string, value: unknown): FastifyReplyLike;
  getHeader(name: string): unknown;
  getHeaders(): OutgoingHttpHeaders;
  removeHeader(name: string): FastifyReplyLike;
  serialize(payload: unknown): string;
  view?: (...args: unknown[]) => unknown;
}

/** Set on a reply while its raw response writes its head (see onHeadersWritten). */
const WRITING_HEAD = Symbol('nestjs-output-cache writing head');

function inert(this: unknown) {
  return this;
}

/**
 * {@link HttpPlatform} for `@nestjs/platform-fastify` (Fastify 5). Nest hands routes a
 * `FastifyRequest` and a `FastifyReply`; every reply of a route passes through `reply.send`
 * (`@Render` renders through `@fastify/view`'s `reply.view`, which sends the HTML; returned
 * objects are sent as such and serialised by Fastify), so that is where bodies are captured.
 * The head is final where Fastify writes it on the raw response, after every `onSend` hook
 * (`@fastify/cookie` and the session plugins add `Set-Cookie` there).
 *
 * Methods that take a response also accept the raw `node:http` `ServerResponse` (`reply.raw`)
 * where noted: the fast lane writes hits there before Fastify routes the request.
 */
@Injectable()
export class FastifyPlatform extends HttpPlatform {
  /** Runs `fn` in the async context this platform was created in (the app's boot, no request). */
  private readonly outsideRequests = AsyncResource.bind(<T>(fn: () => T): T => fn());

  method(req: any): string {
    return req.method;
  }

  url(req: any): string {
    // Fastify's `request.url` is the raw request target (path and query, undecoded).
    return req.url;
  }

  protocol(req: any): string {
    // Fastify 5 resolves X-Forwarded-Proto under `trustProxy`, as Express under `trust proxy`.
    if (typeof req.protocol === 'string') return req.protocol;
    // A raw request (the fast lane, which runs only without trustProxy): as Fastify resolves it.
    return req.socket?.encrypted ? 'https' : 'http';
  }

  host(req: any): string {
    // `request.host` is host and port (`hostname` drops the port), as Express 5's `req.host`.
    return req.host ?? req.headers?.host ?? '';
  }

  headers(req: any): IncomingHttpHeaders {
    return req.headers;
  }

  override isInternal(req: any, marker: symbol): boolean {
    // The marker is set on the raw IncomingMessage; Nest hands routes the FastifyRequest.
    return req?.[marker] === true || req?.raw?.[marker] === true;
  }

  /**
   * The fast lane on Fastify: in front of Fastify's own `request` listener on the server (before
   * its router and every hook, middie's included), with the raw `node:http` pair, which the
   * other methods of this platform accept. Off under `trustProxy`: Fastify resolves forwarded
   * protocol and host by rules the raw request cannot reproduce here.
   */
  override installFastLane(adapter: any, handler: FastLaneHandler): boolean {
    const server = adapter?.getHttpServer?.();
    if (typeof server?.listeners !== 'function') return false;
    if (adapter?.getInstance?.()?.initialConfig?.trustProxy) return false;
    frontRequestListener(server, handler);
    return true;
  }

  dispatchInternal(req: any, request: InternalRequest): InternalDispatch | undefined {
    // Fastify listens on the server's `request` event as Express does: the same dispatch.
    return dispatchIntoServer(req.socket ?? req.raw?.socket, request, this.outsideRequests);
  }

  status(res: any): number {
    return res.statusCode;
  }

  responseHeaders(res: any): OutgoingHttpHeaders {
    // Headers set on the raw response (middleware) and on the reply; the reply's win, as sent.
    if (isRaw(res)) return res.getHeaders();
    const headers = (res as FastifyReplyLike).getHeaders();
    withPendingCookies(res, headers);
    return headers;
  }

  setHeader(res: any, name: string, value: string | string[]): void {
    if (isRaw(res)) {
      res.setHeader(name, value);
      return;
    }
    const reply = res as FastifyReplyLike;
    // reply.header() appends to a Set-Cookie already there; this seam replaces.
    if (name.toLowerCase() === 'set-cookie') reply.removeHeader(name);
    reply.header(name, value);
    // While the head is being written, the reply's map was already handed to node:http.
    if ((reply as any)[WRITING_HEAD] && !reply.raw.headersSent) reply.raw.setHeader(name, value);
  }

  removeHeader(res: any, name: string): void {
    // reply.removeHeader() removes from the raw response as well.
    (res as FastifyReplyLike | ServerResponse).removeHeader(name);
  }

  headersSent(res: any): boolean {
    if (isRaw(res)) return res.headersSent;
    const reply = res as FastifyReplyLike;
    return reply.sent || reply.raw.headersSent;
  }

  captureBody(
    res: FastifyReplyLike,
    onBody: (body: Buffer | string, send: (body: Buffer | string) => void) => void,
  ): void {
    const reply = res;
    const original = reply.send;
    if (typeof original !== 'function') return;
    reply.send = function captureSend(this: FastifyReplyLike, payload?: unknown) {
      const body = serialisedBody(reply, payload);
      // Streams, errors, an empty reply: Fastify handles them (they are not stored).
      if (body === undefined) return original.call(this, payload);
      reply.send = original;
      // The reply is returned at once; Nest awaits it (a Fastify reply is thenable until the
      // response ends), so a body sent later (holes composed) is still this route's reply.
      onBody(body, (final) => original.call(reply, final));
      return reply;
    };
  }

  onHeadersWritten(
    res: FastifyReplyLike,
    listener: (status: number, headers: OutgoingHttpHeaders) => void,
  ): void {
    // Fastify writes the head with raw.writeHead(status, replyHeaders) after every onSend hook:
    // observed on the raw response, the headers are final.
    const reply = res as FastifyReplyLike & { [WRITING_HEAD]?: boolean };
    observeHeadWritten(reply.raw, (status, headers) => {
      reply[WRITING_HEAD] = true;
      try {
        listener(status, headers);
      } finally {
        reply[WRITING_HEAD] = false;
      }
    });
  }

  onClose(res: any, listener: (end: UncapturedEnd) => void): void {
    const raw: ServerResponse = isRaw(res) ? res : res.raw;
    raw.once('close', () => listener(raw.writableFinished ? 'streamed' : 'aborted'));
  }

  wrapRender(res: FastifyReplyLike, wrap: <T>(render: () => T) => T): void {
    const view = res.view;
    if (typeof view !== 'function') return;
    res.view = function viewWrapped(this: unknown, ...args: unknown[]) {
      return wrap(() => view.apply(this, args));
    };
  }

  /**
   * Writes a whole response. On a reply, through Fastify (its `onSend` hooks run, as for any
   * reply), and the rest of Nest's reply becomes a no-op; on a raw `ServerResponse` (the fast
   * lane, before Fastify routes the request), straight onto it.
   */
  writeResponse(res: any, status: number, body: Buffer | undefined, ...headers: StoredHeaders[]) {
    if (isRaw(res)) return writeRawResponse(res, status, body, ...headers);
    const reply = res as FastifyReplyLike;
    reply.code(status);
    for (const set of headers) {
      for (const name in set) this.setHeader(reply, name, set[name] as string | string[]);
    }
    const send = reply.send;
    // Nest still sends its reply after the interceptor (an @Render view, a returned value).
    reply.send = inert as FastifyReplyLike['send'];
    if (typeof reply.view === 'function') reply.view = inert;
    // Fastify's implicit HEAD route answers an empty payload with Content-Length: 0; an empty
    // stream keeps the stored length, as Nest's adapter does for a HEAD StreamableFile.
    const head = body === undefined && (reply as any).request?.method === 'HEAD';
    send.call(reply, head ? Readable.from([]) : body);
  }

  /**
   * Starts a streamed response. On a reply, the body is a stream sent through Fastify (rather
   * than writes on `reply.raw` after `reply.hijack()`, which would skip the `onSend` hooks and
   * with them the cookies of `reply.setCookie()`): Fastify pipes it, chunked, into the raw
   * response. On a raw `ServerResponse`, straight onto it.
   */
  streamResponse(
    res: any,
    status: number | undefined,
    ...headers: StoredHeaders[]
  ): ResponseStream {
    if (isRaw(res)) return streamRawResponse(res, status, ...headers);
    const reply = res as FastifyReplyLike;
    if (status !== undefined) reply.code(status);
    for (const set of headers) {
      for (const name in set) this.setHeader(reply, name, set[name] as string | string[]);
    }
    reply.removeHeader('content-length');
    const body = new PassThrough();
    // Fastify destroys it when the client goes away; a late write must not throw.
    body.on('error', () => {});
    const send = reply.send;
    // Nest still sends its reply after the interceptor (an @Render view, a returned value).
    reply.send = inert as FastifyReplyLike['send'];
    if (typeof reply.view === 'function') reply.view = inert;
    send.call(reply, body);
    return responseStream(body, reply.raw);
  }
}

/** A raw node:http response rather than a Fastify reply. */
function isRaw(res: any): res is ServerResponse {
  return res?.raw === undefined && typeof res?.writeHead === 'function';
}

/**
 * The body a route's `reply.send(payload)` goes out with, as Fastify would produce it, with the
 * content type Fastify would settle (so stored headers match what went out); `undefined` for
 * what the cache leaves to Fastify (streams, errors, no body, a type Fastify cannot serialise).
 */
function serialisedBody(reply: FastifyReplyLike, payload: unknown): Buffer | string | undefined {
  if (payload === undefined || payload === null || payload instanceof Error) return undefined;
  const type = reply.getHeader('content-type');
  const contentType = typeof type === 'string' ? type : undefined;
  if (typeof payload === 'string') {
    if (contentType === undefined) reply.header('content-type', 'text/plain; charset=utf-8');
    else if (isJson(contentType) && !hasCharset(contentType)) {
      reply.header('content-type', `${contentType}; charset=utf-8`);
    }
    return payload;
  }
  if (typeof payload !== 'object') return undefined;
  const object = payload as { pipe?: unknown; getReader?: unknown; buffer?: unknown };
  if (typeof object.pipe === 'function' || typeof object.getReader === 'function') return undefined;
  if (Object.prototype.toString.call(payload) === '[object Response]') return undefined;
  if (object.buffer instanceof ArrayBuffer) {
    if (contentType === undefined) reply.header('content-type', 'application/octet-stream');
    const view = payload as ArrayBufferView;
    return Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  }
  // An object: serialised as Fastify would (the route's serializer, else JSON).
  if (contentType !== undefined && !isJson(contentType)) return undefined;
  if (contentType === undefined) reply.header('content-type', 'application/json; charset=utf-8');
  else if (!hasCharset(contentType)) reply.header('content-type', `${contentType}; charset=utf-8`);
  return reply.serialize(payload);
}

/**
 * `@fastify/cookie` keeps the cookies of `reply.setCookie()` aside and writes them as
 * `Set-Cookie` in its `onSend` hook. A snapshot of the headers counts them where they were set
 * (a hole's cookie is its own request's, not the page's, as with Express's `res.cookie`), in
 * the order the hook appends them.
 */
function withPendingCookies(reply: any, headers: OutgoingHttpHeaders): void {
  const symbol = (pendingCookies ??= Object.getOwnPropertySymbols(reply).find(
    (s) => s.description === 'fastify.reply.setCookies',
  ));
  const pending = symbol === undefined ? undefined : reply[symbol];
  const serialize = reply.server?.serializeCookie;
  if (!(pending instanceof Map) || pending.size === 0 || typeof serialize !== 'function') return;
  const current = headers['set-cookie'];
  const cookies = current === undefined ? [] : Array.isArray(current) ? [...current] : [current];
  for (const c of pending.values()) cookies.push(serialize(c.name, c.value, c.opts));
  headers['set-cookie'] = cookies.length === 1 ? cookies[0] : cookies;
}
let pendingCookies: symbol | undefined;

function isJson(contentType: string): boolean {
  return contentType.split(';', 1)[0].includes('json');
}

function hasCharset(contentType: string): boolean {
  return /;\s*charset=/i.test(contentType);
}
