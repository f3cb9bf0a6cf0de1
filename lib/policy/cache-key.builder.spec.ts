import { resolveOutputCacheOptions } from '../output-cache.options.js';
import { buildCacheKey, normalizePath } from './cache-key.builder.js';
import type { RoutePolicy } from './route-policy.resolver.js';

const options = resolveOutputCacheOptions({ appVersion: '1.2' });
const policy: RoutePolicy = {
  routeId: 'Catalog/category',
  cacheable: true,
  ttlMs: 60_000,
  graceMs: 0,
  staleIfErrorMs: 0,
  varyBy: ['currency', 'roles'],
  query: undefined,
  tags: undefined,
  allowAuthenticated: false,
  keyHeaders: new Set(['host']),
};
const key = (url: string, vary: any[] = ['EUR', ['b', 'a']], host = 'Shop.example:8080') =>
  buildCacheKey({ protocol: 'https', host, url }, policy, options, vary);

describe('buildCacheKey', () => {
  it('reads as scheme, host, path, sorted query, route id, version and vary-by values', () => {
    expect(key('/category/shoes?sort=price&page=2')).toBe(
      'https://shop.example:8080/category/shoes?page=2&sort=price#Catalog%2Fcategory|1.2|currency=EUR|roles=a,b',
    );
  });

  it('keeps duplicate query keys in order and their case', () => {
    expect(key('/c?a=2&B=1&a=1')).toContain('?B=1&a=2&a=1#');
  });

  it('treats + and %20, %7E and ~ alike, and drops a trailing slash', () => {
    expect(key('/c/?q=a+b')).toBe(key('/c?q=a%20b'));
    expect(key('/%7Ec')).toBe(key('/~c'));
  });

  it('escapes separators inside values so distinct inputs never collide', () => {
    const seen = new Set<string | undefined>([
      key('/c', ['EUR|roles=x', []]),
      key('/c', ['EUR', ['x']]),
      key('/c', ['EUR,x', []]),
      key('/c', ['EUR', ['EUR', 'x']]),
      key('/c?a=1%26b%3D2'),
      key('/c?a=1&b=2'),
      key('/c', ['EUR', ['b', 'a']], 'shop.example#x'),
      key('/c', ['EUR', ['b', 'a']], 'shop.example'),
      key('/c%2Fd'),
      key('/c/d'),
    ]);
    expect(seen.size).toBe(10);
  });

  it('cannot key invalid escapes or lone surrogates (such requests are not cached)', () => {
    expect(key('/c%E0%A4%A')).toBeUndefined();
    expect(key('/c', ['\uD800', []])).toBeUndefined();
  });

  it('digests very long keys', () => {
    const long = key(`/c?q=${'x'.repeat(5000)}`)!;
    expect(long).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(key(`/c?q=${'x'.repeat(5000)}y`)).not.toBe(long);
  });
});

describe('normalizePath', () => {
  it('normalises escapes and trailing slashes', () => {
    expect(normalizePath('/')).toBe('/');
    expect(normalizePath('/a/b/')).toBe('/a/b');
    expect(normalizePath('/a%20b')).toBe('/a%20b');
    expect(normalizePath('/%zz')).toBeUndefined();
  });
});
