import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CacheEntry } from '../stores/cache-entry.js';
import { endReply, type ExpressLikeResponse } from './response-capture.js';

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
 * Adds gzip and brotli variants to an entry whose text body is 1 KB or more, made once, off the
 * event loop (zlib's thread pool). A variant no smaller than the body is dropped.
 */
export async function precompress(entry: CacheEntry): Promise<void> {
  const type = String(entry.headers['content-type'] ?? '');
  if (entry.body.length < PRECOMPRESS_MIN_BYTES || !COMPRESSIBLE.test(type)) return;
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

function acceptedCodings(header: string): Set<string> {
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    if (name === '*') {
      accepted.add('gzip');
      accepted.add('br');
    } else if (name) {
      accepted.add(name);
    }
  }
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

/** A 304 with only `ETag`, `Cache-Control`, `Vary` and `Date` (Node adds the date). */
export function writeNotModified(res: ExpressLikeResponse, entry: CacheEntry, variant: Variant) {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = 304;
  if (variant.etag) res.setHeader('ETag', variant.etag);
  const cacheControl = entry.headers['cache-control'];
  if (cacheControl !== undefined) res.setHeader('Cache-Control', cacheControl);
  const vary = variant.headers.vary ?? entry.headers.vary;
  if (vary !== undefined) res.setHeader('Vary', vary);
  res.end();
  endReply(res);
}
