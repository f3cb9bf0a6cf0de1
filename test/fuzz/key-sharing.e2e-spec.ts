import 'reflect-metadata';
import fc from 'fast-check';
import http from 'node:http';
import type { Request, Response } from 'express';
import { MemoryOutputCacheStore, OutputCacheModule } from '../../lib/index.js';
import { createTestApp, type TestApp, testPlatform } from '../helpers/test-app.js';
import { fuzzParameters } from './fuzz-parameters.js';
import {
  KeySharingController,
  rolesOf,
  segOf,
  VARY_HEADERS,
  viewOf,
} from './key-sharing.fixture.js';

/** A request as the fuzzer builds it, before it is written as a raw request target. */
interface FuzzRequest {
  route: 'all' | 'some';
  segments: string[];
  trailingSlash: boolean;
  /** Raw `name=value` pairs (or a bare name), exactly as sent. */
  pairs: string[];
  host: string;
  /** Header name as sent (any case) and value; absent when undefined. */
  headers: [string, string | undefined][];
}

// Pools rich in what collides: escapes of plain letters, case of escapes, separators, `+` and
// `%20`, dot segments, empties, Unicode (percent-encoded, as a client must send it).
const SEGMENTS = [
  'a',
  'A',
  '%61',
  '%41',
  'b',
  '%2F',
  '%2f',
  '~',
  '%7E',
  '%7e',
  ';',
  ';x=1',
  '.',
  '..',
  '%2e',
  '',
  '+',
  '%20',
  '%25',
  '%C3%A9',
  '%c3%a9',
  'x%3Fy',
  'a.css',
  '%3B',
];
const NAMES = [
  'a',
  '%61',
  'a%',
  '%61%',
  'A',
  'b',
  'b+c',
  'b%20c',
  'a[]',
  '%70age',
  'page',
  '',
  'b%2Bc',
];
const VALUES = ['1', '2', '', '%31', 'x+y', 'x%20y', '%', '%26', '%3D', '=', 'é', '%C3%A9'];
const HOSTS = ['shop.example', 'SHOP.example', 'shop.example:8080', 'other.example'];
const VARY_VALUES = [undefined, '', 'en', 'EN', 'en|fr', 'en,fr', 'a=b', '%', 'fr#x', 'é'];
const SEG_VALUES = [undefined, '', 'a', '%61', '%C3%A9', '%E2%9C%93', '%F0%9F%98%80', '|', '%7C'];
const ROLE_VALUES = [undefined, '', 'admin', 'admin,editor', 'editor,admin', 'a%2Cb', ','];

const pick = <T>(pool: readonly T[]) => fc.constantFrom(...pool);

const pairArbitrary = fc.oneof(
  fc.tuple(pick(NAMES), pick(VALUES)).map(([n, v]) => `${n}=${v}`),
  pick(NAMES),
);

const requestArbitrary: fc.Arbitrary<FuzzRequest> = fc.record({
  route: pick(['all', 'some'] as const),
  segments: fc.array(pick(SEGMENTS), { minLength: 1, maxLength: 3 }),
  trailingSlash: fc.boolean(),
  pairs: fc.array(pairArbitrary, { maxLength: 5 }),
  host: pick(HOSTS),
  headers: fc
    .tuple(pick(VARY_VALUES), pick(SEG_VALUES), pick(ROLE_VALUES))
    .map(([lang, seg, roles]): [string, string | undefined][] => [
      [VARY_HEADERS.lang, lang],
      [VARY_HEADERS.seg, seg],
      [VARY_HEADERS.roles, roles],
    ]),
});

/** Changes that keep what the route sees, or change it a little: where wrong sharing hides. */
type Mutation = { kind: number; i: number; j: number; pick: number };
const MUTATION_KINDS = 14;
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.nat(MUTATION_KINDS - 1),
  i: fc.nat(),
  j: fc.nat(),
  pick: fc.nat(),
});

const REENCODE: [string, string][] = [
  ['a', '%61'],
  ['%61', 'a'],

  ['b+c', 'b%20c'],
  ['b%20c', 'b+c'],
  ['%2F', '%2f'],
  ['%2f', '%2F'],
  ['~', '%7E'],
  ['%7E', '%7e'],
  ['x+y', 'x%20y'],
  ['%C3%A9', '%c3%a9'],
  ['1', '%31'],
];

function mutate(source: FuzzRequest, mutations: Mutation[]): FuzzRequest {
  const r: FuzzRequest = {
    ...source,
    segments: [...source.segments],
    pairs: [...source.pairs],
    headers: source.headers.map(([n, v]) => [n, v]),
  };
  const at = <T>(list: T[], n: number) => (list.length === 0 ? -1 : n % list.length);
  for (const m of mutations) {
    const p = at(r.pairs, m.i);
    const q = at(r.pairs, m.j);
    const h = m.i % r.headers.length;
    switch (m.kind) {
      case 0: // two pairs change places
        if (p >= 0 && q >= 0) [r.pairs[p], r.pairs[q]] = [r.pairs[q], r.pairs[p]];
        break;
      case 1: // a pair sent twice
        if (p >= 0) r.pairs.splice(q, 0, r.pairs[p]);
        break;
      case 2: // a pair dropped
        if (p >= 0) r.pairs.splice(p, 1);
        break;
      case 3: // one spelling of a pair for another
      case 4: {
        if (p < 0) break;
        const [from, to] = REENCODE[m.pick % REENCODE.length];
        r.pairs[p] = r.pairs[p].replace(from, to);
        break;
      }
      case 5: {
        const s = at(r.segments, m.i);
        const [from, to] = REENCODE[m.pick % REENCODE.length];
        r.segments[s] = r.segments[s].replace(from, to);
        break;
      }
      case 6:
        r.trailingSlash = !r.trailingSlash;
        break;
      case 7: // the host in another case
        r.host = m.pick % 2 ? r.host.toUpperCase() : r.host.toLowerCase();
        break;
      case 8: // a header name in another case
        r.headers[h][0] =
          m.pick % 2 ? r.headers[h][0].toUpperCase() : 'X-' + r.headers[h][0].slice(2);
        break;
      case 9: // a vary value absent, empty, or another one
        r.headers[h][1] = [undefined, '', 'en', 'a'][m.pick % 4];
        break;
      case 10: // roles in another order
        if (r.headers[2][1]) r.headers[2][1] = r.headers[2][1].split(',').reverse().join(',');
        break;
      case 11: // the other route
        r.route = r.route === 'all' ? 'some' : 'all';
        break;
      case 12: // an empty pair (`&&`) somewhere
        r.pairs.splice(p < 0 ? 0 : p, 0, '');
        break;
      case 13: // a segment in another case
        r.segments[at(r.segments, m.i)] = r.segments[at(r.segments, m.i)].toUpperCase();
        break;
    }
  }
  return r;
}

function targetOf(r: FuzzRequest): string {
  const path = `/fz/${r.route}/${r.segments.join('/')}${r.trailingSlash ? '/' : ''}`;
  return r.pairs.length > 0 ? `${path}?${r.pairs.join('&')}` : path;
}

interface Answer {
  status: number;
  cache: string | undefined;
  reason: string | undefined;
  /** What the route saw when it rendered the body (for a hit: the request that filled it). */
  rendered: string;
  /** What the route would see of this request (a middleware's view, on every response). */
  live: string | undefined;
}

/** A GET with the raw request target and headers (supertest would re-encode the URL). */
function send(t: TestApp, r: FuzzRequest): Promise<Answer> {
  const { port } = t.app.getHttpServer().address() as { port: number };
  const headers: Record<string, string> = { host: r.host };
  for (const [name, value] of r.headers) if (value !== undefined) headers[name] = value;
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: targetOf(r), headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const live = res.headers['x-view-live'] as string | undefined;
          resolve({
            status: res.statusCode!,
            cache: res.headers['x-cache'] as string | undefined,
            reason: res.headers['x-cache-reason'] as string | undefined,
            rendered: Buffer.concat(chunks).toString('utf8'),
            live: live === undefined ? undefined : Buffer.from(live, 'base64url').toString('utf8'),
          });
        });
      })
      .on('error', reject);
  });
}

describe('fuzz: two requests share an entry only when everything the route sees is equal', () => {
  let t: TestApp;
  const store = new MemoryOutputCacheStore();

  beforeAll(async () => {
    t = await createTestApp(
      {
        imports: [
          OutputCacheModule.forRoot({
            store,
            headers: true,
            reasonHeader: true,
            varyBy: {
              lang: { header: VARY_HEADERS.lang },
              seg: (req: Request) => segOf(req),
              roles: (req: Request) => rolesOf(req),
            },
          }),
        ],
        controllers: [KeySharingController],
      },
      (app) => {
        // Before the cache: what the route would see of this very request, on every response.
        if (testPlatform === 'fastify') {
          // Fastify's middleware sees the raw request; its first hook sees the route's request.
          const fastify = app.getHttpAdapter().getInstance() as unknown as {
            addHook(
              name: 'onRequest',
              hook: (req: any, reply: any, done: () => void) => void,
            ): void;
          };
          fastify.addHook('onRequest', (req, reply, done) => {
            if (String(req.url).startsWith('/fz/')) {
              reply.header('x-view-live', Buffer.from(viewOf(req)).toString('base64url'));
            }
            done();
          });
          return;
        }
        app.use((req: Request, res: Response, next: () => void) => {
          if (req.path.startsWith('/fz/')) {
            res.setHeader('x-view-live', Buffer.from(viewOf(req)).toString('base64url'));
          }
          next();
        });
      },
    );
  });
  afterAll(() => t?.close());

  it('a hit always shows a view equal to its own request’s, and the same request hits', async () => {
    const tally = { pairs: 0, hits: 0, sameRequestHits: 0, bypassed: 0 };
    await fc.assert(
      fc.asyncProperty(
        requestArbitrary,
        fc.array(mutationArbitrary, { maxLength: 3 }),
        async (first, mutations) => {
          await store.clear();
          const second = mutate(first, mutations);
          const a = await send(t, first);
          const b = await send(t, second);
          tally.pairs++;
          for (const [r, answer] of [
            [first, a],
            [second, b],
          ] as const) {
            if (answer.status !== 200) {
              // Only a path the router cannot decode (400) or match (404) fails: never cached.
              expect({ target: targetOf(r), cache: answer.cache }).toEqual({
                target: targetOf(r),
                cache: undefined,
              });
              expect([400, 404]).toContain(answer.status);
              continue;
            }
            // Rendered for this request (miss) or for the one that filled the entry (hit):
            // either way what the route saw must be what this request shows it.
            expect({ target: targetOf(r), cache: answer.cache, saw: answer.rendered }).toEqual({
              target: targetOf(r),
              cache: answer.cache,
              saw: answer.live,
            });
          }
          if (b.cache === 'HIT') tally.hits++;
          if (a.cache === 'BYPASS') tally.bypassed++;
          // The same request again must hit what the first stored (else the test proves nothing).
          if (
            targetOf(first) === targetOf(second) &&
            JSON.stringify(first) === JSON.stringify(second) &&
            a.cache === 'MISS'
          ) {
            expect({ target: targetOf(second), cache: b.cache, reason: b.reason }).toMatchObject({
              cache: 'HIT',
            });
            tally.sameRequestHits++;
          }
        },
      ),
      {
        ...fuzzParameters<[FuzzRequest, Mutation[]]>(400),
        // Found by this fuzzer (seed 599842207): `a%` and `%61%` are one name to the route, and
        // were sorted apart in the key. Kept as a fixed case.
        examples: [
          [
            {
              route: 'all',
              segments: ['a'],
              trailingSlash: false,
              pairs: ['a%=1', '%61%'],
              host: 'shop.example',
              headers: [
                [VARY_HEADERS.lang, undefined],
                [VARY_HEADERS.seg, undefined],
                [VARY_HEADERS.roles, undefined],
              ],
            },
            [{ kind: 0, i: 1, j: 0, pick: 0 }],
          ],
        ],
      },
    );
    console.log(`key sharing fuzz: ${JSON.stringify(tally)}`);
    // The property was put to the test: hits happened, among requests that were not identical.
    expect(tally.hits).toBeGreaterThan(tally.sameRequestHits);
    expect(tally.sameRequestHits).toBeGreaterThan(0);
  }, 300_000);
});
