import { Packr } from 'msgpackr';
import type { CacheEntry, HoleRef } from './cache-entry.js';

/** Bytes that open every encoded entry: "OC" and the format version. */
const MAGIC_0 = 0x4f;
const MAGIC_1 = 0x43;
/**
 * The format this code writes (3: with `renderedAt`). It also reads version 2, the same fields
 * less `renderedAt`; any other version is a miss.
 */
export const ENTRY_FORMAT_VERSION = 3;
const PREVIOUS_FORMAT_VERSION = 2;

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Encodes an entry for a store that keeps bytes (TypeORM, Redis): a 3-byte header ("OC",
 * version) and a MessagePack array of the entry's fields. Binary bodies stay binary.
 *
 * The two variant fields are `null` when the entry has no `variants`, the compressed bytes, or
 * `false` when `variants` exists without that encoding: `variants: {}` ("tried, none worth
 * keeping") survives the round trip, and a reader that knows only `null` and bytes still reads
 * such an entry (as one without variants), so the format version stays.
 *
 * @example
 * ```ts
 * const entry = decodeEntry(encodeEntry({ ...page, variants: {} })); // variants: {}
 * ```
 */
export function encodeEntry(entry: CacheEntry): Buffer {
  const payload = packr.pack([
    entry.key,
    entry.status,
    entry.headers,
    entry.body,
    entry.holes?.map((h) => [h.at, h.name, h.args, h.json ? 1 : 0]) ?? null,
    entry.tags,
    entry.path,
    entry.routeId,
    entry.createdAt,
    entry.expiresAt,
    entry.graceUntil ?? null,
    entry.retainUntil ?? null,
    entry.etag ?? null,
    entry.variants ? (entry.variants.gzip ?? false) : null,
    entry.variants ? (entry.variants.br ?? false) : null,
    entry.renderedAt ?? null,
  ]);
  const out = Buffer.allocUnsafe(payload.length + 3);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = ENTRY_FORMAT_VERSION;
  out.set(payload, 3);
  return out;
}

/** Why an entry could not be read. */
export type DecodeFailure = 'not-an-entry' | 'unknown-version' | 'corrupt';

/**
 * Decodes an entry, or returns why it cannot: a corrupt entry, bytes of another format or of a
 * version this code does not know are a miss, never an error.
 */
export function decodeEntry(data: Uint8Array | null | undefined): CacheEntry | DecodeFailure {
  if (!data || data.length < 4 || data[0] !== MAGIC_0 || data[1] !== MAGIC_1) return 'not-an-entry';
  const version = data[2];
  if (version !== ENTRY_FORMAT_VERSION && version !== PREVIOUS_FORMAT_VERSION) {
    return 'unknown-version';
  }
  try {
    const fields = packr.unpack(data.subarray(3)) as unknown[];
    // Version 3 has 16 fields; version 2 had 15 (no `renderedAt`).
    const expected = version === ENTRY_FORMAT_VERSION ? 16 : 15;
    if (!Array.isArray(fields) || fields.length !== expected) return 'corrupt';
    const [key, status, headers, body, holes, tags, path, routeId, createdAt, expiresAt] =
      fields as [
        string,
        number,
        CacheEntry['headers'],
        Uint8Array,
        [number, string, string, number][] | null,
        string[],
        string,
        string,
        number,
        number,
      ];
    if (
      typeof key !== 'string' ||
      typeof status !== 'number' ||
      !(body instanceof Uint8Array) ||
      typeof headers !== 'object' ||
      !Array.isArray(tags) ||
      typeof expiresAt !== 'number'
    ) {
      return 'corrupt';
    }
    const entry: CacheEntry = {
      key,
      status,
      headers,
      body: toBuffer(body),
      tags,
      path,
      routeId,
      createdAt,
      expiresAt,
    };
    const [graceUntil, retain, etag, gzip, br, renderedAt] = fields.slice(10) as [
      number | null,
      number | null,
      string | null,
      Uint8Array | false | null,
      Uint8Array | false | null,
      number | null | undefined,
    ];
    if (typeof renderedAt === 'number') entry.renderedAt = renderedAt;
    if (typeof graceUntil === 'number') entry.graceUntil = graceUntil;
    if (typeof retain === 'number') entry.retainUntil = retain;
    if (typeof etag === 'string') entry.etag = etag;
    if (isVariant(gzip) || isVariant(br)) {
      entry.variants = {};
      if (gzip instanceof Uint8Array) entry.variants.gzip = toBuffer(gzip);
      if (br instanceof Uint8Array) entry.variants.br = toBuffer(br);
    }
    if (holes) {
      entry.holes = holes.map(([at, name, args, json]): HoleRef => {
        const hole: HoleRef = { at, name, args };
        if (json) hole.json = true;
        return hole;
      });
    }
    return entry;
  } catch {
    return 'corrupt';
  }
}

/** A variant field that says `variants` exists: its bytes, or `false` (not kept). */
function isVariant(field: unknown): boolean {
  return field === false || field instanceof Uint8Array;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
