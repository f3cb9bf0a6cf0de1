import type { CacheEntry } from './cache-entry.js';
import { decodeEntry, encodeEntry, ENTRY_FORMAT_VERSION } from './entry-codec.js';

const entry: CacheEntry = {
  key: 'https://a/b?#R%2Fr|',
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', link: ['<a>', '<b>'] },
  body: Buffer.from([0, 1, 2, 255]),
  holes: [{ at: 2, name: 'MiniCart', args: '{"x":1}', json: true }],
  tags: ['route:R/r', 'Product:1'],
  path: '/b',
  routeId: 'R/r',
  createdAt: 1_700_000_000_000,
  expiresAt: 1_700_000_060_000,
  graceUntil: 1_700_000_090_000,
  retainUntil: 1_700_000_120_000,
  etag: '"abc"',
  variants: { gzip: Buffer.from([31, 139]), br: Buffer.from([1, 2, 3]) },
};

describe('entry codec', () => {
  it('round-trips every field, with a versioned header', () => {
    const bytes = encodeEntry(entry);
    expect([...bytes.subarray(0, 3)]).toEqual([0x4f, 0x43, ENTRY_FORMAT_VERSION]);
    expect(decodeEntry(bytes)).toEqual(entry);
  });

  it('reads nothing it does not know, without throwing', () => {
    const bytes = encodeEntry(entry);
    expect(decodeEntry(Buffer.from('hello'))).toBe('not-an-entry');
    expect(decodeEntry(null)).toBe('not-an-entry');
    const future = Buffer.from(bytes);
    future[2] = ENTRY_FORMAT_VERSION + 1;
    expect(decodeEntry(future)).toBe('unknown-version');
    expect(decodeEntry(bytes.subarray(0, bytes.length - 5))).toBe('corrupt');
    expect(decodeEntry(Buffer.from([0x4f, 0x43, ENTRY_FORMAT_VERSION, 0x93, 1, 2, 3]))).toBe(
      'corrupt',
    );
  });
});
