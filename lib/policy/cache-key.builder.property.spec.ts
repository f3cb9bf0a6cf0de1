import fc from 'fast-check';
import { unescape as unescapeQuery } from 'node:querystring';
import { fuzzParameters } from '../../test/fuzz/fuzz-parameters.js';
import { resolveOutputCacheOptions } from '../output-cache.options.js';
import type { VaryByValue } from '../output-cache.options.js';
import { buildCacheKey } from './cache-key.builder.js';
import type { RoutePolicy } from './route-policy.resolver.js';

const options = resolveOutputCacheOptions({ appVersion: 'v1' });
const policy = (query?: string[]) =>
  ({
    routeId: 'Fuzz/page',
    varyBy: ['lang', 'roles'],
    query: query ? new Set(query) : undefined,
  }) as unknown as RoutePolicy;

interface Input {
  host: string;
  path: string;
  pairs: string[];
  lang: string | undefined;
  roles: string[] | undefined;
  allowList: boolean;
}

const ALLOWED = ['a', 'b c'];

/**
 * What the key promises to tell apart, written out plainly: the host without case, the path as
 * sent less one trailing slash, the query pairs as sent, grouped by the name the app reads (in
 * name order, each name's pairs in their order; only allow-listed names when the route has a
 * list), the vary values (roles as a set; absent, empty and empty set all different).
 */
function viewOf(input: Input): string {
  let path = input.path;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const byName = new Map<string, string[]>();
  for (const pair of input.pairs) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = unescapeQuery((eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    if (input.allowList && !ALLOWED.includes(name)) continue;
    byName.set(name, [...(byName.get(name) ?? []), pair]);
  }
  const query = [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify({
    host: input.host.toLowerCase(),
    path,
    query,
    lang: input.lang ?? null,
    roles: input.roles ? [...input.roles].sort() : null,
    allowList: input.allowList,
  });
}

function keyOf(input: Input): string | undefined {
  const url = input.pairs.length ? `${input.path}?${input.pairs.join('&')}` : input.path;
  const vary: VaryByValue[] = [input.lang, input.roles];
  return buildCacheKey(
    { protocol: 'https', host: input.host, url },
    policy(input.allowList ? ALLOWED : undefined),
    options,
    vary,
  );
}

const pick = <T>(pool: readonly T[]) => fc.constantFrom(...pool);
const PATHS = ['/a', '/a/', '/A', '/%61', '/a%2Fb', '/a/b', '/a;b', '/a%3Bb', '/~', '/%7E', '/'];
const NAMES = ['a', '%61', 'A', 'a%', '%61%', 'b+c', 'b%20c', 'b c', '', '%', '%25', 'a[]'];
const VALUES = ['', '1', '%31', '=', '%3D', '&', 'x y', 'x+y', '|', '#'];
const pair = fc.oneof(
  fc.tuple(pick(NAMES), pick(VALUES)).map(([n, v]) => `${n}=${v}`),
  pick(NAMES),
);
const input: fc.Arbitrary<Input> = fc.record({
  host: pick(['shop.example', 'SHOP.example', 'shop.example:8080', 'shop.exampl', 'e.shop']),
  path: pick(PATHS),
  pairs: fc.array(pair, { maxLength: 4 }),
  lang: pick([undefined, '', 'en', 'en|x', 'en=x', '|', 'é', '\u2713']),
  roles: pick([undefined, [], [''], ['a'], ['a', 'b'], ['b', 'a'], ['a,b'], ['a', '']]),
  allowList: fc.boolean(),
});
/** A second input that is often the first one respelled or reordered. */
const pairOfInputs = fc.oneof(
  fc.tuple(input, input),
  fc.tuple(input, fc.nat(), fc.nat()).map(([a, i, j]): [Input, Input] => {
    const pairs = [...a.pairs];
    if (pairs.length > 1)
      [pairs[i % pairs.length], pairs[j % pairs.length]] = [
        pairs[j % pairs.length],
        pairs[i % pairs.length],
      ];
    return [a, { ...a, pairs, host: i % 2 ? a.host.toUpperCase() : a.host }];
  }),
);

describe('cache key (property)', () => {
  it('two requests get one key exactly when what the route sees of them is equal', () => {
    fc.assert(
      fc.property(pairOfInputs, ([a, b]) => {
        const [keyA, keyB] = [keyOf(a), keyOf(b)];
        expect(keyA).toBeDefined();
        expect({ a, b, sameKey: keyA === keyB }).toEqual({
          a,
          b,
          sameKey: viewOf(a) === viewOf(b),
        });
      }),
      fuzzParameters(2000),
    );
  });
});
