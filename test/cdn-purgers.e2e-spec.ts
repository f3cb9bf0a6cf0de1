import 'reflect-metadata';
import { Controller, Get, Header, Param, ParseIntPipe, type LoggerService } from '@nestjs/common';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Cacheable,
  type CdnPurgeBatch,
  CdnPurgeForwarder,
  type CdnOptions,
  type CdnPurger,
  CdnTagEncoder,
  CloudflarePurger,
  DisplayControl,
  FastlyPurger,
  OutputCacheEvents,
  OutputCacheModule,
  OutputCacheProvider,
  VarnishBanPurger,
} from '../lib/index.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { eventually, sleep, until } from './helpers/wait.js';

/** One request the fake API received. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * An honest fake of a purge API: a real node:http server that records every request and
 * answers with the next planned reply (status and body), or 200 `{"success":true}`. A reply may
 * be held until the test releases it.
 */
class FakePurgeApi {
  readonly received: Received[] = [];
  private readonly plan: { status: number; body?: string; hold?: Promise<void> }[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', async () => {
        this.received.push({
          method: req.method!,
          url: req.url!,
          headers: req.headers,
          body,
          at: performance.now(),
        });
        const reply = this.plan.shift() ?? { status: 200 };
        if (reply.hold) await reply.hold;
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body ?? JSON.stringify({ success: reply.status < 300 }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next replies, in order. */
  answer(...replies: { status: number; body?: string; hold?: Promise<void> }[]): void {
    this.plan.push(...replies);
  }

  reset(): void {
    this.received.length = 0;
    this.plan.length = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Records what the app logs at error and warn level. */
class RecordingLogger implements LoggerService {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  log() {}
  debug() {}
  verbose() {}
  error(message: unknown) {
    this.errors.push(String(message));
  }
  warn(message: unknown) {
    this.warnings.push(String(message));
  }
}

/**
 * A CDN that takes requests and does not answer until the test opens its gate: the app's
 * plug-in point, implemented as an app would. `started` are the purges sent to it, in order.
 */
class GatedPurger implements CdnPurger {
  readonly maxTagsPerRequest = 100;
  readonly started: CdnPurgeBatch[] = [];
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  async purge(batch: CdnPurgeBatch): Promise<void> {
    this.started.push(batch);
    await this.gate;
  }

  release(): void {
    this.open();
  }
}

/** Pages whose tags the test chooses: `n` tags of `size` bytes each. */
@Controller('tags')
class TaggedController {
  constructor(private readonly display: DisplayControl) {}

  @Cacheable()
  @Get(':n/:size')
  page(@Param('n', ParseIntPipe) n: number, @Param('size', ParseIntPipe) size: number) {
    const tags = Array.from({ length: n }, (_, i) => `T${i}:`.padEnd(size, 'x'));
    this.display.announceTags(...tags);
    return `<p>${n} tags</p>`;
  }

  @Cacheable({ ttl: 1, grace: 600 })
  @Get('short')
  short() {
    this.display.announceTags('Short:1');
    return '<p>short-lived</p>';
  }

  @Cacheable()
  @Get('private')
  @Header('Cache-Control', 'private')
  personal() {
    this.display.announceTags('Account:1');
    return '<p>yours</p>';
  }
}

async function appWith(cdn: CdnOptions, logger?: RecordingLogger): Promise<TestApp> {
  const t = await createTestApp({
    imports: [OutputCacheModule.forRoot({ cdn, sessionCookie: 'sid' })],
    controllers: [TaggedController],
  });
  if (logger) t.app.useLogger(logger);
  return t;
}

describe('CDN purgers against a fake HTTP API (e2e)', () => {
  let api: FakePurgeApi;
  beforeAll(async () => {
    api = await new FakePurgeApi().start();
  });
  afterAll(() => api.close());
  beforeEach(() => api.reset());

  describe('FastlyPurger', () => {
    it('purges keys in the Surrogate-Key header, soft with Fastly-Soft-Purge, everything with purge_all', async () => {
      const fastly = new FastlyPurger({ serviceId: 'svc1', token: 'tok', baseUrl: api.url });
      await fastly.purge({
        tags: ['Product:1', 'h:0123456789abcdef'],
        prefixes: [],
        all: false,
        soft: false,
      });
      await fastly.purge({ tags: ['Product:2'], prefixes: [], all: false, soft: true });
      await fastly.purge({ tags: [], prefixes: [], all: true, soft: false });
      expect(api.received.map((r) => `${r.method} ${r.url}`)).toEqual([
        'POST /service/svc1/purge',
        'POST /service/svc1/purge',
        'POST /service/svc1/purge_all',
      ]);
      const [hard, soft, all] = api.received;
      expect(hard!.headers['fastly-key']).toBe('tok');
      expect(hard!.headers['surrogate-key']).toBe('Product:1 h:0123456789abcdef');
      expect(hard!.headers['fastly-soft-purge']).toBeUndefined();
      expect(soft!.headers['surrogate-key']).toBe('Product:2');
      expect(soft!.headers['fastly-soft-purge']).toBe('1');
      expect(all!.headers['fastly-soft-purge']).toBeUndefined();
      expect(fastly.maxTagsPerRequest).toBe(256);
    });

    it('rejects on an error status, with the status in the message', async () => {
      api.answer({ status: 403, body: '{"msg":"Provided credentials are missing or invalid"}' });
      const fastly = new FastlyPurger({ serviceId: 'svc1', token: 'bad', baseUrl: api.url });
      await expect(
        fastly.purge({ tags: ['a'], prefixes: [], all: false, soft: false }),
      ).rejects.toThrow(/answered 403: .*credentials/);
    });
  });

  describe('CloudflarePurger', () => {
    it('posts { tags } or { purge_everything } to the zone, with a bearer token', async () => {
      const cf = new CloudflarePurger({ zoneId: 'zone9', token: 'cf-tok', baseUrl: api.url });
      await cf.purge({
        tags: ['product:1', 'route:shop/product'],
        prefixes: [],
        all: false,
        soft: true,
      });
      await cf.purge({ tags: [], prefixes: [], all: true, soft: false });
      expect(api.received.map((r) => `${r.method} ${r.url}`)).toEqual([
        'POST /client/v4/zones/zone9/purge_cache',
        'POST /client/v4/zones/zone9/purge_cache',
      ]);
      expect(api.received[0]!.headers.authorization).toBe('Bearer cf-tok');
      expect(JSON.parse(api.received[0]!.body)).toEqual({
        tags: ['product:1', 'route:shop/product'],
      });
      expect(JSON.parse(api.received[1]!.body)).toEqual({ purge_everything: true });
      expect(cf.maxTagsPerRequest).toBe(30);
    });

    it('treats a 200 with success: false as a failure', async () => {
      api.answer({ status: 200, body: '{"success":false,"errors":[{"code":1134}]}' });
      const cf = new CloudflarePurger({ zoneId: 'z', token: 't', baseUrl: api.url });
      await expect(
        cf.purge({ tags: ['a'], prefixes: [], all: false, soft: false }),
      ).rejects.toThrow(/success: false/);
    });
  });

  describe('VarnishBanPurger', () => {
    it('sends BAN with a whole-word regex of the tags, or of URL prefixes', async () => {
      // node:http's parser refuses the BAN method (Varnish takes it: see cdn-varnish.e2e-spec),
      // so this fake hears the same request as PURGE.
      const varnish = new VarnishBanPurger({ url: `${api.url}/`, method: 'PURGE' });
      await varnish.purge({ tags: ['Product:1', 'a.b'], prefixes: [], all: false, soft: false });
      await varnish.purge({ tags: [], prefixes: ['/blog/'], all: false, soft: false });
      await varnish.purge({ tags: [], prefixes: [], all: true, soft: false });
      expect(api.received.map((r) => r.method)).toEqual(['PURGE', 'PURGE', 'PURGE']);
      const regex = new RegExp(String(api.received[0]!.headers['x-ban-tags']));
      expect(regex.test('route:Shop/product Product:1')).toBe(true);
      expect(regex.test('Product:10')).toBe(false); // whole tags only
      expect(regex.test('aXb')).toBe(false); // metacharacters escaped
      expect(api.received[1]!.headers['x-ban-url']).toBe('^(\\/blog\\/)');
      expect(api.received[2]!.headers['x-ban-all']).toBe('1');
    });
  });

  describe('CdnPurgeForwarder (a real app evicting)', () => {
    let t: TestApp | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it('forwards tag and route evictions in batches of at most maxTagsPerRequest, plain and hashed', async () => {
      t = await appWith({
        purger: new FastlyPurger({ serviceId: 's', token: 't', baseUrl: api.url }),
      });
      const tags = Array.from({ length: 600 }, (_, i) => `Product:${i}`);
      await t.app.get(OutputCacheProvider).invalidateByTag(...tags);
      await t.app.get(OutputCacheProvider).invalidateByRoute('Tagged/page');
      await t.app.get(CdnPurgeForwarder).flush();
      const sent = api.received.map((r) => String(r.headers['surrogate-key']).split(' '));
      // 600 tags in both forms (a page may carry either): 1200 keys, sent at once in full
      // batches (no linger past a full batch); then the route's tag, in both forms.
      expect(sent.every((keys) => keys.length <= 256)).toBe(true);
      expect(sent.map((keys) => keys.length)).toEqual([256, 256, 256, 256, 176, 2]);
      const all = sent.flat();
      expect(new Set(all).size).toBe(all.length);
      expect(all).toHaveLength(1202);
      expect(all).toEqual(
        expect.arrayContaining(['Product:0', 'Product:599', 'route:Tagged/page']),
      );
      expect(all).toContain(CdnTagEncoder.hash('Product:599'));
    });

    it('forwards soft evictions soft, everything as purge_all, and nothing made by other instances', async () => {
      t = await appWith({
        purger: new FastlyPurger({ serviceId: 's', token: 't', baseUrl: api.url }),
        hashTags: false,
      });
      const events = t.app.get(OutputCacheEvents);
      // Another instance's eviction, received over the bus: that instance forwarded it.
      events.eviction({ cause: 'tag', values: ['Remote:1'], remote: true });
      events.eviction({ cause: 'tag', values: ['Soft:1'], soft: true });
      // A key eviction names one variant, not a URL: nothing the CDN could purge by.
      await t.app.get(OutputCacheProvider).remove('some-key');
      await t.app.get(CdnPurgeForwarder).flush();
      expect(
        api.received.map((r) => [
          r.url,
          r.headers['surrogate-key'],
          r.headers['fastly-soft-purge'],
        ]),
      ).toEqual([['/service/s/purge', 'Soft:1', '1']]);
      api.reset();
      await t.app.get(OutputCacheProvider).invalidateByTag('Product:1');
      await t.app.get(OutputCacheProvider).invalidateAll();
      await t.app.get(CdnPurgeForwarder).flush();
      // Everything covers the tag evicted in the same linger.
      expect(api.received.map((r) => r.url)).toEqual(['/service/s/purge_all']);
    });

    it('retries a failed batch with doubling delays, and never makes the eviction wait', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      api.answer({ status: 503, hold: held }, { status: 503 }, { status: 200 });
      t = await appWith({
        purger: new CloudflarePurger({ zoneId: 'z', token: 't', baseUrl: api.url }),
        linger: 0,
        retries: 3,
        retryDelay: 0.1,
      });
      // Resolves while the CDN still holds the first attempt.
      await t.app.get(OutputCacheProvider).invalidateByTag('Product:7');
      await until(() => api.received.length === 1, 'the first attempt to reach the API');
      expect(api.received).toHaveLength(1);
      release();
      await t.app.get(CdnPurgeForwarder).flush();
      expect(api.received).toHaveLength(3);
      const bodies = api.received.map((r) => r.body);
      expect(new Set(bodies).size).toBe(1); // the same batch each time
      const [, second, third] = api.received.map((r) => r.at);
      // Lower bounds only: the retries wait at least 100 ms, then at least 200 ms.
      expect(second! - api.received[0]!.at).toBeGreaterThanOrEqual(95);
      expect(third! - second!).toBeGreaterThanOrEqual(195);
    });

    it('past maxPending tags waiting for a CDN that does not answer, sends one purge of everything instead', async () => {
      const purger = new GatedPurger();
      const logger = new RecordingLogger();
      t = await appWith({ purger, maxPending: 5, linger: 0, hashTags: false }, logger);
      const cache = t.app.get(OutputCacheProvider);
      await cache.invalidateByTag('Product:0');
      await until(() => purger.started.length === 1, 'the first purge to reach the CDN');
      // The CDN holds it; evictions go on, one at a time, each past the linger.
      for (let i = 1; i <= 8; i++) {
        await cache.invalidateByTag(`Product:${i}`);
        await sleep(10);
      }
      expect(purger.started).toHaveLength(1); // one purge at a time: the rest wait
      purger.release();
      await t.app.get(CdnPurgeForwarder).flush();
      expect(purger.started).toEqual([
        { tags: ['Product:0'], prefixes: [], all: false, soft: false },
        { tags: [], prefixes: [], all: true, soft: false },
      ]);
      expect(logger.warnings).toContainEqual(
        expect.stringMatching(/more than 5 tags waiting; purging everything instead/),
      );
    });

    it('logs one error line per batch that still fails after its retries', async () => {
      api.answer({ status: 500 }, { status: 500 }, { status: 500 });
      const logger = new RecordingLogger();
      t = await appWith(
        {
          purger: new FastlyPurger({ serviceId: 's', token: 't', baseUrl: api.url }),
          retries: 2,
          retryDelay: 0.01,
          hashTags: false,
        },
        logger,
      );
      await t.app.get(OutputCacheProvider).invalidateByTag('Product:9');
      await t.app.get(CdnPurgeForwarder).flush();
      expect(api.received).toHaveLength(3);
      const lines = logger.errors.filter((m) => m.includes('CDN purge failed'));
      expect(lines).toEqual([
        expect.stringMatching(/after 3 attempt\(s\): hard purge of tags Product:9: .*answered 500/),
      ]);
    });
  });

  describe('the tags header', () => {
    let t: TestApp | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it('sends the tags on the miss and on the hit, space-separated in Surrogate-Key', async () => {
      t = await appWith({ maxAge: 600 });
      const miss = await t.http().get('/tags/2/8');
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.headers['surrogate-key']).toBe('route:Tagged/page T0:xxxxx T1:xxxxx');
      expect(miss.headers['surrogate-control']).toBe('max-age=600');
      const hit = await t.http().get('/tags/2/8');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['surrogate-key']).toBe(miss.headers['surrogate-key']);
      expect(hit.headers['surrogate-control']).toBe('max-age=600');
    });

    it('uses commas for Cloudflare’s Cache-Tag, and CDN-Cache-Control', async () => {
      t = await appWith({
        tagsHeader: 'Cache-Tag',
        controlHeader: 'CDN-Cache-Control',
        maxAge: 60,
      });
      const res = await t.http().get('/tags/2/8');
      expect(res.headers['cache-tag']).toBe('route:Tagged/page,T0:xxxxx,T1:xxxxx');
      expect(res.headers['cdn-cache-control']).toBe('max-age=60');
      expect(res.headers['surrogate-key']).toBeUndefined();
    });

    it('hashes a tag longer than 1 KB, and purges of it send the same hash', async () => {
      t = await appWith({
        purger: new FastlyPurger({ serviceId: 's', token: 't', baseUrl: api.url }),
      });
      const res = await t.http().get('/tags/2/1500');
      const keys = String(res.headers['surrogate-key']).split(' ');
      const long = 'T1:'.padEnd(1500, 'x');
      expect(keys).toEqual([
        'route:Tagged/page',
        CdnTagEncoder.hash('T0:'.padEnd(1500, 'x')),
        CdnTagEncoder.hash(long),
      ]);
      expect(keys[1]).toMatch(/^h:[0-9a-f]{16}$/);
      await t.app.get(OutputCacheProvider).invalidateByTag(long);
      await t.app.get(CdnPurgeForwarder).flush();
      expect(String(api.received[0]!.headers['surrogate-key']).split(' ')).toContain(keys[2]);
    });

    it('hashes every tag when the header would pass 16 KB, and drops it (no-store) when even that does not fit', async () => {
      t = await appWith({});
      // 700 tags of 30 bytes: 21 KB as they are, 13 KB hashed.
      const hashed = await t.http().get('/tags/700/30');
      const value = String(hashed.headers['surrogate-key']);
      expect(Buffer.byteLength(value)).toBeLessThanOrEqual(16 * 1024);
      expect(value.split(' ').every((k) => /^h:[0-9a-f]{16}$/.test(k))).toBe(true);
      expect(value.split(' ')).toHaveLength(701);
      // 1000 tags: 19 KB even hashed. No tags, and the CDN is told not to keep the page...
      const dropped = await t.http().get('/tags/1000/30');
      expect(dropped.headers['surrogate-key']).toBeUndefined();
      expect(dropped.headers['surrogate-control']).toBe('no-store');
      // ...while the app still caches it.
      const again = await t.http().get('/tags/1000/30');
      expect(again.headers['x-cache']).toBe('HIT');
      expect(again.headers['surrogate-key']).toBeUndefined();
      expect(again.headers['surrogate-control']).toBe('no-store');
    });

    it('with hashTags: false, drops the header rather than hash', async () => {
      t = await appWith({ hashTags: false });
      expect((await t.http().get('/tags/1/2000')).headers['surrogate-key']).toBeUndefined();
      expect((await t.http().get('/tags/1/10')).headers['surrogate-key']).toBe(
        'route:Tagged/page T0:xxxxxxx',
      );
    });

    it('tells the CDN not to keep a stale page (served in grace while the app refreshes it)', async () => {
      t = await appWith({ maxAge: 600 });
      const fresh = await t.http().get('/tags/short');
      expect(fresh.headers['surrogate-control']).toBe('max-age=600');
      const stale = await eventually(
        () => t!.http().get('/tags/short'),
        (r) => r.headers['x-cache'] === 'STALE',
        'the entry to pass its TTL',
      );
      expect(stale.headers['surrogate-control']).toBe('no-store');
      expect(stale.headers['surrogate-key']).toBe('route:Tagged/short Short:1');
    });

    it('never tags a page the cache does not store, nor a bypassed one', async () => {
      t = await appWith({ maxAge: 600 });
      const personal = await t.http().get('/tags/private');
      expect(personal.headers['cache-control']).toBe('private');
      expect(personal.headers['surrogate-key']).toBeUndefined();
      expect(personal.headers['surrogate-control']).toBe('no-store');
      const signedIn = await t.http().get('/tags/2/8').set('Cookie', 'sid=abc');
      expect(signedIn.headers['x-cache']).toBe('BYPASS');
      expect(signedIn.headers['surrogate-key']).toBeUndefined();
    });
  });

  describe('start-up validation of the cdn option', () => {
    it.each([
      [{ tagsHeader: 'Surrogate Key' }, /option "cdn.tagsHeader" must be a header name/],
      [{ purger: {} }, /option "cdn.purger" must be a CdnPurger instance/],
      [{ maxHeaderBytes: '16k' }, /option "cdn.maxHeaderBytes" must be a whole number/],
      [{ hashTags: 'yes' }, /option "cdn.hashTags" must be 'auto', true or false/],
      [{ tagHeader: 'Cache-Tag' }, /option "cdn" has an unknown key "tagHeader"/],
      [{ maxAge: 60, controlHeader: false }, /option "cdn.maxAge" needs a controlHeader/],
    ])('rejects %j', async (cdn, message) => {
      await expect(appWith(cdn as CdnOptions)).rejects.toThrow(message);
    });
  });
});
