import 'reflect-metadata';
import {
  OutputCacheModule,
  OutputCacheProvider,
  type OutputCacheModuleOptions,
} from '../lib/index.js';
import {
  BlogController,
  handlerRuns,
  holdSlowRenders,
  PagesController,
  runs,
  TestRoutesProvider,
} from './fixtures/pages.controller.js';
import { statsSince } from './helpers/stats-delta.js';
import { TestClock } from './helpers/test-clock.js';
import { createTestApp, type TestApp, testPlatform, viewRenders } from './helpers/test-app.js';
import { drainMicrotasks, until } from './helpers/wait.js';

const options: OutputCacheModuleOptions = {
  varyBy: {
    currency: (req) => req.headers['x-currency'] ?? 'USD',
    language: { header: 'accept-language' },
    roles: (req) => String(req.headers['x-roles'] ?? 'guest').split(','),
  },
  routes: ['Pages/byOption'],
  exclude: ['/admin/**'],
  sessionCookie: ['sid'],
  maxEntryBytes: 100_000,
};

describe('OutputCacheModule (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  const clock = new TestClock();
  /** Requests for /slow that reached the app (an Express middleware, before the cache). */
  let slowArrivals = 0;

  beforeAll(async () => {
    t = await createTestApp(
      {
        imports: [OutputCacheModule.forRoot(options)],
        controllers: [PagesController, BlogController],
        providers: [TestRoutesProvider],
      },
      (app) =>
        app.use((req: { url: string }, _res: unknown, next: () => void) => {
          if (req.url === '/slow') slowArrivals++;
          next();
        }),
    );
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  afterEach(() => clock.restore());
  beforeEach(async () => {
    handlerRuns.clear();
    await cache.invalidateAll();
  });

  describe('hits and misses', () => {
    it('answers MISS, then HIT with the same body, Age and no second run', async () => {
      const first = await t.http().get('/page').expect(200);
      expect(first.headers['x-cache']).toBe('MISS');
      const second = await t.http().get('/page').expect(200);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.headers['age']).toMatch(/^\d+$/);
      expect(second.text).toBe(first.text);
      // A returned string: Express sends it as HTML, Fastify as plain text; hits repeat it.
      expect(second.headers['content-type']).toBe(first.headers['content-type']);
      expect(second.headers['content-type']).toBe(
        testPlatform === 'fastify' ? 'text/plain; charset=utf-8' : 'text/html; charset=utf-8',
      );
      expect(runs('page')).toBe(1);
    });

    it('reports Age in whole seconds since the render', async () => {
      clock.install();
      await t.http().get('/page');
      clock.advance(5_000); // inside the default TTL of 60 s
      const hit = await t.http().get('/page');
      expect(hit.headers['x-cache']).toBe('HIT');
      // At least the 5 s the clock moved; far less than another 5 s, however slow the machine.
      expect(Number(hit.headers['age'])).toBeGreaterThanOrEqual(5);
      expect(Number(hit.headers['age'])).toBeLessThan(10);
    });

    it('does not render an @Render view again on a hit', async () => {
      const before = viewRenders.count;
      const miss = await t.http().get('/view').expect(200);
      expect(miss.text).toContain('<h1>A product</h1>');
      for (let i = 0; i < 5; i++) {
        const hit = await t.http().get('/view').expect(200);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.text).toBe(miss.text);
      }
      expect(viewRenders.count - before).toBe(1);
      expect(runs('view')).toBe(1);
    });

    it('caches JSON with its content type, without serialising again', async () => {
      const miss = await t.http().get('/json').expect(200);
      const hit = await t.http().get('/json').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(hit.body).toEqual({ n: 1, list: [1, 2, 3] });
      expect(hit.text).toBe(miss.text);
    });

    it('caches a Buffer byte for byte with the route content type', async () => {
      await t.http().get('/buffer').expect(200);
      const hit = await t
        .http()
        .get('/buffer')
        .buffer(true)
        .parse((res, done) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['content-type']).toBe('image/png');
      expect(Buffer.compare(hit.body, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]))).toBe(0);
    });

    it('answers HEAD from the GET entry, and a HEAD miss creates no entry', async () => {
      const headMiss = await t.http().head('/page').expect(200);
      expect(headMiss.headers['x-cache']).toBe('MISS');
      expect(await cache.count()).toBe(0);
      const get = await t.http().get('/page').expect(200);
      const head = await t.http().head('/page').expect(200);
      expect(head.headers['x-cache']).toBe('HIT');
      expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
      expect(head.text).toBeUndefined();
    });

    it('keys by path and the full query, order-insensitive, duplicates and case kept', async () => {
      await t.http().get('/page?a=1&b=2').expect(200);
      expect((await t.http().get('/page?b=2&a=1')).headers['x-cache']).toBe('HIT');
      expect((await t.http().get('/page?A=1&b=2')).headers['x-cache']).toBe('MISS');
      await t.http().get('/page?a=1&a=2');
      expect((await t.http().get('/page?a=2&a=1')).headers['x-cache']).toBe('MISS');
      expect((await t.http().get('/page?a=1&a=2')).headers['x-cache']).toBe('HIT');
      expect((await t.http().get('/page/?b=2&a=1')).headers['x-cache']).toBe('HIT');
    });

    it('ignores query keys outside the route allow-list', async () => {
      await t.http().get('/listing?page=2&utm_source=x').expect(200);
      const hit = await t.http().get('/listing?utm_source=y&page=2');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect((await t.http().get('/listing?page=3')).headers['x-cache']).toBe('MISS');
    });

    it('lets no separator in a value make two requests share a key', async () => {
      // Each pair would collide under naive "k=v&k=v" or "a|b" joining.
      const pairs: [string, string][] = [
        ['/page?x=1%26y%3D2', '/page?x=1&y=2'],
        ['/page?a%3Db=c', '/page?a=b%3Dc'],
        ['/page?x=%7C', '/page?x=|'],
      ];
      for (const [a, b] of pairs) {
        await cache.invalidateAll();
        await t.http().get(a).expect(200);
        const other = await t.http().get(b).expect(200);
        // `%7C` and `|` decode alike, but the route sees different URLs: different keys
        // (a page reflecting its URL must never answer one with the other's render).
        expect(other.headers['x-cache']).toBe('MISS');
      }
      await cache.invalidateAll();
      const h1 = await t.http().get('/page').set('X-Currency', 'EUR|language=de').expect(200);
      const h2 = await t.http().get('/page').set('X-Currency', 'EUR').set('Accept-Language', 'de');
      expect(h1.headers['x-cache']).toBe('MISS');
      expect(h2.headers['x-cache']).toBe('MISS');
      expect(await cache.count()).toBe(2);
    });

    it('does not cache a route without @Cacheable', async () => {
      const res = await t.http().get('/plain').expect(200);
      expect(res.headers['x-cache']).toBeUndefined();
      await t.http().get('/plain');
      expect(runs('plain')).toBe(2);
    });
  });

  describe('vary-by', () => {
    it('splits a page by currency: two currencies two entries, the same one', async () => {
      const usd = await t.http().get('/page').set('X-Currency', 'USD');
      const eur = await t.http().get('/page').set('X-Currency', 'EUR');
      expect(usd.headers['x-cache']).toBe('MISS');
      expect(eur.headers['x-cache']).toBe('MISS');
      expect(await cache.count()).toBe(2);
      const eur2 = await t.http().get('/page').set('X-Currency', 'EUR');
      expect(eur2.headers['x-cache']).toBe('HIT');
      expect(eur2.text).toBe(eur.text);
      expect(await cache.count()).toBe(2);
    });

    it('splits by a header resolver (language) and accepts Vary on that header', async () => {
      await t.http().get('/vary/Accept-Language').set('Accept-Language', 'de').expect(200);
      const de = await t.http().get('/vary/Accept-Language').set('Accept-Language', 'de');
      const fr = await t.http().get('/vary/Accept-Language').set('Accept-Language', 'fr');
      expect(de.headers['x-cache']).toBe('HIT');
      expect(fr.headers['x-cache']).toBe('MISS');
    });
  });

  describe('never stored', () => {
    /** Why the cache did not keep a response: a bypass (never looked up) or a render not stored. */
    type Reason = { notStored: string } | { bypassed: string };
    /**
     * Two requests, both rendered, neither stored, each for `reason` (counted in the stats, so
     * that a page refused for another reason, or stored and then lost, fails the test).
     */
    const notStored = async (
      path: string,
      runName: string,
      reason: Reason,
      init = (r: any) => r,
    ) => {
      const since = statsSince(cache);
      await init(t.http().get(path));
      const second = await init(t.http().get(path));
      expect(second.headers['x-cache']).not.toBe('HIT');
      expect(runs(runName)).toBe(2);
      expectReason(since, reason, 2);
    };
    const expectReason = (since: ReturnType<typeof statsSince>, reason: Reason, times: number) => {
      const delta = since();
      if ('notStored' in reason) expect(delta.notStored(reason.notStored)).toBe(times);
      else expect(delta.bypassed(reason.bypassed)).toBe(times);
      expect(delta.stored).toBe(0);
    };

    it('other methods than GET/HEAD bypass', async () => {
      const since = statsSince(cache);
      const res = await t.http().post('/page').expect(201);
      expect(res.headers['x-cache']).toBe('BYPASS');
      await t.http().post('/page');
      expect(runs('post-page')).toBe(2);
      expectReason(since, { bypassed: 'method' }, 2);
    });

    it('status other than 200', () => notStored('/missing', 'missing', { notStored: 'status' }));
    it('an error', async () => {
      const since = statsSince(cache);
      await t.http().get('/throws').expect(500);
      await t.http().get('/throws').expect(500);
      expect(runs('throws')).toBe(2);
      expectReason(since, { notStored: 'server-error' }, 2);
    });
    it('Set-Cookie', () => notStored('/cookie', 'cookie', { notStored: 'set-cookie' }));
    it('Cache-Control no-store', () =>
      notStored('/cc/no-store', 'cc-no-store', { notStored: 'cache-control' }));
    it('Cache-Control private', () =>
      notStored('/cc/private', 'cc-private', { notStored: 'cache-control' }));
    it('Cache-Control no-cache', () =>
      notStored('/cc/no-cache', 'cc-no-cache', { notStored: 'cache-control' }));
    it('stores Cache-Control public', async () => {
      await t.http().get('/cc/public');
      const hit = await t.http().get('/cc/public');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['cache-control']).toBe('public, max-age=60');
    });
    it('Vary: *', () => notStored('/vary/*', 'vary-*', { notStored: 'vary' }));
    it('Vary naming a header outside the key', () =>
      notStored('/vary/X-Device', 'vary-X-Device', { notStored: 'vary' }));
    it('markRequestAsUncacheable()', () =>
      notStored('/marked', 'marked', { notStored: 'marked-uncacheable' }));
    it('StreamableFile', async () => {
      const since = statsSince(cache);
      const res = await t.http().get('/stream').expect(200);
      expect(res.text ?? res.body.toString()).toContain('streamed body');
      await t.http().get('/stream');
      expect(runs('stream')).toBe(2);
      expectReason(since, { notStored: 'stream' }, 2);
    });
    it('a streamed @Res() response', async () => {
      const since = statsSince(cache);
      const res = await t.http().get('/raw').expect(200);
      expect(res.text).toBe('<p>raw</p>');
      await t.http().get('/raw');
      expect(runs('raw')).toBe(2);
      expectReason(since, { notStored: 'stream' }, 2);
    });
    it('a body over maxEntryBytes', () =>
      notStored('/big?size=200000', 'big', { notStored: 'too-large' }));
    it('an excluded path', async () => {
      const since = statsSince(cache);
      const res = await t.http().get('/admin/dashboard');
      expect(res.headers['x-cache']).toBe('BYPASS');
      await t.http().get('/admin/dashboard');
      expect(runs('admin')).toBe(2);
      expectReason(since, { bypassed: 'excluded' }, 2);
    });
    it('a GET with a body', () =>
      notStored('/page', 'page', { bypassed: 'request-body' }, (r) =>
        r.set('Content-Type', 'text/plain').send('hello'),
      ));
    it('method-override headers', () =>
      notStored('/page', 'page', { bypassed: 'method-override' }, (r) =>
        r.set('X-HTTP-Method-Override', 'DELETE'),
      ));
    it('_method in the query', () =>
      notStored('/page?_method=DELETE', 'page', { bypassed: 'method-override' }));
    it('Authorization', async () => {
      const since = statsSince(cache);
      const res = await t.http().get('/page').set('Authorization', 'Bearer abc');
      expect(res.headers['x-cache']).toBe('BYPASS');
      await t.http().get('/page').set('Authorization', 'Bearer abc');
      expect(runs('page')).toBe(2);
      expect(await cache.count()).toBe(0);
      expectReason(since, { bypassed: 'authenticated' }, 2);
    });
    it('a session cookie, and serves no cached page to it', async () => {
      await t.http().get('/page').expect(200);
      const since = statsSince(cache);
      const signedIn = await t.http().get('/page').set('Cookie', 'theme=dark; sid=123');
      expect(signedIn.headers['x-cache']).toBe('BYPASS');
      expect(since().bypassed('authenticated')).toBe(1); // the session cookie signs in
      expect(runs('page')).toBe(2);
      const otherCookie = await t.http().get('/page').set('Cookie', 'theme=dark');
      expect(otherCookie.headers['x-cache']).toBe('HIT');
    });
    it('a request with Cache-Control: no-store is served but never stored', async () => {
      const res = await t.http().get('/page').set('Cache-Control', 'no-store');
      expect(res.headers['x-cache']).toBe('MISS');
      expect(await cache.count()).toBe(0);
      await t.http().get('/page');
      const hit = await t.http().get('/page').set('Cache-Control', 'no-store');
      expect(hit.headers['x-cache']).toBe('HIT');
    });
    it("a client's no-cache does not bypass the cache", async () => {
      await t.http().get('/page');
      const res = await t
        .http()
        .get('/page')
        .set('Cache-Control', 'no-cache')
        .set('Pragma', 'no-cache');
      expect(res.headers['x-cache']).toBe('HIT');
    });
    it('counts each reason', async () => {
      const since = statsSince(cache);
      await t.http().get('/cookie');
      await t.http().get('/page').set('Authorization', 'x');
      const delta = since();
      expect(delta.notStored('set-cookie')).toBe(1);
      expect(delta.bypassed('authenticated')).toBe(1);
      expect(delta.stored).toBe(0);
    });
  });

  describe('authenticated requests', () => {
    it('allowAuthenticated caches per set of roles, never across roles', async () => {
      const admin = await t
        .http()
        .get('/members')
        .set('Authorization', 'x')
        .set('X-Roles', 'admin');
      expect(admin.headers['x-cache']).toBe('MISS');
      const admin2 = await t
        .http()
        .get('/members')
        .set('Authorization', 'y')
        .set('X-Roles', 'admin');
      expect(admin2.headers['x-cache']).toBe('HIT');
      const editor = await t
        .http()
        .get('/members')
        .set('Authorization', 'z')
        .set('X-Roles', 'editor');
      expect(editor.headers['x-cache']).toBe('MISS');
      expect(editor.text).toContain('editor');
      const both = await t
        .http()
        .get('/members')
        .set('Authorization', 'z')
        .set('X-Roles', 'editor,admin');
      const both2 = await t
        .http()
        .get('/members')
        .set('Authorization', 'z')
        .set('X-Roles', 'admin,editor');
      expect(both.headers['x-cache']).toBe('MISS');
      expect(both2.headers['x-cache']).toBe('HIT');
    });
  });

  describe('route ids and opt-in', () => {
    it('uses Module/Controller/handler ids and honours @NoOutputCache', async () => {
      await t.http().get('/blog').expect(200);
      await t.http().get('/blog/hello').expect(200);
      const entries = await cache.list({ take: 10 });
      expect(entries.map((e) => e.routeId).sort()).toEqual(['Blog/Blog/list', 'Blog/Blog/post']);
      const search = await t.http().get('/blog/search/now');
      expect(search.headers['x-cache']).toBeUndefined();
      expect(
        entries.find((e) => e.routeId === 'Blog/Blog/list')!.expiresAt -
          entries.find((e) => e.routeId === 'Blog/Blog/list')!.createdAt,
      ).toBe(120_000);
    });

    it('makes routes cacheable from the routes option and a CacheableRouteProvider', async () => {
      await t.http().get('/by-option');
      expect((await t.http().get('/by-option')).headers['x-cache']).toBe('HIT');
      await t.http().get('/by-provider');
      expect((await t.http().get('/by-provider')).headers['x-cache']).toBe('HIT');
      expect(runs('by-option')).toBe(1);
      expect(runs('by-provider')).toBe(1);
    });
  });

  describe('invalidation', () => {
    it('by route, returning how many went', async () => {
      await t.http().get('/blog');
      await t.http().get('/blog/a');
      await t.http().get('/blog/b');
      await t.http().get('/page');
      expect(await cache.invalidateByRoute('Blog/Blog/post')).toBe(2);
      expect((await t.http().get('/blog/a')).headers['x-cache']).toBe('MISS');
      expect((await t.http().get('/blog')).headers['x-cache']).toBe('HIT');
    });

    it('by announced entity tag and by type tag', async () => {
      await t.http().get('/products/1');
      await t.http().get('/products/2');
      expect(await cache.invalidateByTag('Product:1')).toBe(1);
      expect((await t.http().get('/products/1')).headers['x-cache']).toBe('MISS');
      expect((await t.http().get('/products/2')).headers['x-cache']).toBe('HIT');
      expect(await cache.invalidateByTag('Product')).toBe(2);
      const entries = await cache.list();
      expect(entries).toHaveLength(0);
    });

    it('by route tags computed from the request', async () => {
      await t.http().get('/tagged?lang=de');
      await t.http().get('/tagged?lang=fr');
      expect(await cache.invalidateByTag('lang:de')).toBe(1);
      expect(await cache.count()).toBe(1);
    });

    it('by path prefix', async () => {
      await t.http().get('/blog');
      await t.http().get('/blog/a');
      await t.http().get('/page');
      expect(await cache.invalidateByPrefix('/blog')).toBe(2);
      expect(await cache.count()).toBe(1);
      await expect(cache.invalidateByPrefix('blog')).rejects.toThrow(/starts with "\/"/);
    });

    it('all, and one key', async () => {
      await t.http().get('/page');
      await t.http().get('/json');
      const [entry] = await cache.list({ take: 1 });
      expect(await cache.remove(entry.key)).toBe(true);
      expect(await cache.remove(entry.key)).toBe(false);
      expect(await cache.invalidateAll()).toBe(1);
      expect(await cache.count()).toBe(0);
    });
  });

  describe('render collapse', () => {
    it('renders a cold page once for 200 concurrent requests', async () => {
      const since = statsSince(cache);
      const release = holdSlowRenders();
      slowArrivals = 0;
      const requests = Array.from({ length: 200 }, () =>
        t
          .http()
          .get('/slow')
          .then((r) => r),
      );
      // Every request reaches the cache before the render finishes: all 200 arrived, and from
      // the app's first middleware to waiting for the render (memory store: a synchronous
      // read) no step waits for I/O, so once the microtasks ran they all wait.
      await until(() => slowArrivals === 200, '200 requests to reach the app', 30_000);
      await drainMicrotasks();
      expect(runs('slow')).toBe(1);
      release();
      const responses = await Promise.all(requests);
      expect(runs('slow')).toBe(1);
      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.text).toBe('<p>slow 1</p>');
      }
      expect(responses.filter((r) => r.headers['x-cache'] === 'MISS')).toHaveLength(1);
      // Each of the 199 others waited for that render (not a hit after it was stored).
      expect(since().collapsed).toBe(199);
    }, 120_000); // 200 requests: past jest's 30 s on a loaded 2-core machine

    it('lets waiters render for themselves when the render is not storable', async () => {
      const since = statsSince(cache);
      const requests = Array.from({ length: 20 }, () => t.http().get('/cookie'));
      const responses = await Promise.all(requests);
      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.text).toMatch(/^<p>cookie \d+<\/p>$/);
      }
      expect(runs('cookie')).toBeGreaterThan(1);
      // Every render was refused for its cookie; none was handed to a waiter.
      expect(since().notStored('set-cookie')).toBe(runs('cookie'));
      expect(since().collapsed).toBe(0);
    });

    it('lets waiters of a failing render get their own answer, never a cached error', async () => {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => t.http().get('/throws')),
      );
      for (const res of responses) expect(res.status).toBe(500);
      expect(await cache.count()).toBe(0);
    });
  });
});

describe('OutputCacheModule bounds and options (e2e)', () => {
  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ maxEntries: 3 })],
      controllers: [PagesController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      for (const q of ['a', 'b', 'c']) await t.http().get(`/page?x=${q}`);
      await t.http().get('/page?x=a'); // a is now the most recent
      await t.http().get('/page?x=d'); // evicts b
      expect(await cache.count()).toBe(3);
      expect((await t.http().get('/page?x=a')).headers['x-cache']).toBe('HIT');
      expect((await t.http().get('/page?x=b')).headers['x-cache']).toBe('MISS');
    } finally {
      await t.close();
    }
  });

  it('keeps at most maxBytes', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ maxBytes: 100_000 })],
      controllers: [PagesController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      const since = statsSince(cache);
      for (let i = 0; i < 10; i++) await t.http().get(`/big?size=20000&i=${i}`);
      // Every render was stored (and then pushed out by later ones): the bound did the work.
      await until(() => since().stored === 10, 'the ten stores');
      const entries = await cache.list({ take: 100 });
      // Bounds that an empty store also meets would prove nothing: the newest pages are kept.
      expect(entries.length).toBeGreaterThanOrEqual(3);
      expect(entries.length).toBeLessThanOrEqual(4);
      expect(entries.reduce((sum, e) => sum + e.size, 0)).toBeLessThanOrEqual(100_000);
      expect((await t.http().get('/big?size=20000&i=9')).headers['x-cache']).toBe('HIT');
    } finally {
      await t.close();
    }
  });

  it('is off with enabled: false, and builds from forRootAsync', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRootAsync({ useFactory: async () => ({ enabled: false }) })],
      controllers: [PagesController],
    });
    try {
      handlerRuns.clear();
      const res = await t.http().get('/page');
      expect(res.headers['x-cache']).toBeUndefined();
      await t.http().get('/page');
      expect(runs('page')).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('omits X-Cache and Age with headers: false', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ headers: false })],
      controllers: [PagesController],
    });
    try {
      handlerRuns.clear();
      await t.http().get('/page');
      const hit = await t.http().get('/page');
      expect(hit.headers['x-cache']).toBeUndefined();
      expect(hit.headers['age']).toBeUndefined();
      expect(runs('page')).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('rejects a bad option with a clear message', async () => {
    await expect(
      createTestApp({
        imports: [OutputCacheModule.forRoot({ defaultTtl: -1 })],
        controllers: [PagesController],
      }),
    ).rejects.toThrow(/defaultTtl.*positive number/);
  });
});
