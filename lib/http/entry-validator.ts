import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { CacheEntry } from '../stores/cache-entry.js';

/**
 * Why a readable entry cannot be served, or undefined when it can. A store may hand back an
 * entry that decodes but would fail while being written: a status outside 200-599, a header
 * or ETag that Node refuses (CR/LF in a value), hole offsets outside the body, hole arguments that are
 * not JSON, or a hole naming a component this instance does not have (a rolling deploy sharing
 * Redis). Such an entry is a miss, not a 500 on every hit until its TTL.
 */
export function unservableReason(
  entry: CacheEntry,
  hasComponent: (name: string) => boolean,
): string | undefined {
  if (!Number.isInteger(entry.status) || entry.status < 200 || entry.status > 599) {
    return `status ${String(entry.status)}`;
  }
  if (!Buffer.isBuffer(entry.body)) return 'body is not bytes';
  if (typeof entry.headers !== 'object' || entry.headers === null) return 'no headers';
  for (const name of Object.keys(entry.headers)) {
    const value = entry.headers[name];
    try {
      validateHeaderName(name);
      for (const one of Array.isArray(value) ? value : [value]) {
        if (typeof one !== 'string') throw new TypeError(`header ${name} is not text`);
        validateHeaderValue(name, one);
      }
    } catch (error) {
      return `header ${JSON.stringify(name)}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (entry.etag !== undefined) {
    // Written as the `ETag` header of every hit and 304, like a stored header.
    try {
      if (typeof entry.etag !== 'string') throw new TypeError('not text');
      validateHeaderValue('etag', entry.etag);
    } catch (error) {
      return `etag: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  let last = 0;
  for (const hole of entry.holes ?? []) {
    if (!Number.isInteger(hole.at) || hole.at < last || hole.at > entry.body.length) {
      return `hole ${hole.name} at ${String(hole.at)} is outside the body`;
    }
    last = hole.at;
    if (typeof hole.name !== 'string' || !hasComponent(hole.name)) {
      return `hole names an unknown component ${JSON.stringify(hole.name)}`;
    }
    try {
      JSON.parse(hole.args);
    } catch {
      return `hole ${hole.name} has arguments that are not JSON`;
    }
  }
  return undefined;
}
