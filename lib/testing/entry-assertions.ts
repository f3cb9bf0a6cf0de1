import { deepStrictEqual } from 'node:assert/strict';
import type { CacheEntry } from '../stores/cache-entry.js';

/**
 * Asserts that a store gave back `expected` field for field, byte for byte: bodies, variants,
 * headers (multi-valued ones in order), holes, tags and timestamps. A field left out and a field
 * set to `undefined` count as the same.
 *
 * @example
 * ```ts
 * await store.set(entry);
 * assertSameEntry(await store.get(entry.key), entry);
 * ```
 */
export function assertSameEntry(
  actual: CacheEntry | undefined,
  expected: CacheEntry,
  message?: string,
): void {
  if (actual === undefined) {
    throw new Error(message ?? `expected the entry ${expected.key}, got none`);
  }
  if (!Buffer.isBuffer(actual.body)) throw new Error(`the body of ${expected.key} is no Buffer`);
  deepStrictEqual(comparable(actual), comparable(expected), message);
}

/**
 * Asserts that `actual` equals `expected` as plain data (bytes compared as bytes, `undefined`
 * fields dropped), whichever realm made them: a driver's native arrays and a test runner's
 * sandboxed ones compare as equal when their contents are.
 *
 * @example
 * ```ts
 * assertEqualData((await store.list({ skip: 0, take: 10 })).map((s) => s.key), [entry.key]);
 * ```
 */
export function assertEqualData(actual: unknown, expected: unknown, message?: string): void {
  deepStrictEqual(comparable(actual), comparable(expected), message);
}

/**
 * Bytes as hex text, `undefined` fields dropped, rebuilt in this realm: what "the same entry"
 * means. (`instanceof` and `.map` would keep another realm's prototypes: jest runs tests in a
 * VM context, native drivers make their arrays outside it.)
 */
function comparable(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return `bytes:${bytes.toString('hex')}`;
  }
  if (Array.isArray(value)) return Array.from(value, comparable);
  if (value instanceof Set || value instanceof Map) return value;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = comparable(v);
    return out;
  }
  return value;
}
