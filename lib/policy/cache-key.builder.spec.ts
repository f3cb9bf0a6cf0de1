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
      'https://shop.example:8080/category/shoes?page=2&sort=price#Catalog%2Fcategory|1.2|currency=EUR|roles[]=a,b',
    );
  });

  it('keeps duplicate query keys in order and their case', () => {
    expect(key('/c?a=2&B=1&a=1')).toContain('?B=1&a=2&a=1#');
  });

  it('keeps path and query as sent: raw and percent-encoded forms are different requests', () => {
    // The route sees the raw URL: a page reflecting it must not serve the raw form's output
    // to those who asked for the encoded one (cached XSS).
    expect(key('/c?r="><svg/onload=alert(1)>')).not.toBe(
      key('/c?r=%22%3E%3Csvg%2Fonload%3Dalert(1)%3E'),
    );
    expect(key('/c?q=a+b')).not.toBe(key('/c?q=a%20b'));
    expect(key('/%7Ec')).not.toBe(key('/~c'));
    expect(key('/c/')).toBe(key('/c')); // the router ignores it too
  });
  it('applies the query allow-list to decoded names', () => {
    const only = { ...policy, query: new Set(['page size']) };
    const k = (url: string) =>
      buildCacheKey({ protocol: 'https', host: 'h', url }, only, options, ['EUR', []]);
    expect(k('/c?page+size=2&utm=x')).toBe(k('/c?page+size=2'));
    expect(k('/c?page%20size=2')).not.toBe(k('/c'));
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
