import 'reflect-metadata';
import compression from 'compression';
import zlib from 'node:zlib';
import http from 'node:http';
import {
  OUTPUT_CACHE_STORE,
  OutputCacheModule,
  OutputCacheProvider,
  type OutputCacheStore,
} from '../lib/index.js';
import { availability, AvailabilityController } from './fixtures/availability.controller.js';
import { componentProviders, DonutController } from './fixtures/components.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp, type TestApp, testPlatform } from './helpers/test-app.js';
import { TestClock } from './helpers/test-clock.js';
import { until } from './helpers/wait.js';

/** Whether the entry of `path` holds its precompressed variants (made after the first hit). */
async function variantsStored(t: TestApp, path: string): Promise<boolean> {
  const store = t.app.get<OutputCacheStore>(OUTPUT_CACHE_STORE);
  const [summary] = (await store.list({ skip: 0, take: 100 })).filter((e) => e.path === path);
  const entry = summary && (await store.get(summary.key));
  return entry?.variants?.br !== undefined && entry.variants.gzip !== undefined;
}

/** Opens a gate that renders wait at; returns the function that opens it. */
function hold(): () => void {
  let open!: () => void;
  availability.gate = new Promise<void>((resolve) => (open = resolve));
  return open;
}
/** GETs a path and reads the body as raw bytes (supertest would decode Content-Encoding). */
function rawGet(
  t: TestApp,
  path: string,
  acceptEncoding: string,
): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { port } = t.app.getHttpServer().address() as { port: number };
  return new Promise((resolve, reject) => {
    http
      .get(
        { host: '127.0.0.1', port, path, headers: { 'accept-encoding': acceptEncoding } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        },
      )
      .on('error', reject);
  });
}

describe('availability and speed (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  const clock = new TestClock();

  beforeAll(async () => {
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ hitForMiss: 5 })],
      controllers: [AvailabilityController, DonutController],
      providers: componentProviders,
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    Object.assign(availability, {
      renders: 0,
      failing: false,
      inFlight: 0,
      maxInFlight: 0,
      renderMs: 0,
      gate: Promise.resolve(),
    });
    await cache.invalidateAll();
    clock.install();
  });
  afterEach(() => clock.restore());

  it('grace: serves the stale page while exactly one background render refreshes it', async () => {
    const first = await t.http().get('/avail/page');
    expect(first.text).toContain('render 1');
    clock.advance(2_000); // past the 1 s TTL, inside the 30 s grace
    // The refresh is held open until all twenty were answered: none can find it done.
    const open = hold();
    const since = statsSince(cache);
    const stale = await Promise.all(Array.from({ length: 20 }, () => t.http().get('/avail/page')));
    for (const res of stale) {
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('STALE');
      expect(res.text).toContain('render 1');
    }
    open();
    await until(() => since().stored === 1, 'the refresh to be stored');
    expect(availability.renders).toBe(2); // one refresh for twenty stale requests
    expect(since().stale).toBe(20);
    const fresh = await t.http().get('/avail/page');
    expect(fresh.headers['x-cache']).toBe('HIT');
    expect(fresh.text).toContain('render 2');
  });

  it('stale-if-error: a failing render is answered with the kept page, and never stored', async () => {
    const first = await t.http().get('/avail/sie');
    clock.advance(2_000); // past the 1 s TTL (no grace), kept 60 s for errors
    availability.failing = true;
    const since = statsSince(cache);
    const res = await t.http().get('/avail/sie');
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('STALE');
    expect(res.text).toBe(first.text);
    expect(since().staleIfError).toBe(1);
    expect(since().stored).toBe(0);
    availability.failing = false;
    const recovered = await t.http().get('/avail/sie');
    expect(recovered.headers['x-cache']).toBe('MISS');
    expect(recovered.text).toContain('render 3');
  });

  it('without a kept entry an error is still an error', async () => {
    availability.failing = true;
    expect((await t.http().get('/avail/sie')).status).toBe(500);
    expect(await cache.count()).toBe(0);
  });

  it('soft eviction marks entries stale (grace applies); hard eviction deletes them', async () => {
    await t.http().get('/avail/page');
    expect(await cache.invalidateByTag('avail', { soft: true })).toBe(1);
    const since = statsSince(cache);
    const stale = await t.http().get('/avail/page');
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.text).toContain('render 1');
    await until(() => since().stored === 1, 'the background refresh to be stored');
    expect((await t.http().get('/avail/page')).text).toContain('render 2');
    expect(await cache.invalidateByTag('avail')).toBe(1);
    expect((await t.http().get('/avail/page')).headers['x-cache']).toBe('MISS');
  });

  it('hit-for-miss: once a key answered uncacheable, its requests render side by side', async () => {
    await t.http().get('/avail/uncacheable'); // learns: Set-Cookie
    availability.maxInFlight = 0;
    const since = statsSince(cache);
    // Every render is held until ten run at once: requests queued behind one render (collapsed)
    // would never get there, and the wait would time out.
    const open = hold();
    const all = Promise.all(Array.from({ length: 10 }, () => t.http().get('/avail/uncacheable')));
    await until(() => availability.inFlight === 10, 'ten renders side by side');
    open();
    for (const res of await all) expect(res.status).toBe(200);
    expect(availability.maxInFlight).toBe(10); // nobody queued behind another render
    expect(since().collapsed).toBe(0);
    expect(since().notStored('set-cookie')).toBe(10);
  });

  it('ETag: a strong validator on hits, 304 with the validator and no representation headers', async () => {
    const since = statsSince(cache);
    const miss = await t.http().get('/avail/small');
    const etag = miss.headers['etag'];
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const hit = await t.http().get('/avail/small');
    expect(hit.headers['etag']).toBe(etag);
    const notModified = await t.http().get('/avail/small').set('If-None-Match', `"other", ${etag}`);
    expect(notModified.status).toBe(304);
    const names = Object.keys(notModified.headers).filter(
      (n) => !['connection', 'keep-alive'].includes(n),
    );
    // What middleware set (here Express's X-Powered-By) stays, as on a hit: see the 304 test in
    // edge-rules; the body's own headers go.
    const fromMiddleware = testPlatform === 'express' ? ['x-powered-by'] : []; // Fastify sets none
    expect(names.sort()).toEqual(['age', 'date', 'etag', 'x-cache', ...fromMiddleware]);
    expect((await t.http().get('/avail/small').set('If-None-Match', '"nope"')).status).toBe(200);
    expect(since().notModified).toBe(1);
  });

  it('pages with holes get no strong ETag (their bytes differ per request)', async () => {
    await t.http().get('/donut').set('Cookie', 'cart=1');
    const hit = await t.http().get('/donut').set('Cookie', 'cart=1');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['etag']).toBeUndefined();
  });

  it('precompressed variants, made on the first hit: br, gzip or identity by Accept-Encoding, never one not asked for', async () => {
    const identity = await rawGet(t, '/avail/text', 'identity');
    // The first hit has the variants made (off the event loop) and the entry stored again.
    const firstHit = await rawGet(t, '/avail/text', 'gzip');
    expect(firstHit.headers['x-cache']).toBe('HIT');
    // Wait for that event (the variants stored), not a guessed 100 ms.
    await until(() => variantsStored(t, '/avail/text'), 'the variants to be stored');
    const br = await rawGet(t, '/avail/text', 'gzip, deflate, br');
    expect(br.headers['x-cache']).toBe('HIT');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toMatch(/Accept-Encoding/);
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(zlib.brotliDecompressSync(br.body).equals(identity.body)).toBe(true);
    const gz = await rawGet(t, '/avail/text', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).equals(identity.body)).toBe(true);
    const none = await rawGet(t, '/avail/text', 'br;q=0, gzip;q=0');
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.body.equals(identity.body)).toBe(true);
    expect(br.headers['etag']).not.toBe(none.headers['etag']);
  });
});

describe('precompressed variants behind the compression middleware (e2e)', () => {
  it('never double-encodes: a hit carries its own encoding, the middleware leaves it alone', async () => {
    const t = await createTestApp(
      {
        imports: [OutputCacheModule.forRoot({})],
        controllers: [AvailabilityController],
      },
      (app) => app.use(compression({ threshold: 0 })),
    );
    try {
      const miss = await rawGet(t, '/avail/text', 'gzip');
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.headers['content-encoding']).toBe('gzip'); // the middleware compressed the miss
      const identity = zlib.gunzipSync(miss.body);
      await rawGet(t, '/avail/text', 'identity'); // the first hit has the variants made
      await until(() => variantsStored(t, '/avail/text'), 'the variants to be stored');
      for (const coding of ['gzip', 'br']) {
        const hit = await rawGet(t, '/avail/text', coding);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.headers['content-encoding']).toBe(coding);
        const decoded =
          coding === 'gzip' ? zlib.gunzipSync(hit.body) : zlib.brotliDecompressSync(hit.body);
        expect(decoded.equals(identity)).toBe(true); // decoded once: the page itself
      }
    } finally {
      await t.close();
    }
  });
});
