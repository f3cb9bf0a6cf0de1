import 'reflect-metadata';
import compression from 'compression';
import zlib from 'node:zlib';
import http from 'node:http';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { availability, AvailabilityController } from './fixtures/availability.controller.js';
import { componentProviders, DonutController } from './fixtures/components.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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
    });
    await cache.invalidateAll();
  });

  it('grace: serves the stale page while exactly one background render refreshes it', async () => {
    const first = await t.http().get('/avail/page');
    expect(first.text).toContain('render 1');
    await sleep(1100);
    availability.renderMs = 300;
    const stale = await Promise.all(Array.from({ length: 20 }, () => t.http().get('/avail/page')));
    for (const res of stale) {
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('STALE');
      expect(res.text).toContain('render 1');
    }
    await sleep(600);
    expect(availability.renders).toBe(2); // one refresh for twenty stale requests
    const fresh = await t.http().get('/avail/page');
    expect(fresh.headers['x-cache']).toBe('HIT');
    expect(fresh.text).toContain('render 2');
  });

  it('stale-if-error: a failing render is answered with the kept page, and never stored', async () => {
    const first = await t.http().get('/avail/sie');
    await sleep(1100);
    availability.failing = true;
    const res = await t.http().get('/avail/sie');
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('STALE');
    expect(res.text).toBe(first.text);
    expect(cache.stats().staleIfError).toBeGreaterThanOrEqual(1);
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
    const stale = await t.http().get('/avail/page');
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.text).toContain('render 1');
    await sleep(200);
    expect((await t.http().get('/avail/page')).text).toContain('render 2');
    expect(await cache.invalidateByTag('avail')).toBe(1);
    expect((await t.http().get('/avail/page')).headers['x-cache']).toBe('MISS');
  });

  it('hit-for-miss: once a key answered uncacheable, its requests render side by side', async () => {
    await t.http().get('/avail/uncacheable'); // learns: Set-Cookie
    availability.maxInFlight = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: 10 }, () => t.http().get('/avail/uncacheable')));
    expect(availability.maxInFlight).toBe(10); // nobody queued behind another render
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('ETag: a strong validator on hits, 304 with the validator and no representation headers', async () => {
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
    expect(names.sort()).toEqual(['age', 'date', 'etag', 'x-cache', 'x-powered-by']);
    expect((await t.http().get('/avail/small').set('If-None-Match', '"nope"')).status).toBe(200);
    expect(cache.stats().notModified).toBeGreaterThanOrEqual(1);
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
    await sleep(100);
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
      await sleep(100);
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
