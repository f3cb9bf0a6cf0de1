import { resolveOutputCacheOptions } from '../output-cache.options.js';
import { buildCacheKey } from '../policy/cache-key.builder.js';
import type { RoutePolicy } from '../policy/route-policy.resolver.js';
import { varyValuesOfKey } from './cache-key-parts.js';

const policy: RoutePolicy = {
  routeId: 'Catalog/category',
  cacheable: true,
  ttlMs: 60_000,
  graceMs: 0,
  staleIfErrorMs: 0,
  varyBy: ['currency', 'roles', 'theme', 'lang|x=y'],
  query: undefined,
  tags: undefined,
  allowAuthenticated: false,
  keyHeaders: new Set(['host']),
};
const options = resolveOutputCacheOptions({ appVersion: '1|2' });
const keyOf = (vary: unknown[], url = '/c?q=%23x|y') =>
  buildCacheKey({ protocol: 'https', host: 'shop.example', url }, policy, options, vary as never)!;

describe('varyValuesOfKey', () => {
  it('reads back the vary-by values of keys made by buildCacheKey', () => {
    expect(varyValuesOfKey(keyOf(['EUR', ['b', 'a,c'], undefined, '<b>|=']))).toEqual({
      currency: 'EUR',
      roles: ['a,c', 'b'],
      theme: '',
      'lang|x=y': '<b>|=',
    });
    expect(varyValuesOfKey(keyOf(['', [], null, 'x']))).toEqual({
      currency: '',
      roles: [],
      theme: '',
      'lang|x=y': 'x',
    });
  });

  it('gives undefined for a digest key', () => {
    expect(keyOf(['EUR', [], 'x', 'y'], `/c?q=${'x'.repeat(2000)}`)).toMatch(/^sha256:/);
    expect(
      varyValuesOfKey(keyOf(['EUR', [], 'x', 'y'], `/c?q=${'x'.repeat(2000)}`)),
    ).toBeUndefined();
  });
});
