import type { CacheEntry } from '../stores/cache-entry.js';
import {
  acceptedCodings,
  etagMatches,
  pickVariant,
  precompress,
  worthCompressing,
} from './variants.js';

const entry = (body: string, type = 'text/html'): CacheEntry => ({
  key: 'k',
  status: 200,
  headers: { 'content-type': type },
  body: Buffer.from(body),
  tags: [],
  path: '/',
  routeId: 'R/r',
  createdAt: 0,
  expiresAt: 1,
  etag: '"abc"',
});

describe('acceptedCodings', () => {
  it.each([
    ['gzip, br', ['br', 'gzip']],
    ['br;q=0, *', ['gzip']],
    ['*;q=0, gzip', ['gzip']],
    ['*', ['br', 'gzip']],
    ['gzip;q=0.5, br;q=0', ['gzip']],
    ['identity', ['identity']],
    ['GZIP ; q=1', ['gzip']],
    ['', []],
  ])('%j accepts %j', (header, codings) => {
    expect([...acceptedCodings(header)].sort()).toEqual(codings);
  });
});

describe('pickVariant', () => {
  it('never sends an encoding the client refused by name', async () => {
    const e = entry('lorem ipsum '.repeat(200));
    await precompress(e);
    expect(pickVariant(e, 'br;q=0, *').headers['content-encoding']).toBe('gzip');
    expect(pickVariant(e, 'gzip;q=0, br;q=0, *').headers['content-encoding']).toBeUndefined();
    expect(pickVariant(e, 'br').etag).toBe('"abc-br"');
    expect(pickVariant(e, undefined).headers.vary).toBe('Accept-Encoding');
  });

  it('settles bodies not worth compressing with empty variants', async () => {
    const small = entry('<p>1</p>');
    expect(worthCompressing(small)).toBe(false);
    await precompress(small);
    expect(small.variants).toEqual({});
    expect(worthCompressing(entry('x'.repeat(5000), 'image/png'))).toBe(false);
  });
});

describe('etagMatches', () => {
  it('compares weakly and understands lists and *', () => {
    expect(etagMatches('"x", W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches('*', '"abc"')).toBe(true);
    expect(etagMatches('"abd"', '"abc"')).toBe(false);
    expect(etagMatches(undefined, '"abc"')).toBe(false);
  });
});
