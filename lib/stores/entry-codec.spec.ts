import { Packr, unpack } from 'msgpackr';
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
  renderedAt: 42,
};

describe('entry codec', () => {
  it('round-trips every field, with a versioned header', () => {
    const bytes = encodeEntry(entry);
    expect([...bytes.subarray(0, 3)]).toEqual([0x4f, 0x43, ENTRY_FORMAT_VERSION]);
    expect(decodeEntry(bytes)).toEqual(entry);
  });

  it('reads version 2 entries (written before renderedAt existed) as entries without it', () => {
    const older: CacheEntry = { ...entry };
    delete older.renderedAt;
    const bytes = encodeEntry(older);
    const fields = unpack(bytes.subarray(3)) as unknown[];
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const v2 = Buffer.concat([Buffer.from([0x4f, 0x43, 2]), packr.pack(fields.slice(0, 15))]);
    expect(decodeEntry(v2)).toEqual(older);
    // A version 2 header on version 3 fields is not taken at its word.
    expect(decodeEntry(Buffer.concat([Buffer.from([0x4f, 0x43, 2]), bytes.subarray(3)]))).toBe(
      'corrupt',
    );
  });

  it('keeps an empty variants object ("tried, none worth keeping") apart from no variants', () => {
    const tried: CacheEntry = { ...entry, variants: {} };
    expect(decodeEntry(encodeEntry(tried))).toEqual(tried);
    const gzipOnly: CacheEntry = { ...entry, variants: { gzip: Buffer.from([31, 139]) } };
    expect(decodeEntry(encodeEntry(gzipOnly))).toEqual(gzipOnly);
    const untried: CacheEntry = { ...entry };
    delete untried.variants;
    const decoded = decodeEntry(encodeEntry(untried));
    expect(decoded).toEqual(untried);
    expect(decoded).not.toHaveProperty('variants');
  });

  it('writes empty variants so that an older reader sees no variants, never an empty body', () => {
    const fields = unpack(encodeEntry({ ...entry, variants: {} }).subarray(3)) as unknown[];
    // Readers of this version before `false` take only bytes as a variant: no `{}` there, but
    // nothing served as a gzip or br body either.
    expect(fields.slice(13, 15)).toEqual([false, false]);
    const untried: CacheEntry = { ...entry, variants: undefined };
    expect((unpack(encodeEntry(untried).subarray(3)) as unknown[]).slice(13, 15)).toEqual([
      null,
      null,
    ]);
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
