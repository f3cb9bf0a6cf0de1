import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CacheEntry } from '../stores/cache-entry.js';

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/** Bodies smaller than this are not worth a compressed variant. */
export const PRECOMPRESS_MIN_BYTES = 1024;
const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|[\w.+-]+\+(json|xml))|image\/svg\+xml)/i;

/** A strong ETag of a body: computed once, when the entry is stored. */
export function strongEtag(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/**
 * Whether an entry's body is worth compressed variants: text of 1 KB or more, on a page without
 * holes. Decided once, when the entry is built: an entry that is not gets `variants: {}` and is
 * never tried again.
 */
export function worthCompressing(entry: CacheEntry): boolean {
  const type = String(entry.headers['content-type'] ?? '');
  return (
    !entry.holes?.length && entry.body.length >= PRECOMPRESS_MIN_BYTES && COMPRESSIBLE.test(type)
  );
}

/**
 * Adds gzip and brotli variants to an entry, made once, off the event loop (zlib's thread pool).
 * A variant no smaller than the body is dropped; `variants` is `{}` when none is kept.
 */
export async function precompress(entry: CacheEntry): Promise<void> {
  if (!worthCompressing(entry)) {
    entry.variants = {};
    return;
  }
  const [gz, br] = await Promise.all([
    gzip(entry.body, { level: 6 }),
    brotli(entry.body, {
      params: {
        // Quality 4: about 0.2 ms for 20 KB (quality 9 costs 5 ms, and stores of a miss storm
        // would queue behind it), still well below gzip's size.
        [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: entry.body.length,
      },
    }),
  ]);
  entry.variants = {};
  if (gz.length < entry.body.length) entry.variants.gzip = gz;
  if (br.length < entry.body.length) entry.variants.br = br;
}

/** One representation of an entry: its bytes, validator and the headers that go with it. */
export interface Variant {
  body: Buffer;
  etag: string | undefined;
  headers: Record<string, string>;
}

const variantCache = new WeakMap<
  CacheEntry,
  Partial<Record<'identity' | 'gzip' | 'br', Variant>>
>();

/**
 * The representation a client asked for (`Accept-Encoding`): brotli, else gzip, else identity.
 * Each is prepared once per entry; a client is never sent an encoding it did not accept.
 */
export function pickVariant(entry: CacheEntry, acceptEncoding: unknown): Variant {
  const accepted = typeof acceptEncoding === 'string' ? acceptedCodings(acceptEncoding) : undefined;
  const coding: 'identity' | 'gzip' | 'br' =
    entry.variants?.br && accepted?.has('br')
      ? 'br'
      : entry.variants?.gzip && accepted?.has('gzip')
        ? 'gzip'
        : 'identity';
  let cached = variantCache.get(entry);
  if (!cached) variantCache.set(entry, (cached = {}));
  return (cached[coding] ??= makeVariant(entry, coding));
}

function makeVariant(entry: CacheEntry, coding: 'identity' | 'gzip' | 'br'): Variant {
  const body = coding === 'identity' ? entry.body : entry.variants![coding]!;
  const headers: Record<string, string> = { 'content-length': String(body.length) };
  if (coding !== 'identity') headers['content-encoding'] = coding;
  if (entry.variants && (entry.variants.gzip || entry.variants.br)) {
    headers.vary = appendVary(entry.headers.vary, 'Accept-Encoding');
  }
  const etag =
    entry.etag && coding !== 'identity' ? `${entry.etag.slice(0, -1)}-${coding}"` : entry.etag;
  if (etag) headers.etag = etag;
  return { body, etag, headers };
}

/**
 * The content codings a client accepts (RFC 9110 §12.5.3): those named with a non-zero weight,
 * and, when `*` has one, every coding the header does not name. A coding refused by name
 * (`br;q=0`) stays refused whatever `*` says.
 */
export function acceptedCodings(header: string): Set<string> {
  const accepted = new Set<string>();
  const named = new Set<string>();
  let star = false;
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.trim().toLowerCase().split(';');
    const name = rawName.trim();
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const ok = q === undefined || Number(q.slice(2)) > 0;
    if (name === '*') {
      star = ok;
      continue;
    }
    named.add(name);
    if (ok) accepted.add(name);
  }
  if (star) for (const coding of ['gzip', 'br']) if (!named.has(coding)) accepted.add(coding);
  return accepted;
}

function appendVary(existing: string | string[] | undefined, name: string): string {
  const current = Array.isArray(existing) ? existing.join(', ') : (existing ?? '');
  const names = current.split(',').map((n) => n.trim().toLowerCase());
  if (names.includes(name.toLowerCase()) || names.includes('*')) return current;
  return current ? `${current}, ${name}` : name;
}

/** Whether `If-None-Match` names the representation's validator (weak comparison, RFC 9110). */
export function etagMatches(ifNoneMatch: unknown, etag: string | undefined): boolean {
  if (!etag || typeof ifNoneMatch !== 'string') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}
