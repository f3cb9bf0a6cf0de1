import type { OutgoingHttpHeaders } from 'node:http';

/** Request headers a response `Vary` may name even though they are not in the key: the
 * middleware that sets them (compression, CORS) runs again on every hit. */
const VARY_HANDLED_DOWNSTREAM = new Set(['accept-encoding', 'origin']);

/**
 * Why a response must not be stored, or undefined. `headers` are the response's headers as
 * they stand when the route sends its body.
 */
export function responseNotStoredReason(
  status: number,
  headers: OutgoingHttpHeaders,
  keyHeaders: ReadonlySet<string>,
): string | undefined {
  // An error says nothing about the next answer: not stored, but not remembered either.
  if (status >= 500) return 'server-error';
  if (status !== 200) return 'status';
  if (headers['set-cookie'] !== undefined) return 'set-cookie';
  const cc = headers['cache-control'];
  if (cc !== undefined && /(?:^|[,\s])(no-store|private|no-cache)(?:$|[,=\s])/i.test(String(cc))) {
    return 'cache-control';
  }
  const vary = headers['vary'];
  if (vary !== undefined) {
    const names = (Array.isArray(vary) ? vary.join(',') : String(vary))
      .split(',')
      .map((n) => n.trim().toLowerCase())
      .filter(Boolean);
    for (const name of names) {
      if (name === '*') return 'vary';
      if (!keyHeaders.has(name) && !VARY_HANDLED_DOWNSTREAM.has(name)) return 'vary';
    }
  }
  if (headers['content-encoding'] !== undefined) return 'content-encoding';
  return undefined;
}

/** Headers never stored with an entry: per-response, hop-by-hop, or recomputed on a hit. */
export const UNSTORED_HEADERS = new Set([
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'etag',
  'age',
  'x-cache',
  'set-cookie',
  'x-powered-by',
]);
