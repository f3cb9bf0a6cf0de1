import type { OutgoingHttpHeaders } from 'node:http';
import { UNSTORED_HEADERS } from '../policy/response-rules.js';
import type { StoredHeaders } from '../stores/cache-entry.js';

/**
 * The headers to store with an entry: those the route set or changed (a middleware's headers,
 * present before the route ran, are set again by that middleware on every hit), minus
 * per-response ones ({@link UNSTORED_HEADERS}).
 */
export function headersToStore(
  before: OutgoingHttpHeaders,
  atSend: OutgoingHttpHeaders,
  bodyLength: number | undefined,
): StoredHeaders {
  const stored: StoredHeaders = {};
  for (const name of Object.keys(atSend)) {
    if (UNSTORED_HEADERS.has(name)) continue;
    const value = atSend[name];
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
