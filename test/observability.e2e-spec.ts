import 'reflect-metadata';
import { ConsoleLogger, Controller, Get, HttpException, Module, Res } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'express';
import session from 'express-session';
import request from 'supertest';
import {
  type CacheDecision,
  type CacheEviction,
  Cacheable,
  DisplayControl,
  OutputCacheEvents,
  OutputCacheModule,
  type OutputCacheModuleOptions,
  OutputCacheProvider,
  OutputCacheStats,
} from '../lib/index.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { until } from './helpers/wait.js';

/** Switches the observability fixture's routes read. */
const obs = {
  renders: 0,
  /** Renders of /obs/gated wait for this. */
  gate: Promise.resolve() as Promise<void>,
};

@Controller('obs')
class ObsController {
  constructor(private readonly display: DisplayControl) {}

  @Cacheable({ ttl: 60 })
  @Get('page')
  page() {
    this.display.announceTags('Obs:page');
    return `<p>page ${++obs.renders}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('other')
  other() {
    this.display.announceTags('Obs:other');
    return `<p>other ${++obs.renders}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('cookie')
  cookie(@Res({ passthrough: true }) res: Response) {
    res.cookie('pref', 'dark');
    return '<p>cookie</p>';
  }

  @Cacheable({ ttl: 60 })
  @Get('no-store')
  noStore(@Res({ passthrough: true }) res: Response) {
    res.header('Cache-Control', 'no-store'); // Express and Fastify alike
    return '<p>no-store</p>';
  }

  @Cacheable({ ttl: 60 })
  @Get('error')
  error(): string {
    throw new HttpException('broken', 500);
  }

  @Cacheable({ ttl: 60 })
  @Get('gated')
  async gated() {
    this.display.announceTags('Obs:gated');
    const n = ++obs.renders;
    await obs.gate;
    return `<p>gated ${n}</p>`;
  }

  /** Lives one second, no grace: expires in the memory store. */
  @Cacheable({ ttl: 1 })
  @Get('short')
  short() {
    return `<p>short ${++obs.renders}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('n/:n')
  numbered() {
    return `<p>numbered ${++obs.renders}</p>`;
  }
}

/** Every decision and eviction the hub reported, in order. */
function recordEvents(app: NestExpressApplication) {
  const decisions: CacheDecision[] = [];
  const evictions: CacheEviction[] = [];
  app.get(OutputCacheEvents).listen({
    decision: (d) => decisions.push(d),
    eviction: (e) => evictions.push(e),
  });
  return { decisions, evictions };
}

const OPTIONS: OutputCacheModuleOptions = { reasonHeader: true, sessionCookie: 'sid' };

describe('observability (e2e): stats, events, X-Cache-Reason', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  let stats: OutputCacheStats;
  let events: ReturnType<typeof recordEvents>;

  beforeAll(async () => {
    t = await createTestApp(
      { imports: [OutputCacheModule.forRoot(OPTIONS)], controllers: [ObsController] },
      (app) => {
        // Only here: a session that sets its cookie when the head is written.
        app.use('/obs/other', session({ secret: 'x', resave: false, saveUninitialized: true }));
      },
    );
    cache = t.app.get(OutputCacheProvider);
    stats = t.app.get(OutputCacheStats);
    events = recordEvents(t.app);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await cache.invalidateAll();
    stats.reset();
    events.decisions.length = 0;
    events.evictions.length = 0;
  });

  it('counts hits, misses and stores per route id, with the hit ratio', async () => {
    const first = await t.http().get('/obs/page');
    expect(first.headers['x-cache']).toBe('MISS');
    await until(() => stats.snapshot().stored === 1, 'the page to be stored');
    expect((await t.http().get('/obs/page')).headers['x-cache']).toBe('HIT');
    expect((await t.http().get('/obs/page')).headers['x-cache']).toBe('HIT');
    await t.http().get('/obs/n/1');
    await until(() => stats.snapshot().misses === 2, 'the second miss to end');
    await until(() => stats.snapshot().stored === 2, 'the second page to be stored');

    const snap = cache.stats();
    expect(snap.routes['Obs/page']).toMatchObject({ hits: 2, misses: 1, stored: 1 });
    expect(snap.routes['Obs/page'].hitRatio).toBeCloseTo(2 / 3);
    expect(snap.routes['Obs/numbered']).toMatchObject({ hits: 0, misses: 1 });
    expect(snap).toMatchObject({ hits: 2, misses: 2 });
    expect(snap.hitRatio).toBeCloseTo(0.5);
    expect(snap.usage?.entries).toBe(2);
    expect(snap.usage?.bytes).toBeGreaterThan(0);
    expect(snap.breaker.state).toBe('closed');
  });

  it('reports each decision with route id, url, key and durations for hits and misses', async () => {
    await t.http().get('/obs/page?x=1');
    await until(() => events.decisions.some((d) => d.result === 'stored'), 'the store');
    await t.http().get('/obs/page?x=1');
    await until(() => events.decisions.some((d) => d.result === 'miss'), 'the miss');
    const miss = events.decisions.find((d) => d.result === 'miss')!;
    const stored = events.decisions.find((d) => d.result === 'stored')!;
    const hit = events.decisions.find((d) => d.result === 'hit')!;
    expect(miss).toMatchObject({ route: 'Obs/page', url: '/obs/page?x=1' });
    expect(typeof miss.key).toBe('string');
    expect(stored.key).toBe(miss.key);
    expect(hit).toMatchObject({ route: 'Obs/page', url: '/obs/page?x=1', key: miss.key });
    expect(miss.durationMs).toBeGreaterThanOrEqual(0);
    expect(hit.durationMs).toBeGreaterThanOrEqual(0);
    expect(hit.durationMs).toBeLessThan(10_000);
  });

  it('reset() zeroes every counter, by route and in total', async () => {
    await t.http().get('/obs/page');
    await t.http().get('/obs/cookie');
    await cache.invalidateByTag('Obs:page');
    expect(cache.stats().misses + cache.stats().evictions.calls.tag).toBeGreaterThan(0);
    const before = Date.now();
    stats.reset();
    const snap = cache.stats();
    expect(snap).toMatchObject({ hits: 0, misses: 0, stored: 0, bypassed: {}, notStored: {} });
    expect(snap.routes).toEqual({});
    expect(snap.evictions.total).toBe(0);
    expect(Object.values(snap.evictions.calls).every((n) => n === 0)).toBe(true);
    expect(snap.since).toBeGreaterThanOrEqual(before);
  });

  describe('X-Cache-Reason', () => {
    it('says hit and miss on served and rendered pages', async () => {
      expect((await t.http().get('/obs/page')).headers['x-cache-reason']).toBe('miss');
      await until(() => stats.snapshot().stored === 1, 'the page to be stored');
      expect((await t.http().get('/obs/page')).headers['x-cache-reason']).toBe('hit');
      const etag = (await t.http().get('/obs/page')).headers.etag;
      const conditional = await t.http().get('/obs/page').set('If-None-Match', etag);
      expect(conditional.status).toBe(304);
      expect(conditional.headers['x-cache-reason']).toBe('not-modified');
      expect(cache.stats().notModified).toBe(1);
    });

    it('gives the bypass reason (a session cookie)', async () => {
      const res = await t.http().get('/obs/page').set('Cookie', 'sid=abc');
      expect(res.headers['x-cache-reason']).toBe('bypass: authenticated');
      expect(cache.stats().bypassed).toEqual({ authenticated: 1 });
      expect(cache.stats().routes['Obs/page'].bypassed).toEqual({ authenticated: 1 });
    });

    it.each([
      ['/obs/cookie', 'set-cookie', 200],
      ['/obs/no-store', 'cache-control', 200],
      ['/obs/error', 'server-error', 500],
      // express-session adds its cookie as the head is written: judged there, still in time.
      ['/obs/other', 'set-cookie', 200],
    ])('gives the not-stored reason on the rendered response: %s', async (path, reason, status) => {
      const res = await t.http().get(path);
      expect(res.status).toBe(status);
      expect(res.headers['x-cache-reason']).toBe(`not-stored: ${reason}`);
      expect(cache.stats().notStored[reason]).toBe(1);
      const notStored = events.decisions.find((d) => d.result === 'not-stored');
      expect(notStored).toMatchObject({ reason, url: path });
    });
  });

  it('X-Cache-Reason: a HEAD miss renders but never stores', async () => {
    const res = await t.http().head('/obs/page');
    expect(res.headers['x-cache-reason']).toBe('not-stored: head');
    expect(cache.stats().notStored).toEqual({ head: 1 });
  });

  describe('evictions', () => {
    async function cached(path: string): Promise<void> {
      const stored = stats.snapshot().stored;
      await t.http().get(path);
      await until(() => stats.snapshot().stored > stored, `${path} to be stored`);
    }

    it('reports tag, route, prefix, key and all with what the store took', async () => {
      await cached('/obs/page');
      await cached('/obs/n/1');
      await cached('/obs/n/2');
      expect(await cache.invalidateByTag('Obs:page')).toBe(1);
      expect(await cache.invalidateByPrefix('/obs/n/1')).toBe(1);
      const [entry] = await cache.list();
      expect(await cache.remove(entry.key)).toBe(true);
      await cached('/obs/page');
      await cached('/obs/n/3');
      expect(await cache.invalidateByRoute('Obs/page')).toBe(1);
      expect(await cache.invalidateAll()).toBe(1);

      expect(events.evictions).toEqual([
        { cause: 'tag', values: ['Obs:page'], count: 1 },
        { cause: 'prefix', values: ['/obs/n/1'], count: 1 },
        { cause: 'key', values: [entry.key], count: 1 },
        { cause: 'route', values: ['Obs/page'], count: 1 },
        { cause: 'all', values: [], count: 1 },
      ]);
      const { evictions } = cache.stats();
      expect(evictions.byCause).toMatchObject({ tag: 1, prefix: 1, key: 1, route: 1, all: 1 });
      expect(evictions.total).toBe(5);
    });

    it('reports soft evictions as soft', async () => {
      await cached('/obs/page');
      await cache.invalidateByTag('Obs:page', { soft: true });
      expect(events.evictions).toEqual([
        { cause: 'tag', values: ['Obs:page'], count: 1, soft: true },
      ]);
    });

    it('reports a render overtaken by an eviction as overtaken, not stored', async () => {
      let open!: () => void;
      obs.gate = new Promise<void>((resolve) => (open = resolve));
      const rendersBefore = obs.renders;
      const pending = t
        .http()
        .get('/obs/gated')
        .then((res) => res);
      await until(() => obs.renders > rendersBefore, 'the render to start');
      await cache.invalidateByTag('Obs:gated');
      open();
      const res = await pending;
      expect(res.headers['x-cache-reason']).toBe('not-stored: evicted-during-render');
      expect(events.evictions.map((e) => e.cause)).toEqual(['tag', 'overtaken']);
      expect(events.evictions[1]).toMatchObject({ values: [expect.any(String)], count: 1 });
      expect(cache.stats().evictions.byCause.overtaken).toBe(1);
      expect(cache.stats().notStored['evicted-during-render']).toBe(1);
    });

    it('reports entries the memory store drops when they expire', async () => {
      await cached('/obs/short');
      // Read until the entry is past its second: the store drops it on that read.
      await until(
        async () => {
          await t.http().get('/obs/short');
          return cache.stats().evictions.byCause.expiry > 0;
        },
        'the entry to expire',
        15_000,
      );
      expect(events.evictions.find((e) => e.cause === 'expiry')).toMatchObject({
        values: [expect.any(String)],
        count: 1,
      });
    });
  });
});

describe('observability (e2e): LRU evictions', () => {
  it('reports entries the memory store drops for its bound (maxEntries)', async () => {
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ maxEntries: 2 })],
      controllers: [ObsController],
    });
    try {
      const events = recordEvents(t.app);
      const cache = t.app.get(OutputCacheProvider);
      for (const n of [1, 2, 3, 4]) {
        await t.http().get(`/obs/n/${n}`);
        await until(() => cache.stats().stored === n, `page ${n} to be stored`);
      }
      const snap = cache.stats();
      expect(snap.evictions.byCause.lru).toBe(2);
      expect(snap.usage?.entries).toBe(2);
      expect(events.evictions.filter((e) => e.cause === 'lru')).toHaveLength(2);
    } finally {
      await t.close();
    }
  });
});

/** A Nest logger that keeps what it prints (at the levels it is given). */
class CapturingLogger extends ConsoleLogger {
  /** What the cache printed at debug. */
  readonly lines: string[] = [];
  /** Every debug call of the cache, printed or not (a call means a line was built). */
  calls = 0;
  override debug(message: unknown, context?: string): void {
    if (context !== 'OutputCache') return;
    this.calls++;
    if (this.isLevelEnabled('debug')) this.lines.push(String(message));
  }
  override log(): void {}
  override warn(): void {}
  override error(): void {}
}

@Module({ imports: [OutputCacheModule.forRoot(OPTIONS)], controllers: [ObsController] })
class LoggedModule {}

async function appWithLogger(logger: CapturingLogger) {
  // On the test platform (TEST_PLATFORM), as every other app of the suite.
  const { app } = await createTestApp({ imports: [LoggedModule] });
  app.useLogger(logger);
  return app;
}

describe('observability (e2e): the decision log', () => {
  it('writes one debug line a decision and an eviction, with result, reason, route id and url', async () => {
    const logger = new CapturingLogger({ logLevels: ['log', 'warn', 'error', 'debug'] });
    const app = await appWithLogger(logger);
    try {
      const http = () => request(app.getHttpServer());
      const cache = app.get(OutputCacheProvider);
      await http().get('/obs/page');
      await until(() => cache.stats().stored === 1, 'the page to be stored');
      await http().get('/obs/page');
      await http().get('/obs/page').set('Cookie', 'sid=1');
      await http().get('/obs/cookie');
      await cache.invalidateByTag('Obs:page');
      await until(() => logger.lines.some((l) => l.startsWith('miss ')), 'the miss line');
      const lines = logger.lines;
      expect(lines).toContainEqual(expect.stringMatching(/^miss Obs\/page \/obs\/page \d+\.\dms$/));
      expect(lines).toContainEqual('stored Obs/page /obs/page');
      expect(lines).toContainEqual(expect.stringMatching(/^hit Obs\/page \/obs\/page \d+\.\dms$/));
      expect(lines).toContainEqual('bypass (authenticated) Obs/page /obs/page');
      expect(lines).toContainEqual('not-stored (set-cookie) Obs/cookie /obs/cookie');
      expect(lines).toContainEqual('eviction (tag) 1 entry: Obs:page');
      // One line each: nothing else of the cache's at debug (the old ad-hoc lines are gone).
      expect(lines.filter((l) => l.includes('set-cookie'))).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('builds and writes no line when debug is off', async () => {
    const logger = new CapturingLogger({ logLevels: ['log', 'warn', 'error'] });
    const app = await appWithLogger(logger);
    try {
      const http = () => request(app.getHttpServer());
      const cache = app.get(OutputCacheProvider);
      let described = 0;
      // A listener added after the log's sees the same decisions: they were made.
      app.get(OutputCacheEvents).listen({ decision: () => described++ });
      await http().get('/obs/page');
      await until(() => cache.stats().stored === 1, 'the page to be stored');
      await http().get('/obs/page');
      await http().get('/obs/cookie');
      await cache.invalidateAll();
      expect(described).toBeGreaterThanOrEqual(4);
      expect(logger.lines).toEqual([]);
      expect(logger.calls).toBe(0);
    } finally {
      await app.close();
    }
  });
});
