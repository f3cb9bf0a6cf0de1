import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { UNSTORED_HEADERS } from '../policy/response-rules.js';
import type { StoredHeaders } from '../stores/cache-entry.js';

/** The Express response methods the capture and the hit writer touch. */
export interface ExpressLikeResponse extends ServerResponse {
  send?: (body?: unknown) => unknown;
  json?: (body?: unknown) => unknown;
  render?: (...args: unknown[]) => unknown;
}

/**
 * Wraps `res.send` of one response, the one place every reply of a route passes (`@Render`
 * sends the rendered HTML, JSON replies the serialised string, strings and Buffers as they are),
 * and hands the final body to `onBody` before Express writes it, with `send` to write what should
 * go out instead (now or later). Content types are settled first, exactly as Express would, so
 * that the stored headers match what the client got.
 */
export function captureBody(
  res: ExpressLikeResponse,
  onBody: (body: Buffer | string, send: (body: Buffer | string) => void) => void,
): void {
  const original = res.send;
  if (typeof original !== 'function') return;
  res.send = function captureSend(this: ExpressLikeResponse, body?: unknown) {
    if (typeof body !== 'string' && !Buffer.isBuffer(body)) return original.call(this, body);
    res.send = original;
    settleContentType(res, body);
    onBody(body, (final) => original.call(res, final));
    return res;
  };
}

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

/**
 * The headers to store: those the route set or changed (a middleware's headers, present before
 * the route ran, are set again by that middleware on every hit), minus per-response ones.
 */
export function headersToStore(
  before: OutgoingHttpHeaders,
  now: OutgoingHttpHeaders,
  bodyLength: number | undefined,
): StoredHeaders {
  const stored: StoredHeaders = {};
  for (const name of Object.keys(now)) {
    if (UNSTORED_HEADERS.has(name)) continue;
    const value = now[name];
    if (value === undefined) continue;
    if (name !== 'content-type' && sameHeader(before[name], value)) continue;
    stored[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  // A page with holes gets its length when they are filled.
  if (bodyLength !== undefined) stored['content-length'] = String(bodyLength);
  return stored;
}

function sameHeader(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => String(v) === String(b[i]));
  }
  return a !== undefined && String(a) === String(b);
}

function inert(this: unknown) {
  return this;
}

/**
 * Makes the rest of Nest's reply for this one response a no-op (`res.send`/`json`/`render`):
 * the response was written from the cache, so an `@Render` view is not rendered again.
 */
export function endReply(res: ExpressLikeResponse): void {
  res.send = inert;
  res.json = inert;
  res.render = inert;
}

/** Writes a stored entry as the whole response, and ends Nest's reply ({@link endReply}). */
export function writeEntry(
  res: ExpressLikeResponse,
  isHead: boolean,
  status: number,
  headers: StoredHeaders,
  body: Buffer,
  extra: Record<string, string> | undefined,
): void {
  res.statusCode = status;
  for (const name in headers) res.setHeader(name, headers[name]);
  if (extra) for (const name in extra) res.setHeader(name, extra[name]);
  res.end(isHead ? undefined : body);
  endReply(res);
}
