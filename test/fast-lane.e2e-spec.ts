import { jest } from '@jest/globals';
import 'reflect-metadata';
import {
  type CanActivate,
  Controller,
  Get,
  Injectable,
  Logger,
  type ModuleMetadata,
  Render,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  Cacheable,
  OutputCacheConfigError,
  OutputCacheModule,
  type OutputCacheModuleOptions,
  OutputCacheProvider,
} from '../lib/index.js';
import { Registry } from 'prom-client';
import { OutputCacheMetrics, OutputCacheMetricsModule } from '../lib/prometheus.js';
import { componentProviders, rendersOf } from './fixtures/components.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { TestClock } from './helpers/test-clock.js';
import { until } from './helpers/wait.js';

/** A 20 KB page, as the bench serves. */
const PAGE = `<html><body>${'<p>fast lane</p>'.repeat(1280)}</body></html>`;
const handlerRuns = new Map<string, number>();
const ran = (name: string) => handlerRuns.set(name, (handlerRuns.get(name) ?? 0) + 1);

/**
 * The same routes with and without the fast lane (one class name, so one set of route ids): the
 * ordinary app's hits are what the fast lane's must equal.
 */
function pagesController(fastLane: boolean) {
  @Controller('fast')
  class FastController {
    @Cacheable({ fastLane })
    @Get('page')
    page() {
      ran('page');
      return PAGE;
    }

    @Cacheable({ fastLane, varyBy: ['currency'] })
    @Get('priced')
    priced() {
      ran('priced');
      return { price: 10, at: handlerRuns.get('priced') };
    }

    @Cacheable({ fastLane, ttl: 60, grace: 600 })
    @Get('graced')
    graced() {
      ran('graced');
      return `graced ${handlerRuns.get('graced')}`;
    }

    @Cacheable({ fastLane })
    @Get('donut')
    @Render('donut')
    donut() {
      ran('donut');
      return { title: 'Donut', review: '', reviewHtml: '' };
    }

    @Cacheable({ fastLane })
    @Get('item/:id')
    item() {
      ran('item');
      return 'item';
    }

    /** Not on the fast lane, and overlapping `item/:id`: the router decides. */
    @Cacheable()
    @Get('item/special')
    special() {
      ran('special');
      return 'special';
    }
  }
  return FastController;
}

const options: OutputCacheModuleOptions = {
  varyBy: { currency: (req) => String(req.headers['x-currency'] ?? 'USD') },
  sessionCookie: ['sid'],
  // What the apps' middleware sets on every response (as helmet would), for fast-lane hits.
  fastLaneHeaders: { 'X-Content-Type-Options': 'nosniff' },
};

/** An app whose Express middleware counts the requests that reached the framework. */
async function appOf(fastLane: boolean): Promise<{ t: TestApp; arrivals: () => number }> {
  let arrivals = 0;
  const t = await createTestApp(
    {
      imports: [
        OutputCacheModule.forRoot(options),
        OutputCacheMetricsModule.forRoot({ registry: new Registry() }),
      ],
      controllers: [pagesController(fastLane)],
      providers: componentProviders,
    },
    (app) =>
      app.use(function countArrivals(
        _req: unknown,
        res: { setHeader(name: string, value: string): void },
        next: () => void,
      ) {
        arrivals++;
        res.setHeader('X-Content-Type-Options', 'nosniff');
        next();
      }),
  );
  return { t, arrivals: () => arrivals };
}

/** Headers of a response that must agree between two hits (the clock's and the connection's aside). */
function comparable(headers: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...headers };
  for (const name of ['date', 'connection', 'keep-alive']) delete rest[name];
  return rest;
}

describe(`fast lane (e2e, ${process.env.TEST_PLATFORM ?? 'express'})`, () => {
  let fast: Awaited<ReturnType<typeof appOf>>;
  let ordinary: Awaited<ReturnType<typeof appOf>>;
  const clock = new TestClock();

  beforeAll(async () => {
    fast = await appOf(true);
    ordinary = await appOf(false);
  });
  afterAll(async () => {
    await fast?.t.close();
    await ordinary?.t.close();
  });
  afterEach(() => clock.restore());
  beforeEach(async () => {
    handlerRuns.clear();
    await fast.t.app.get(OutputCacheProvider).invalidateAll();
    await ordinary.t.app.get(OutputCacheProvider).invalidateAll();
  });

  it('serves a hit without the framework; a miss goes through it', async () => {
    const before = fast.arrivals();
    const miss = await fast.t.http().get('/fast/page').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(fast.arrivals() - before).toBe(1);
    const hit = await fast.t.http().get('/fast/page').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(PAGE);
    expect(hit.headers.age).toMatch(/^\d+$/);
    // The middleware did not see the hit: it was answered before Express.
    expect(fast.arrivals() - before).toBe(1);
    expect(handlerRuns.get('page')).toBe(1);
  });

  it('counts a fast-lane hit in stats(), in total and for its route, and in Prometheus', async () => {
    const cache = fast.t.app.get(OutputCacheProvider);
    const { registry } = fast.t.app.get(OutputCacheMetrics);
    const hits = async () =>
      (await registry.getSingleMetric('output_cache_requests_total')!.get()).values.find(
        (v) => v.labels.route === 'Fast/page' && v.labels.result === 'hit',
      )?.value ?? 0;
    await fast.t.http().get('/fast/page').expect(200); // MISS
    const before = cache.stats();
    const counted = await hits();
    const arrived = fast.arrivals();
    const hit = await fast.t.http().get('/fast/page').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(fast.arrivals()).toBe(arrived); // answered by the fast lane, not the framework
    const after = cache.stats();
    expect(after.hits).toBe(before.hits + 1);
    expect(after.routes['Fast/page']?.hits).toBe((before.routes['Fast/page']?.hits ?? 0) + 1);
    expect(after.misses).toBe(before.misses);
    expect(await hits()).toBe(counted + 1);
  });

  it('answers with the same status, headers and bytes as the ordinary hit', async () => {
    for (const app of [fast, ordinary]) await app.t.http().get('/fast/page').expect(200);
    const before = ordinary.arrivals();
    const slow = await ordinary.t.http().get('/fast/page').expect(200);
    expect(ordinary.arrivals() - before).toBe(1); // the ordinary hit passed Express
    const quick = await fast.t.http().get('/fast/page').expect(200);
    expect(quick.status).toBe(slow.status);
    expect(comparable(quick.headers)).toEqual(comparable(slow.headers));
    expect(Buffer.from(quick.text)).toEqual(Buffer.from(slow.text));
    expect(quick.headers['x-cache']).toBe('HIT');
    // The middleware's header, set on the fast lane by `fastLaneHeaders`.
    expect(quick.headers['x-content-type-options']).toBe('nosniff');
  });

  it('fills holes per request, and renders the page once', async () => {
    const before = fast.arrivals();
    await fast.t.http().get('/fast/donut').set('Cookie', 'cart=1,2').expect(200);
    const greetings = rendersOf('Greeting');
    const hit = await fast.t
      .http()
      .get('/fast/donut')
      .set('Cookie', 'cart=7')
      .set('X-User', 'ann')
      .expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain('<span class="cart">cart[7] total=1</span>');
    expect(hit.text).toContain('<em>hello ann</em>');
    expect(hit.text).not.toContain('<!--oc:');
    expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(hit.text)));
    expect(rendersOf('Greeting') - greetings).toBe(1);
    expect(handlerRuns.get('donut')).toBe(1);
    expect(fast.arrivals() - before).toBe(1);
  });

  it('keys by vary-by values read from the raw request', async () => {
    const before = fast.arrivals();
    const usd = await fast.t.http().get('/fast/priced').expect(200);
    const eur = await fast.t.http().get('/fast/priced').set('X-Currency', 'EUR').expect(200);
    expect([usd.headers['x-cache'], eur.headers['x-cache']]).toEqual(['MISS', 'MISS']);
    const usdHit = await fast.t.http().get('/fast/priced').expect(200);
    const eurHit = await fast.t.http().get('/fast/priced').set('X-Currency', 'EUR').expect(200);
    expect([usdHit.headers['x-cache'], eurHit.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(usdHit.body).toEqual(usd.body);
    expect(eurHit.body).toEqual(eur.body);
    expect(usd.body).not.toEqual(eur.body);
    expect(fast.arrivals() - before).toBe(2);
  });

  it('answers 304 to a matching validator, in the fast lane', async () => {
    await fast.t.http().get('/fast/page').expect(200);
    // Identity: a compressed variant made in the background after a hit has an ETag of its own.
    const hit = await fast.t.http().get('/fast/page').set('Accept-Encoding', 'identity');
    expect(hit.headers['x-cache']).toBe('HIT');
    const etag = hit.headers.etag;
    expect(etag).toBeDefined();
    const before = fast.arrivals();
    const revalidated = await fast.t
      .http()
      .get('/fast/page')
      .set('Accept-Encoding', 'identity')
      .set('If-None-Match', etag);
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.etag).toBe(etag);
    expect(revalidated.headers['x-cache']).toBe('HIT');
    expect(revalidated.text ?? '').toBe('');
    expect(fast.arrivals() - before).toBe(0);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    await fast.t.http().get('/fast/page').expect(200);
    const get = await fast.t.http().get('/fast/page').expect(200);
    const before = fast.arrivals();
    const head = await fast.t.http().head('/fast/page').expect(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
    expect(fast.arrivals() - before).toBe(0);
  });

  it('lets a signed-in request through to the app (bypass)', async () => {
    await fast.t.http().get('/fast/page').expect(200);
    const before = fast.arrivals();
    const signedIn = await fast.t.http().get('/fast/page').set('Cookie', 'sid=abc').expect(200);
    expect(signedIn.headers['x-cache']).toBe('BYPASS');
    expect(fast.arrivals() - before).toBe(1);
    const auth = await fast.t.http().get('/fast/page').set('Authorization', 'Bearer x').expect(200);
    expect(auth.headers['x-cache']).toBe('BYPASS');
    expect(fast.arrivals() - before).toBe(2);
  });

  it('lets a stale entry through to the ordinary path (served stale, refreshed there)', async () => {
    clock.install();
    await fast.t.http().get('/fast/graced').expect(200);
    clock.advance(61_000);
    const before = fast.arrivals();
    const stale = await fast.t.http().get('/fast/graced').expect(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.text).toBe('graced 1');
    expect(fast.arrivals() - before).toBeGreaterThanOrEqual(1);
    // The background refresh (an internal request) went past the fast lane into the route...
    await until(() => handlerRuns.get('graced') === 2, 'the background refresh to render');
    // ...and its entry is then a fast-lane hit.
    let fresh: { headers: Record<string, string>; text: string } | undefined;
    await until(async () => {
      fresh = await fast.t.http().get('/fast/graced');
      return fresh.headers['x-cache'] === 'HIT';
    }, 'the refreshed entry to be served');
    expect(fresh!.text).toBe('graced 2');
  });

  it('leaves a path two routes could answer to the router', async () => {
    const before = fast.arrivals();
    await fast.t.http().get('/fast/item/special').expect(200);
    const second = await fast.t.http().get('/fast/item/special').expect(200);
    // Express answers it with `item/:id` (registered first); the fast lane stays out of it.
    expect(second.headers['x-cache']).toBe('HIT');
    expect(fast.arrivals() - before).toBe(2);
    // A path only `item/:id` matches is on the fast lane.
    await fast.t.http().get('/fast/item/7').expect(200);
    const hit = await fast.t.http().get('/fast/item/7').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(fast.arrivals() - before).toBe(3);
  });

  it('passes other methods and unknown paths through', async () => {
    const before = fast.arrivals();
    await fast.t.http().post('/fast/page').expect(404);
    await fast.t.http().get('/nowhere').expect(404);
    expect(fast.arrivals() - before).toBe(2);
  });
});

describe('fast lane: routes under a global prefix and a RouterModule path', () => {
  it('matches the paths Nest registers', async () => {
    let arrivals = 0;
    @Controller('prefixed')
    class PrefixedController {
      @Cacheable({ fastLane: true })
      @Get(':slug')
      page() {
        ran('prefixed');
        return 'prefixed';
      }
    }
    const t = await createTestApp(
      { imports: [OutputCacheModule.forRoot({})], controllers: [PrefixedController] },
      (app) => {
        app.setGlobalPrefix('api');
        app.use((_req: unknown, _res: unknown, next: () => void) => {
          arrivals++;
          next();
        });
      },
    );
    try {
      await t.http().get('/api/prefixed/a').expect(200);
      const hit = await t.http().get('/api/prefixed/a').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(arrivals).toBe(1);
      // Without the prefix there is no route: the app answers 404.
      await t.http().get('/prefixed/a').expect(404);
      expect(arrivals).toBe(2);
    } finally {
      await t.close();
    }
  });
});

describe('fast lane: refused at start-up where it would skip something', () => {
  @Injectable()
  class AllowAll implements CanActivate {
    canActivate() {
      return true;
    }
  }

  @Injectable()
  class Passthrough {
    intercept(_ctx: unknown, next: { handle: () => unknown }) {
      return next.handle();
    }
  }

  async function startup(metadata: ModuleMetadata): Promise<unknown> {
    let app: TestApp | undefined;
    try {
      app = await createTestApp(metadata);
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await app?.close();
    }
  }

  it('a route with a guard', async () => {
    @Controller('guarded')
    class GuardedController {
      @UseGuards(AllowAll)
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const error = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [GuardedController],
    });
    expect(error).toBeInstanceOf(OutputCacheConfigError);
    expect(String((error as Error).message)).toMatch(/Guarded\/page: it has a guard \(AllowAll\)/);
  });

  it('a controller with a guard', async () => {
    @UseGuards(AllowAll)
    @Controller('guarded')
    class GuardedClassController {
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const error = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [GuardedClassController],
    });
    expect(String((error as Error)?.message)).toMatch(/GuardedClass\/page: it has a guard/);
  });

  it('an app with a global guard (APP_GUARD)', async () => {
    @Controller('open')
    class OpenController {
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const error = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [OpenController],
      providers: [{ provide: APP_GUARD, useClass: AllowAll }],
    });
    expect(error).toBeInstanceOf(OutputCacheConfigError);
    expect(String((error as Error).message)).toMatch(/Open\/page: the app has a global guard/);
  });

  it('a route with an interceptor other than the cache’s', async () => {
    @Controller('wrapped')
    class WrappedController {
      @UseInterceptors(Passthrough)
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const error = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [WrappedController],
    });
    expect(String((error as Error)?.message)).toMatch(
      /Wrapped\/page: it has an interceptor other than the cache’?'?s \(Passthrough\)/,
    );
  });

  it('a value that is not a boolean, and allowAuthenticated with it', async () => {
    @Controller('odd')
    class OddController {
      @Cacheable({ fastLane: 'yes' as never })
      @Get()
      page() {
        return 'x';
      }
    }
    const odd = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [OddController],
    });
    expect(String((odd as Error)?.message)).toMatch(/"fastLane" must be true or false/);

    @Controller('signed')
    class SignedController {
      @Cacheable({ fastLane: true, allowAuthenticated: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const signed = await startup({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [SignedController],
    });
    expect(String((signed as Error)?.message)).toMatch(/"fastLane" and "allowAuthenticated"/);
  });

  it('fastLaneHeaders that are not header names or string values', async () => {
    const bad = await startup({
      imports: [OutputCacheModule.forRoot({ fastLaneHeaders: { 'X Bad': 'v' } })],
    });
    expect(bad).toBeInstanceOf(OutputCacheConfigError);
    expect(String((bad as Error).message)).toMatch(
      /fastLaneHeaders.*"X Bad", which is not a header name/,
    );
    const split = await startup({
      imports: [OutputCacheModule.forRoot({ fastLaneHeaders: { 'X-Ok': 'a\r\nSet-Cookie: x=1' } })],
    });
    expect(String((split as Error)?.message)).toMatch(/without line breaks/);
  });

  it('warns at start-up about the middleware a fast-lane hit skips (Express)', async () => {
    if ((process.env.TEST_PLATFORM ?? 'express') !== 'express') return;
    @Controller('warned')
    class WarnedController {
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const t = await createTestApp(
        { imports: [OutputCacheModule.forRoot({})], controllers: [WarnedController] },
        (app) =>
          app.use(function helmetLike(_q: unknown, _r: unknown, next: () => void) {
            next();
          }),
      );
      await t.close();
      const messages = warn.mock.calls.map((call) => String(call[0]));
      expect(messages).toContainEqual(
        expect.stringMatching(/middleware that does not run on fast-lane hits: helmetLike/),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('a route without guards starts (the option on its own is fine)', async () => {
    @Controller('plain')
    class PlainController {
      @Cacheable({ fastLane: true })
      @Get()
      page() {
        return 'x';
      }
    }
    expect(
      await startup({ imports: [OutputCacheModule.forRoot({})], controllers: [PlainController] }),
    ).toBeUndefined();
  });
});
