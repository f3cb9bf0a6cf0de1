import 'reflect-metadata';
import session from 'express-session';
import http from 'node:http';
import {
  type CacheEntry,
  MemoryOutputCacheStore,
  OUTPUT_CACHE_STORE,
  OutputCacheModule,
  OutputCacheProvider,
} from '../lib/index.js';
import { componentProviders, DonutController } from './fixtures/components.js';
import { edge, EdgeController, EdgeVaryController } from './fixtures/edge.controller.js';
import { FaultyStore } from './helpers/faulty-store.js';
import { createTestApp, type TestApp, testPlatform } from './helpers/test-app.js';
import { TestClock } from './helpers/test-clock.js';
import { drainMicrotasks, settlesWithin, until } from './helpers/wait.js';

/** A GET with a raw request target (supertest would encode it) and optional headers. */
function rawGet(
  t: TestApp,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const { port } = t.app.getHttpServer().address() as { port: number };
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('latin1'),
          }),
        );
      })
      .on('error', reject);
  });
}

/** The one entry the store holds for `path` (memory store). */
async function entryOf(store: MemoryOutputCacheStore, path: string): Promise<CacheEntry> {
  const summaries = (await store.list({ skip: 0, take: 1000 })).filter((s) => s.path === path);
  expect(summaries).toHaveLength(1);
  return (await store.get(summaries[0].key))!;
}

const count = (map: Record<string, number>, reason: string) => map[reason] ?? 0;

/** Moved forward past a TTL instead of sleeping through it; every test gets the real one back. */
const clock = new TestClock();
afterEach(() => clock.restore());

describe('edge rules (e2e): where two concepts meet', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  let store: MemoryOutputCacheStore;
  /** Requests for /edge/slow that reached the app (an Express middleware, before the cache). */
  let slowArrivals = 0;

  beforeAll(async () => {
    t = await createTestApp(
      {
        imports: [OutputCacheModule.forRoot()],
        controllers: [EdgeController, DonutController],
        providers: componentProviders,
      },
      (app) => {
        // Middleware headers: set on every response, hits included.
        app.use((_req: unknown, res: http.ServerResponse, next: () => void) => {
          res.setHeader('Access-Control-Allow-Origin', 'https://shop.example');
          res.setHeader('Strict-Transport-Security', 'max-age=63072000');
          next();
        });
        app.use((req: http.IncomingMessage, _res: unknown, next: () => void) => {
          if (req.url === '/edge/slow') slowArrivals++;
          next();
        });
      },
    );
    cache = t.app.get(OutputCacheProvider);
    store = t.app.get(OUTPUT_CACHE_STORE);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    edge.renders = 0;
    edge.gate = Promise.resolve();
    await cache.invalidateAll();
  });

  it('rule 2: a leader that aborts hands the render over; collapsing survives, nothing is hit-for-miss', async () => {
    let open!: () => void;
    edge.gate = new Promise<void>((resolve) => (open = resolve));
    const aborted = count(cache.stats().notStored, 'aborted');
    const { port } = t.app.getHttpServer().address() as { port: number };
    slowArrivals = 0;
    const leader = http.get({ host: '127.0.0.1', port, path: '/edge/slow' });
    leader.on('error', () => undefined);
    await until(() => edge.renders === 1, 'the leader to start rendering');
    const waiters = Array.from({ length: 40 }, () =>
      t
        .http()
        .get('/edge/slow')
        .then((res) => res),
    );
    // Every waiter is queued behind the leader before it aborts: the handover is what is tested.
    // From the first middleware to the wait nothing waits for I/O (memory store), so once the
    // microtasks ran all forty wait.
    await until(() => slowArrivals === 41, 'the forty waiters to reach the app');
    await drainMicrotasks();
    expect(edge.renders).toBe(1);
    leader.destroy();
    await until(() => edge.renders === 2, 'one waiter to take over the render');
    open();
    const answers = await Promise.all(waiters);
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.text).toBe('<p>slow 2</p>');
    }
    expect(edge.renders).toBe(2); // 41 renders before: every waiter rendered for itself
    expect(count(cache.stats().notStored, 'aborted')).toBe(aborted + 1);
    // Not hit-for-miss: the page was stored by the render that took over.
    const next = await t.http().get('/edge/slow');
    expect(next.headers['x-cache']).toBe('HIT');
    expect(next.text).toBe('<p>slow 2</p>');
  });

  it('rule 3: a client sending Cache-Control: no-store cannot keep a page stale for the whole grace', async () => {
    clock.install();
    await t.http().get('/edge/grace').expect(200);
    clock.advance(2_000); // past the 1 s TTL, inside the 60 s grace
    const stale = await t.http().get('/edge/grace').set('Cache-Control', 'no-store');
    expect(stale.headers['x-cache']).toBe('STALE');
    // The refresh it triggered does not inherit the client's no-store: it stores.
    await until(async () => {
      const res = await t.http().get('/edge/grace').set('Cache-Control', 'no-store');
      return res.headers['x-cache'] === 'HIT' && res.text === '<p>grace 2</p>';
    }, 'the refreshed page to be served');
    expect(edge.renders).toBe(2);
  });

  it('rule 5: a readable but unservable entry is a miss (deleted, logged once), never a 500', async () => {
    const variants: [string, string, (e: CacheEntry) => CacheEntry][] = [
      ['/edge/page', 'status 700', (e) => ({ ...e, status: 700 })],
      [
        '/edge/page',
        'CR/LF in a header',
        (e) => ({ ...e, headers: { ...e.headers, 'x-a': 'a\r\nb' } }),
      ],
      [
        '/donut',
        'a hole naming a component that no longer exists',
        (e) => ({
          ...e,
          holes: e.holes!.map((h) => ({ ...h, name: 'RemovedInThisDeploy' })),
        }),
      ],
      [
        '/donut',
        'hole arguments that are not JSON',
        (e) => ({
          ...e,
          holes: e.holes!.map((h) => ({ ...h, args: '{not json' })),
        }),
      ],
      [
        '/donut',
        'a hole offset outside the body',
        (e) => ({
          ...e,
          holes: e.holes!.map((h) => ({ ...h, at: e.body.length + 10 })),
        }),
      ],
    ];
    for (const [path, what, spoil] of variants) {
      await cache.invalidateAll();
      await t.http().get(path).set('Cookie', 'cart=1').expect(200);
      const good = await entryOf(store, path);
      await store.set(spoil(good));
      const unservable = cache.stats().unservable;
      const res = await t.http().get(path).set('Cookie', 'cart=1');
      expect({ what, status: res.status, cache: res.headers['x-cache'] }).toEqual({
        what,
        status: 200,
        cache: 'MISS',
      });
      expect(cache.stats().unservable).toBe(unservable + 1);
      // The spoilt entry is gone; the page rendered anew is stored and served.
      await until(async () => (await entryOf(store, path)).createdAt !== good.createdAt, what);
      expect((await t.http().get(path).set('Cookie', 'cart=1')).headers['x-cache']).toBe('HIT');
    }
  });

  it('rule 6: Accept-Encoding "br;q=0, *" never gets brotli (a coding refused by name stays refused)', async () => {
    await rawGet(t, '/edge/text');
    await rawGet(t, '/edge/text'); // the first hit makes the variants
    await until(
      async () => (await entryOf(store, '/edge/text')).variants?.br !== undefined,
      'variants',
    );
    const res = await rawGet(t, '/edge/text', { 'accept-encoding': 'br;q=0, *' });
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.headers['content-encoding']).toBe('gzip');
    const none = await rawGet(t, '/edge/text', { 'accept-encoding': 'gzip;q=0, br;q=0, *' });
    expect(none.headers['content-encoding']).toBeUndefined();
  });

  it('rule 7: a raw URL and its percent-encoded form never share an entry (no cached reflected XSS)', async () => {
    const attack = await rawGet(t, '/edge/reflect?r="><svg/onload=alert(1)>');
    expect(attack.status).toBe(200);
    expect(attack.text).toContain('<svg/onload=alert(1)>');
    // The victim's browser sends the encoded form: it must get its own render.
    const victim = await t.http().get('/edge/reflect?r=%22%3E%3Csvg%2Fonload%3Dalert(1)%3E');
    expect(victim.headers['x-cache']).toBe('MISS');
    expect(victim.text).not.toContain('<svg');
    expect((await rawGet(t, '/edge/reflect?r="><svg/onload=alert(1)>')).headers['x-cache']).toBe(
      'HIT',
    );
  });

  it('rule 8: a 304 keeps the CORS and security headers that a hit keeps', async () => {
    const miss = await t.http().get('/edge/page');
    const etag = miss.headers['etag'];
    const hit = await t.http().get('/edge/page');
    expect(hit.headers['access-control-allow-origin']).toBe('https://shop.example');
    const res = await t.http().get('/edge/page').set('If-None-Match', etag);
    expect(res.status).toBe(304);
    expect(res.headers['etag']).toBe(etag);
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000');
    expect(res.headers['content-type']).toBeUndefined();
    expect(res.headers['content-length']).toBeUndefined();
  });

  it('a revalidating client whose miss the framework answers 304 still gets the page stored', async () => {
    const etag = (await t.http().get('/edge/page')).headers['etag'];
    await cache.invalidateAll();
    edge.renders = 0; // the page renders the same bytes again: the client's validator matches
    const revalidated = await t.http().get('/edge/page').set('If-None-Match', etag);
    // Express answers the matching validator itself; Fastify's core sends the page (no etag plugin).
    expect(revalidated.status).toBe(testPlatform === 'express' ? 304 : 200);
    expect(revalidated.headers['x-cache']).toBe('MISS');
    const next = await t.http().get('/edge/page');
    expect(next.headers['x-cache']).toBe('HIT');
    expect(next.text).toBe('<p>page 1</p>');
  });

  it('rule 9: a page too small to compress is settled once, not attempted again on every hit', async () => {
    await t.http().get('/edge/page');
    for (let i = 0; i < 3; i++) await t.http().get('/edge/page');
    expect((await entryOf(store, '/edge/page')).variants).toEqual({});
  });

  it('rule 10: a soft eviction of a page without grace takes effect (it was a no-op: still a HIT)', async () => {
    await t.http().get('/edge/tagged');
    expect((await t.http().get('/edge/tagged')).headers['x-cache']).toBe('HIT');
    expect(await cache.invalidateByTag('edge-soft', { soft: true })).toBe(1);
    const after = await t.http().get('/edge/tagged');
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.text).toBe('<p>tagged 2</p>');
  });
});

describe('edge rules (e2e): vary-by', () => {
  it('rule 11: an async vary-by resolver that rejects bypasses the cache instead of answering 500', async () => {
    const t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          varyBy: { broken: () => Promise.reject(new Error('the profile service is down')) },
        }),
      ],
      controllers: [EdgeVaryController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      const before = count(cache.stats().bypassed, 'vary-error');
      const res = await t.http().get('/edge-vary');
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('BYPASS');
      expect(count(cache.stats().bypassed, 'vary-error')).toBe(before + 1);
    } finally {
      await t.close();
    }
  });
});

describe('edge rules (e2e): sessions', () => {
  it('rule 1: a Set-Cookie added when headers are written (express-session) keeps the page out of the cache', async () => {
    const t = await createTestApp(
      { imports: [OutputCacheModule.forRoot()], controllers: [EdgeController] },
      (app) => {
        app.use(session({ secret: 'test', resave: false, saveUninitialized: true }));
      },
    );
    try {
      const cache = t.app.get(OutputCacheProvider);
      edge.renders = 0;
      const before = count(cache.stats().notStored, 'set-cookie');
      const first = await t.http().get('/edge/page');
      expect(first.headers['set-cookie']?.[0]).toMatch(/^connect\.sid=/);
      const second = await t.http().get('/edge/page');
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.text).toBe('<p>page 2</p>');
      expect(count(cache.stats().notStored, 'set-cookie')).toBe(before + 2);
      expect(await cache.count()).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('edge rules (e2e): store faults and shutdown', () => {
  it('rule 9: an eviction that lands while a variant is being written wins (checked after the write)', async () => {
    const store = new FaultyStore();
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store })],
      controllers: [EdgeController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      edge.renders = 0;
      await t.http().get('/edge/text');
      let evicted = false;
      store.beforeVariantWrite = async () => {
        await cache.invalidateByTag('edge-text');
        evicted = true;
      };
      expect((await t.http().get('/edge/text')).headers['x-cache']).toBe('HIT');
      await until(() => evicted, 'the eviction during the variant write');
      await until(async () => (await store.count()) === 0, 'the overtaken variant to be dropped');
      expect((await t.http().get('/edge/text')).headers['x-cache']).toBe('MISS');
    } finally {
      await t.close();
    }
  });

  it('rule 12: the provider calls are bounded by operationTimeout (a hung store rejects, clearly)', async () => {
    const store = new FaultyStore();
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store, operationTimeout: 0.2 })],
      controllers: [EdgeController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      store.mode = 'hang';
      await expect(cache.invalidateByTag('x')).rejects.toThrow(/evictTags timed out after 200 ms/);
      await expect(cache.invalidateByRoute('Edge/page')).rejects.toThrow(
        /timed out|circuit is open/,
      );
      await expect(cache.invalidateByPrefix('/edge')).rejects.toThrow(/timed out|circuit is open/);
      await expect(cache.invalidateAll()).rejects.toThrow(/timed out|circuit is open/);
      await expect(cache.count()).rejects.toThrow(/timed out|circuit is open/);
      await expect(cache.list()).rejects.toThrow(/timed out|circuit is open/);
      await expect(cache.remove('k')).rejects.toThrow(/timed out|circuit is open/);
      // Requests keep being served meanwhile.
      store.mode = 'ok';
      expect((await t.http().get('/edge/page')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('an eviction whose store call fails is retried, and one that fails again rejects (never dropped silently)', async () => {
    const store = new FaultyStore();
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store, circuitBreaker: { failures: 10 } })],
      controllers: [EdgeController],
    });
    try {
      const cache = t.app.get(OutputCacheProvider);
      edge.renders = 0;
      await t.http().get('/edge/tagged');
      store.failNext = 1;
      expect(await cache.invalidateByTag('edge-soft')).toBe(1); // the retry went through
      expect((await t.http().get('/edge/tagged')).headers['x-cache']).toBe('MISS');
      store.failNext = 2;
      await expect(cache.invalidateByTag('edge-soft')).rejects.toThrow(/connection reset/);
    } finally {
      await t.close();
    }
  });

  it('rule 13: shutdown completes within shutdownTimeout while a background refresh hangs', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ shutdownTimeout: 0.3 })],
      controllers: [EdgeController],
    });
    edge.renders = 0;
    edge.gate = Promise.resolve();
    clock.install();
    await t.http().get('/edge/grace');
    clock.advance(2_000); // past the 1 s TTL, inside the 60 s grace
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const controller = EdgeController.prototype as unknown as { grace: () => unknown };
    const grace = controller.grace;
    controller.grace = async function (this: unknown) {
      await hung; // the refresh render never ends on its own
      return grace.call(this);
    };
    try {
      expect((await t.http().get('/edge/grace')).headers['x-cache']).toBe('STALE');
      // The refresh still hangs (`hung` is never released before this): without the bound,
      // close() never returns (the refresh holds a connection). 20 s only tells a hang from a
      // slow machine; shutdownTimeout is 0.3 s.
      await settlesWithin(t.close(), 20_000, 'close() while a refresh hangs');
    } finally {
      controller.grace = grace;
      release();
    }
  });
});
