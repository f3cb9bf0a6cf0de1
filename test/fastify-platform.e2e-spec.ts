import 'reflect-metadata';
import { Controller, Get, Header, Injectable, Module, Res } from '@nestjs/common';
import {
  Cacheable,
  type ComponentContext,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../lib/index.js';
import { createTestApp, type TestApp, testPlatform } from './helpers/test-app.js';
import { statsSince } from './helpers/stats-delta.js';

/**
 * What only Fastify has, on Fastify (the `fastify` jest project; the rest of the suite runs on
 * both platforms): `onSend` hooks that add `Set-Cookie` after the route sent its body,
 * `@fastify/cookie`'s `reply.setCookie()` in a route and in a hole, and a returned object that
 * Fastify serialises.
 */
const renders = new Map<string, number>();
const ran = (name: string) => {
  const n = (renders.get(name) ?? 0) + 1;
  renders.set(name, n);
  return n;
};

@ViewComponent('Visit')
@Injectable()
class VisitComponent implements ViewComponentRenderer {
  render(_args: unknown, { res }: ComponentContext) {
    const n = ran('Visit');
    // The hole's cookie: this request's own, on a miss and on every hit.
    (res as { setCookie(name: string, value: string, options: object): void }).setCookie(
      'visit',
      String(n),
      { path: '/' },
    );
    return `<i>visit ${n}</i>`;
  }
}

@Controller('fy')
class FastifyController {
  @Cacheable({ ttl: 60 })
  @Get('hooked')
  @Header('Content-Type', 'text/html; charset=utf-8')
  hooked() {
    return `<p>hooked ${ran('hooked')}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('route-cookie')
  routeCookie(@Res({ passthrough: true }) reply: { setCookie(n: string, v: string): void }) {
    reply.setCookie('pref', 'dark');
    return `<p>route-cookie ${ran('route-cookie')}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('hole-cookie')
  @Header('Content-Type', 'text/html; charset=utf-8')
  holeCookie() {
    return `<p>page ${ran('hole-cookie')} ${placeComponent('Visit')}</p>`;
  }

  @Cacheable({ ttl: 60 })
  @Get('object')
  object() {
    return { n: ran('object'), list: [1, 2, 3] };
  }
}

@Module({
  imports: [OutputCacheModule.forRoot({ reasonHeader: true })],
  controllers: [FastifyController],
  providers: [VisitComponent],
})
class FastifyAppModule {}

const describeOnFastify = testPlatform === 'fastify' ? describe : describe.skip;

describeOnFastify('Fastify platform (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({ imports: [FastifyAppModule] }, (app) => {
      const fastify = app.getHttpAdapter().getInstance() as unknown as {
        addHook(
          name: 'onSend',
          hook: (req: { url: string }, reply: any, payload: unknown) => Promise<unknown>,
        ): void;
      };
      // A plugin's way of adding a cookie: in onSend, after the route sent its body.
      fastify.addHook('onSend', async (req, reply, payload) => {
        if (req.url === '/fy/hooked') reply.header('set-cookie', 'session=from-hook');
        return payload;
      });
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t?.close());
  beforeEach(() => cache.invalidateAll());

  it('runs on Fastify', () => {
    expect((t.app.getHttpAdapter() as { getType(): string }).getType()).toBe('fastify');
  });

  it('an onSend hook that adds Set-Cookie keeps the page out (judged on the final head)', async () => {
    const since = statsSince(cache);
    const first = await t.http().get('/fy/hooked').expect(200);
    expect(first.headers['set-cookie']).toEqual(['session=from-hook']);
    expect(first.headers['x-cache-reason']).toBe('not-stored: set-cookie');
    const second = await t.http().get('/fy/hooked').expect(200);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(since().notStored('set-cookie')).toBe(2);
    expect(await cache.count()).toBe(0);
  });

  it("a route's reply.setCookie() keeps the page out", async () => {
    const first = await t.http().get('/fy/route-cookie').expect(200);
    expect(first.headers['set-cookie']?.[0]).toMatch(/^pref=dark/);
    expect(first.headers['x-cache-reason']).toBe('not-stored: set-cookie');
    expect((await t.http().get('/fy/route-cookie')).headers['x-cache']).toBe('MISS');
  });

  it("a hole's reply.setCookie() is its own request's: the page is stored, each hit sets its own", async () => {
    const miss = await t.http().get('/fy/hole-cookie').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['set-cookie']?.[0]).toMatch(/^visit=(\d+)/);
    const hit = await t.http().get('/fy/hole-cookie').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    const visit = (res: typeof miss) => /^visit=(\d+)/.exec(res.headers['set-cookie']?.[0] ?? '');
    expect(Number(visit(hit)?.[1])).toBe(Number(visit(miss)?.[1]) + 1);
    expect(hit.text).toContain(`<i>visit ${visit(hit)?.[1]}</i>`);
    expect(await cache.count()).toBe(1);
  });

  it('stores a returned object as Fastify serialised it, with its content type', async () => {
    const miss = await t.http().get('/fy/object').expect(200);
    const hit = await t.http().get('/fy/object').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(hit.text).toBe(miss.text);
    expect(hit.body).toEqual({ n: 1, list: [1, 2, 3] });
  });
});
