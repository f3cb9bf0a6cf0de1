import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import {
  MemoryOutputCacheStore,
  OutputCacheAdminModule,
  OutputCacheConfigError,
  OutputCacheModule,
  type OutputCacheModuleOptions,
  OutputCacheProvider,
} from '../lib/index.js';
import {
  ADMIN_TEST_TOKEN,
  AdminPagesController,
  TokenGuard,
} from './fixtures/admin-pages.controller.js';
import { FaultyStore } from './helpers/faulty-store.js';
import { createTestApp, type TestApp, testPlatform } from './helpers/test-app.js';

const AUTH = { Authorization: `Bearer ${ADMIN_TEST_TOKEN}` };
const BASE = '/admin/output-cache';

function cacheOptions(store: MemoryOutputCacheStore): OutputCacheModuleOptions {
  return {
    store,
    defaultTtl: 300,
    grace: 60,
    varyBy: { currency: (req) => req.headers['x-currency'] ?? 'USD' },
  };
}

describe('OutputCacheAdminModule: start-up', () => {
  it('refuses to mount without a guard, saying how to fix it', () => {
    expect(() => OutputCacheAdminModule.forRoot({})).toThrow(OutputCacheConfigError);
    expect(() => OutputCacheAdminModule.forRoot({})).toThrow(
      /a guard is required.*allowInsecure: true/s,
    );
    expect(() => OutputCacheAdminModule.forRoot({ allowInsecure: false })).toThrow(
      /guard is required/,
    );
  });

  it('refuses a guard that is not a CanActivate, an unknown option, a bad path', () => {
    expect(() => OutputCacheAdminModule.forRoot({ guard: {} as never })).toThrow(/CanActivate/);
    expect(() => OutputCacheAdminModule.forRoot({ guard: TokenGuard, paht: 'x' } as never)).toThrow(
      /unknown option "paht"/,
    );
    expect(() => OutputCacheAdminModule.forRoot({ guard: TokenGuard, path: 'a b' })).toThrow(
      /option "path"/,
    );
    expect(() => OutputCacheAdminModule.forRoot({ guard: TokenGuard, maxTake: 0 })).toThrow(
      /option "maxTake"/,
    );
  });

  it('fails the app start when forRoot is given no guard', async () => {
    await expect(
      (async () =>
        Test.createTestingModule({
          imports: [OutputCacheModule.forRoot(), OutputCacheAdminModule.forRoot({})],
        }).compile())(),
    ).rejects.toThrow(OutputCacheConfigError);
  });

  it('mounts unprotected only with allowInsecure: true, at a custom path', async () => {
    const t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot(),
        OutputCacheAdminModule.forRoot({ path: '/ops/cache/', allowInsecure: true }),
      ],
    });
    try {
      await t.http().get('/ops/cache/stats').expect(200);
      await t.http().get('/ops/cache/health').expect(200);
      await t.http().get(`${BASE}/stats`).expect(404);
    } finally {
      await t.close();
    }
  });
});

describe('OutputCacheAdminModule: endpoints (e2e)', () => {
  let t: TestApp;
  let store: FaultyStore;
  let cache: OutputCacheProvider;

  beforeAll(async () => {
    store = new FaultyStore();
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot(cacheOptions(store)),
        OutputCacheAdminModule.forRoot({ guard: TokenGuard, maxTake: 100 }),
      ],
      controllers: [AdminPagesController],
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    store.mode = 'ok';
    await cache.invalidateAll();
  });

  /** Renders and stores pages: products 1-3, two posts, product 1 also in EUR. */
  async function fill(): Promise<void> {
    for (const url of ['/shop/products/1', '/shop/products/2', '/shop/products/3']) {
      await t.http().get(url).expect(200);
    }
    await t.http().get('/shop/products/1').set('x-currency', 'EUR').expect(200);
    await t.http().get('/shop/blog/hello').expect(200);
    await t.http().get('/shop/blog/world').expect(200);
  }

  const get = (path: string) => t.http().get(`${BASE}${path}`).set(AUTH);
  const purge = (body: unknown) =>
    t
      .http()
      .post(`${BASE}/purge`)
      .set(AUTH)
      .send(body as object);

  describe('the guard', () => {
    it('answers 403 to every endpoint without the token, and purges nothing', async () => {
      await fill();
      for (const path of ['', '/', '/entries', '/entry?key=x', '/stats', '/timeline', '/health']) {
        await t.http().get(`${BASE}${path}`).expect(403);
      }
      await t.http().get(`${BASE}/stats`).set('Authorization', 'Bearer wrong').expect(403);
      await t.http().post(`${BASE}/purge`).send({ all: true }).expect(403);
      await t.http().post(`${BASE}/dashboard/purge`).type('form').send({ by: 'all' }).expect(403);
      expect(await cache.count()).toBe(6);
    });

    it('accepts a guard instance as well as a class', async () => {
      const other = await createTestApp({
        imports: [
          OutputCacheModule.forRoot(),
          OutputCacheAdminModule.forRoot({
            guard: {
              canActivate: (ctx) => ctx.switchToHttp().getRequest().headers['x-ok'] === '1',
            },
          }),
        ],
      });
      try {
        await other.http().get(`${BASE}/stats`).expect(403);
        await other.http().get(`${BASE}/stats`).set('x-ok', '1').expect(200);
      } finally {
        await other.close();
      }
    });
  });

  describe('listing', () => {
    it('lists entries with route, path, vary values, size, tags, age, TTL left and hits', async () => {
      await fill();
      // Two hits of product 1 (USD) and a 304 make three served responses of that entry.
      const first = await t.http().get('/shop/products/1').expect(200);
      expect(first.headers['x-cache']).toBe('HIT');
      await t.http().get('/shop/products/1').expect(200);
      await t.http().get('/shop/products/1').set('If-None-Match', first.headers.etag).expect(304);

      const { body } = await get('/entries').expect(200);
      expect(body).toMatchObject({ skip: 0, take: 50, total: 6, complete: true });
      expect(body.items).toHaveLength(6);
      const product1 = body.items.find(
        (e: { path: string; vary: Record<string, string> }) =>
          e.path === '/shop/products/1' && e.vary.currency === 'USD',
      );
      expect(product1).toMatchObject({
        routeId: 'AdminPages/product',
        status: 200,
        size: '<h1>Product 1</h1>'.length,
        state: 'fresh',
        hits: 3,
      });
      expect(product1.tags).toEqual(expect.arrayContaining(['Product:1', 'Product']));
      expect(product1.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(product1.ttlSeconds).toBeGreaterThan(290);
      expect(product1.ttlSeconds).toBeLessThanOrEqual(300);
      expect(product1.graceUntil - product1.expiresAt).toBe(60_000);
      const eur = body.items.find(
        (e: { path: string; vary: Record<string, string> }) =>
          e.path === '/shop/products/1' && e.vary.currency === 'EUR',
      );
      expect(eur.hits).toBe(0);
    });

    it('filters by route, tag and path prefix, and pages through', async () => {
      await fill();
      const byRoute = (await get('/entries?route=AdminPages/post').expect(200)).body;
      expect(byRoute.items.map((e: { path: string }) => e.path).sort()).toEqual([
        '/shop/blog/hello',
        '/shop/blog/world',
      ]);
      expect(byRoute).toMatchObject({
        total: 2,
        complete: true,
        filters: { route: 'AdminPages/post' },
      });

      const byTag = (await get('/entries?tag=Product:1').expect(200)).body;
      expect(byTag.total).toBe(2);
      expect(byTag.items.every((e: { path: string }) => e.path === '/shop/products/1')).toBe(true);

      const byPrefix = (await get('/entries?prefix=/shop/products').expect(200)).body;
      expect(byPrefix.total).toBe(4);

      const both = (await get('/entries?prefix=/shop/products&tag=Product:2').expect(200)).body;
      expect(both.items.map((e: { path: string }) => e.path)).toEqual(['/shop/products/2']);

      const pages = [];
      for (let skip = 0; skip < 4; skip += 3) {
        pages.push((await get(`/entries?tag=Product&skip=${skip}&take=3`).expect(200)).body);
      }
      expect(pages.map((p) => p.items.length)).toEqual([3, 1]);
      expect(pages.every((p) => p.total === 4)).toBe(true);
      const keys = new Set(pages.flatMap((p) => p.items.map((e: { key: string }) => e.key)));
      expect(keys.size).toBe(4);

      const unfiltered = (await get('/entries?skip=4&take=10').expect(200)).body;
      expect(unfiltered).toMatchObject({ skip: 4, take: 10, total: 6 });
      expect(unfiltered.items).toHaveLength(2);
    });

    it('reads one entry by key with its headers, and answers 404 for an unknown key', async () => {
      await fill();
      const [summary] = (await get('/entries?tag=Product:2').expect(200)).body.items;
      const { body } = await get(`/entry?key=${encodeURIComponent(summary.key)}`).expect(200);
      expect(body).toMatchObject({ key: summary.key, path: '/shop/products/2', holes: 0 });
      // The content type the route went out with: a returned string is HTML on Express, text on Fastify.
      expect(body.headers['content-type']).toMatch(
        testPlatform === 'fastify' ? /text\/plain/ : /text\/html/,
      );
      const missing = await get(`/entry?key=${encodeURIComponent('http://nowhere/?#x')}`).expect(
        404,
      );
      expect(missing.body.message).toMatch(/no entry/);
    });
  });

  describe('purges', () => {
    const pathsLeft = async () =>
      (await get('/entries?take=100').expect(200)).body.items
        .map((e: { path: string }) => e.path)
        .sort();

    it('purges one entry by key', async () => {
      await fill();
      const [entry] = (await get('/entries?tag=Product:3').expect(200)).body.items;
      expect((await purge({ key: entry.key }).expect(200)).body).toEqual({
        purged: 1,
        by: 'key',
        values: [entry.key],
        soft: false,
      });
      expect(await pathsLeft()).not.toContain('/shop/products/3');
      expect(await cache.count()).toBe(5);
      expect((await purge({ key: entry.key }).expect(200)).body.purged).toBe(0);
    });

    it('purges by route, by tag (one or several), by prefix and everything', async () => {
      await fill();
      expect((await purge({ route: 'AdminPages/post' }).expect(200)).body.purged).toBe(2);
      expect(await pathsLeft()).toEqual([
        '/shop/products/1',
        '/shop/products/1',
        '/shop/products/2',
        '/shop/products/3',
      ]);
      expect((await purge({ tag: 'Product:1' }).expect(200)).body.purged).toBe(2);
      expect((await purge({ tag: ['Product:2', 'Product:9'] }).expect(200)).body.purged).toBe(1);
      expect(await pathsLeft()).toEqual(['/shop/products/3']);

      await fill();
      expect((await purge({ prefix: '/shop/blog' }).expect(200)).body.purged).toBe(2);
      expect(await pathsLeft()).not.toContain('/shop/blog/hello');
      expect((await purge({ all: true }).expect(200)).body.purged).toBe(4);
      expect(await cache.count()).toBe(0);
      // Purged pages render again.
      expect((await t.http().get('/shop/products/1')).headers['x-cache']).toBe('MISS');
    });

    it('purges softly: the entry is kept and served stale while it is refreshed', async () => {
      await fill();
      const { body } = await purge({ tag: 'Product:2', soft: true }).expect(200);
      expect(body).toMatchObject({ purged: 1, soft: true });
      const [entry] = (await get('/entries?tag=Product:2').expect(200)).body.items;
      expect(entry).toMatchObject({ state: 'grace', ttlSeconds: 0 });
      const served = await t.http().get('/shop/products/2').expect(200);
      expect(served.headers['x-cache']).toBe('STALE');
    });
  });

  describe('input validation', () => {
    it.each([
      [
        '/entries?colour=red',
        /unknown query field "colour"; allowed: route, tag, prefix, skip, take/,
      ],
      ['/entries?take=0', /"take" must be a whole number from 1 to 100/],
      ['/entries?take=101', /"take" must be a whole number from 1 to 100/],
      ['/entries?take=ten', /"take" must be a whole number/],
      ['/entries?skip=-1', /"skip" must be a whole number/],
      ['/entries?skip=1.5', /"skip" must be a whole number/],
      ['/entries?prefix=blog', /"prefix" must be a path starting with "\/"/],
      ['/entries?tag=a&tag=b', /"tag" must be a string, got a list/],
      ['/entry', /field "key" is required/],
      ['/entry?key=a&x=1', /unknown query field "x"/],
      ['/stats?verbose=1', /unknown query field "verbose"/],
      ['/health?x=1', /unknown query field "x"/],
      ['?take=500', /"take" must be a whole number from 1 to 100/],
    ])('GET %s answers 400 naming the field', async (path, message) => {
      const { body } = await get(path).expect(400);
      expect(body.message).toMatch(message);
    });

    it.each([
      [{}, /give exactly one of key, route, tag, prefix, all; got none/],
      [{ tag: 'a', route: 'b' }, /give exactly one of .*; got route and tag/],
      [{ tag: 'a', hard: true }, /unknown body field "hard"/],
      [{ tag: 'a', soft: 'yes' }, /"soft" must be true or false/],
      [{ tag: 42 }, /"tag" must be a string, got number/],
      [{ tag: [] }, /"tag" must hold 1 to 100 values/],
      [{ tag: ['a', 7] }, /"tag\[1\]" must be a string/],
      [{ tag: '' }, /"tag" must not be empty/],
      [{ key: ['a'] }, /"key" must be a string, got a list/],
      [{ prefix: 'shop' }, /"prefix" must be a path starting with "\/"/],
      [{ all: 'yes' }, /"all" must be true/],
      [[{ all: true }], /must be a JSON object/],
    ])('POST purge %j answers 400 naming the field', async (body, message) => {
      await fill();
      const response = await purge(body).expect(400);
      expect(response.body.message).toMatch(message);
      expect(await cache.count()).toBe(6);
    });

    it('answers 415 to a purge that is not JSON (403 first when a browser form could have sent it)', async () => {
      const origin = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
      const form = () =>
        t.http().post(`${BASE}/purge`).set(AUTH).type('form').send({ all: 'true' });
      await form().set('Origin', origin).expect(415);
      await form().expect(403);
    });
  });

  describe('stats and health', () => {
    it('returns the stats snapshot and the per-minute timeline', async () => {
      // Counters live as long as the app: compare with what they were.
      const before = (await get('/stats').expect(200)).body;
      const timelineBefore = (await get('/timeline').expect(200)).body.minutes;
      await fill();
      await t.http().get('/shop/products/2').expect(200);
      const { body } = await get('/stats').expect(200);
      expect(body.misses - before.misses).toBe(6);
      expect(body.stored - before.stored).toBe(6);
      expect(body.hits - before.hits).toBe(1);
      expect(body.hitRatio).toBeCloseTo(body.hits / (body.hits + body.misses), 5);
      expect(body.breaker).toEqual({ state: 'closed' });
      const { minutes } = (await get('/timeline').expect(200)).body;
      expect(minutes).toHaveLength(60);
      // The last two minutes (the test may cross a minute's end) hold this test's requests.
      const total = (list: { hits: number; misses: number }[], key: 'hits' | 'misses') =>
        list.reduce((n, m) => n + m[key], 0);
      expect(total(minutes, 'hits') - total(timelineBefore, 'hits')).toBe(1);
      expect(total(minutes, 'misses') - total(timelineBefore, 'misses')).toBe(6);
    });

    it('reports a healthy store with its type, breaker state and a timed read', async () => {
      const { body } = await get('/health').expect(200);
      expect(body).toMatchObject({
        ok: true,
        store: 'FaultyStore',
        breaker: 'closed',
        ping: { ok: true },
      });
      expect(body.ping.ms).toBeGreaterThanOrEqual(0);
    });

    it('answers 503 with the error when the store fails, and lists with 503', async () => {
      store.mode = 'fail';
      const { body } = await get('/health').expect(503);
      expect(body).toMatchObject({ ok: false, ping: { ok: false } });
      expect(body.ping.error).toMatch(/connection refused/);
      const listing = await get('/entries').expect(503);
      expect(listing.body.message).toMatch(/the cache store did not answer/);
    });
  });

  describe('dashboard', () => {
    it('renders the page with a CSP, the entries, stats and store health', async () => {
      await fill();
      const page = await get('').expect(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const csp = page.headers['content-security-policy'];
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/style-src 'nonce-[^']+'/);
      expect(csp).toMatch(/form-action 'self'/);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.text).toContain('/shop/blog/hello');
      expect(page.text).toContain('FaultyStore');
      expect(page.text).toMatch(/<svg[^>]*data-testid="chart"/);
      expect(page.text).not.toMatch(/<script/i);
      // The trailing slash serves the same page, with the same links.
      const slash = await get('/').expect(200);
      expect(slash.text).toContain(`action="${BASE}/dashboard/purge"`);
    });

    it('shows user-influenced paths, tags and vary values as text', async () => {
      const evil = '<script>alert(1)</script>';
      await t
        .http()
        .get(`/shop/search?q=${encodeURIComponent(evil)}`)
        .set('x-currency', '"><img src=x onerror=alert(2)>')
        .expect(200);
      // A path as another instance or an old version might have stored it.
      const now = Date.now();
      await store.set({
        key: `http://x/evil#Evil|1|currency=USD`,
        status: 200,
        headers: {},
        body: Buffer.from('x'),
        tags: ['route:Evil'],
        path: `/p/${evil}`,
        routeId: `Evil${evil}`,
        createdAt: now,
        expiresAt: now + 60_000,
      });
      const page = await get('').expect(200);
      expect(page.text).not.toContain(evil);
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).not.toMatch(/<script/i);
      expect(page.text).toContain('/p/&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.text).toContain('Search:&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.text).toContain('currency=&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    });

    it('purges from the form of the same origin and redirects back with the filters', async () => {
      await fill();
      const res = await t
        .http()
        .post(`${BASE}/dashboard/purge`)
        .set(AUTH)
        .set('Origin', `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`)
        .type('form')
        .send({ by: 'tag', value: 'Product:1', back: '?prefix=%2Fshop' })
        .expect(303);
      expect(res.headers.location).toBe(`${BASE}?prefix=%2Fshop&purged=2&by=tag`);
      expect(await cache.count()).toBe(4);
      const page = await get(`?prefix=%2Fshop&purged=2&by=tag`).expect(200);
      expect(page.text).toContain('Purged 2 entries (by tag).');
    });

    it('refuses a form purge from another origin, or without an Origin (CSRF)', async () => {
      await fill();
      const form = () =>
        t.http().post(`${BASE}/dashboard/purge`).set(AUTH).type('form').send({ by: 'all' });
      expect((await form().set('Origin', 'https://evil.example').expect(403)).body.message).toMatch(
        /cross-origin purge refused/,
      );
      await form().set('Sec-Fetch-Site', 'cross-site').expect(403);
      expect((await form().expect(403)).body.message).toMatch(/must carry an Origin/);
      // The JSON endpoint too refuses a browser's cross-site request.
      await purge({ all: true }).set('Origin', 'https://evil.example').expect(403);
      expect(await cache.count()).toBe(6);
    });

    it('refuses a form with an unknown field or a redirect elsewhere', async () => {
      const origin = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
      const form = (body: object) =>
        t
          .http()
          .post(`${BASE}/dashboard/purge`)
          .set(AUTH)
          .set('Origin', origin)
          .type('form')
          .send(body);
      expect((await form({ by: 'all', extra: '1' }).expect(400)).body.message).toMatch(
        /unknown form field "extra"/,
      );
      expect((await form({ by: 'all', back: '//evil.example' }).expect(400)).body.message).toMatch(
        /"back" must be a query string/,
      );
      expect((await form({ by: 'everything' }).expect(400)).body.message).toMatch(
        /"by" must be one of/,
      );
    });
  });
});
