import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { StoredHeaders } from '../../stores/cache-entry.js';

/** A GET request the cache makes up and dispatches into this process's own server. */
export interface InternalRequest {
  /** The request target (path and query), as {@link HttpPlatform.url} gives it. */
  url: string;
  /** Its headers (lower-case names). There is no body, so no `content-length` either. */
  headers: IncomingHttpHeaders;
  /**
   * A property set to `true` on the synthetic request: only the holder of the symbol can tell
   * it from a client's request, and no client can forge it (it is not a header).
   */
  marker: symbol;
  /**
   * Ends the dispatch early: the synthetic response is destroyed, as when a client goes away,
   * and `done` rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** An internal request on its way through the app. */
export interface InternalDispatch {
  /**
   * Resolves with the response status once the response has ended; rejects when it was
   * destroyed before ending (by the app, or through the request's `signal`).
   */
  readonly done: Promise<number>;
}

/**
 * The fast lane's request handler: answers a request before the framework sees it and returns
 * `true`, or leaves it alone (wrote nothing) and returns `false`, then the request goes on into
 * the app unchanged. It receives the request and response in the form the platform's other
 * methods accept at that point (Express: the raw `node:http` pair).
 */
export type FastLaneHandler = (req: any, res: any) => boolean | Promise<boolean>;

/** Why a response ended without the route's body being captured. */
export type UncapturedEnd = 'aborted' | 'streamed';

/**
 * A response whose body goes out piece by piece ({@link HttpPlatform.streamResponse}): chunked,
 * each piece sent as it is written. Once the client went away, writes are dropped quietly.
 */
export interface ResponseStream {
  /** Sends a piece of the body now (nothing once the response closed). */
  write(chunk: Buffer | string): void;
  /** Ends the response (nothing once it closed). */
  end(): void;
  /** Whether the response closed before it ended: the client went away. */
  readonly aborted: boolean;
  /** Whether the response closed (ended or aborted). */
  readonly closed: boolean;
}

/**
 * Everything the cache pipeline needs of a request and a response, behind one seam: the stages
 * never touch a framework's objects directly. `ExpressPlatform` implements it for
 * `@nestjs/platform-express`, `FastifyPlatform` for `@nestjs/platform-fastify`.
 *
 * Requests and responses stay opaque (`any`): vary-by resolvers, tag functions and components
 * receive the platform's own request, as the app knows it.
 */
export abstract class HttpPlatform {
  /** The request method, upper-case. */
  abstract method(req: any): string;
  /** The request target exactly as the route sees it (path and query, undecoded). */
  abstract url(req: any): string;
  /** The scheme as the platform resolves it, verbatim (`trust proxy` decides on forwarded ones). */
  abstract protocol(req: any): string;
  /** Host and port, as the platform resolves it. */
  abstract host(req: any): string;
  /** The raw request headers (lower-case names). */
  abstract headers(req: any): IncomingHttpHeaders;

  /**
   * Dispatches a synthetic GET request into the HTTP server that `req` came in on, in this
   * process and without any network: it passes the same middleware, guards and route as a
   * client's request (same URL, the given headers, the same protocol and addresses as `req`),
   * and its response is discarded. The request starts outside any async context of the caller,
   * as a client's would. `undefined` when `req` did not come in on a server this platform can
   * dispatch into (then nothing ran).
   *
   * This is how a stale entry is refreshed in the process that holds it, whichever worker of a
   * cluster serves the next request.
   *
   * @example
   * const dispatch = platform.dispatchInternal(req, { url: '/page', headers, marker: REFRESH });
   * const status = await dispatch?.done;
   */
  abstract dispatchInternal(req: any, request: InternalRequest): InternalDispatch | undefined;

  /**
   * Whether `req` is an internal request dispatched with `marker` ({@link dispatchInternal}),
   * given the request as a route receives it.
   *
   * @example
   * if (platform.isInternal(req, REFRESH)) return render(); // a background refresh
   */
  isInternal(req: any, marker: symbol): boolean {
    return req?.[marker] === true;
  }

  /**
   * Puts `handler` in front of the framework, at the earliest point a request is seen (Express:
   * a `request` listener on the app's `http.Server` before Express's own; Fastify: the first
   * `onRequest` hook). Requests the handler does not answer, and this process's own internal
   * requests ({@link dispatchInternal}), reach the app exactly as before. `adapter` is the app's
   * `HttpAdapter` (`HttpAdapterHost.httpAdapter`). Returns false when this platform has no fast
   * lane (then every request takes the ordinary path).
   *
   * @example
   * platform.installFastLane(adapterHost.httpAdapter, (req, res) => fastLane.serve(req, res));
   */
  installFastLane(_adapter: any, _handler: FastLaneHandler): boolean {
    return false;
  }

  /** The response status as it stands. */
  abstract status(res: any): number;
  /** A snapshot of the response headers as they stand (a new object, lower-case names). */
  abstract responseHeaders(res: any): OutgoingHttpHeaders;
  abstract setHeader(res: any, name: string, value: string | string[]): void;
  abstract removeHeader(res: any, name: string): void;
  /** Whether the status line and headers are on their way to the client. */
  abstract headersSent(res: any): boolean;

  /**
   * Hands the route's final body to `onBody` where the route sends it (a rendered view, a
   * serialised JSON reply, a string or a Buffer), before anything is written, with `send` to
   * write what should go out instead, now or later. Called once per response.
   */
  abstract captureBody(
    res: any,
    onBody: (body: Buffer | string, send: (body: Buffer | string) => void) => void,
  ): void;

  /**
   * Calls `listener` once, with the status and the final headers, when the response's head is
   * written: after every hook that adds headers at that moment (sessions add `Set-Cookie` there),
   * and, where the platform allows it (Express on node:http), before the head is serialised: the
   * listener may still set headers then (check `headersSent`).
   */
  abstract onHeadersWritten(
    res: any,
    listener: (status: number, headers: OutgoingHttpHeaders) => void,
  ): void;

  /**
   * Calls `listener` once when the response closes: `'aborted'` when the client went away
   * before the response was complete, else `'streamed'` (the caller knows whether it captured
   * a body meanwhile).
   */
  abstract onClose(res: any, listener: (end: UncapturedEnd) => void): void;

  /** Makes the view rendering of this response run through `wrap` (inside the request context). */
  abstract wrapRender(res: any, wrap: <T>(render: () => T) => T): void;

  /**
   * Writes a whole response (a stored entry, or a 304; header sets applied in order, later ones
   * win) and makes the rest of the framework's
   * reply for this response a no-op: the route's view is not rendered again.
   */
  abstract writeResponse(
    res: any,
    status: number,
    body: Buffer | undefined,
    ...headers: StoredHeaders[]
  ): void;

  /**
   * Starts a streamed response: the status (undefined keeps the response's own) and header sets
   * applied in order (later ones win), any `Content-Length` removed, and the body written piece
   * by piece through the returned stream (chunked). The head goes out with the first piece,
   * through the framework's reply (Fastify's `onSend` hooks run, `@fastify/cookie` writes its
   * cookies), and the rest of the framework's reply for this response becomes a no-op.
   *
   * @example
   * const stream = platform.streamResponse(res, 200, entry.headers);
   * stream.write(shell);
   * stream.write(await hole);
   * stream.end();
   */
  abstract streamResponse(
    res: any,
    status: number | undefined,
    ...headers: StoredHeaders[]
  ): ResponseStream;
}
