import type { CallHandler } from '@nestjs/common';
import { resolveOutputCacheOptions } from '../output-cache.options.js';
import type { RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import { KeyResolver } from './key-resolver.js';
import type { Bypass, Lookup } from './lookup.js';
import { ExpressPlatform } from './platform/express.platform.js';

const options = resolveOutputCacheOptions({
  varyBy: {
    currency: (req) => req.headers['x-currency'] ?? 'EUR',
    language: { header: 'accept-language' },
    broken: () => {
      throw new Error('no profile');
    },
    rejecting: () => Promise.reject(new Error('profile service down')),
    later: () => Promise.resolve('soon'),
  },
  exclude: ['/admin/**'],
});
const policy = (varyBy: string[]): RoutePolicy => ({
  routeId: 'Catalog/product',
  cacheable: true,
  ttlMs: 60_000,
  graceMs: 0,
  staleIfErrorMs: 0,
  varyBy,
  query: undefined,
  tags: undefined,
  allowAuthenticated: false,
  keyHeaders: new Set(['host', 'accept-language']),
});
// The resolver's one use of the policies: `exclude` patterns, compiled from the options.
const policies = { isExcluded: (path: string) => path.startsWith('/admin') } as RoutePolicyResolver;
const keys = new KeyResolver(options, new ExpressPlatform(), policies);
const next = {} as CallHandler;
const request = (url: string, headers: Record<string, string> = {}, method = 'GET') => ({
  method,
  originalUrl: url,
  url,
  protocol: 'https',
  host: 'shop.example',
  headers: { host: 'shop.example', ...headers },
});

describe('KeyResolver', () => {
  it('keys a request by URL as sent and each vary-by value, synchronously', () => {
    const found = keys.resolve(
      request('/p/1?b=2&a=1', { 'x-currency': 'CHF', 'accept-language': 'de' }),
      {},
      policy(['currency', 'language']),
      next,
      false,
    ) as Lookup;
    expect(found.key).toBe(
      'https://shop.example/p/1?a=1&b=2#Catalog%2Fproduct||currency=CHF|language=de',
    );
    expect(found.path).toBe('/p/1');
  });

  it('names why a request bypasses the cache', () => {
    const bypass = (req: ReturnType<typeof request>, varyBy: string[] = []) =>
      (keys.resolve(req, {}, policy(varyBy), next, false) as Bypass).bypass;
    expect(bypass(request('/p/1', {}, 'POST'))).toBe('method');
    expect(bypass(request('/%61dmin/x'))).toBe('excluded'); // decoded before matching
    expect(bypass(request('/p/1', { authorization: 'Bearer x' }))).toBe('authenticated');
    expect(bypass(request('/p/%E0%A4%A'))).toBe('key-error');
    expect(bypass(request('/p/1'), ['broken'])).toBe('vary-error');
  });

  it('waits for async resolvers, and a rejecting one bypasses instead of failing', async () => {
    const later = keys.resolve(request('/p/1'), {}, policy(['later']), next, false);
    expect(later).toBeInstanceOf(Promise);
    expect(((await later) as Lookup).key).toContain('|later=soon');
    const rejected = keys.resolve(request('/p/1'), {}, policy(['rejecting']), next, false);
    await expect(rejected).resolves.toEqual({ bypass: 'vary-error' });
  });
});
