import 'reflect-metadata';
import { jest } from '@jest/globals';
import {
  type CanActivate,
  Controller,
  Get,
  Injectable,
  Param,
  Query,
  Logger,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  Cacheable,
  CacheableComponent,
  type ComponentContext,
  DisplayControl,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../lib/index.js';
import { ComponentRegistry } from '../lib/components/component.registry.js';
import { RenderCoordinator } from '../lib/http/render-coordinator.js';
import { isVaryRecord } from '../lib/http/vary-record.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { uniqueName } from './helpers/unique-name.js';
import { until } from './helpers/wait.js';

/**
 * Issue 14, parts 1 and 2: what a page depends on bubbles up from the components it shows (vary-by
 * names, tags, max age), a `varyBy: 'auto'` route learns its names per URL (two-step lookup), and
 * a cacheable component that turns out per user becomes a hole instead of keeping the page out.
 */

/** What the test switches and counts. */
const world = {
  /** Whether PriceBox reads the currency (a component that "starts reading" it). */
  priceReadsCurrency: false,
  renders: new Map<string, number>(),
  resolverCalls: new Map<string, number>(),
  /** Gate of /bubble/gated: the handler waits for it. */
  gate: Promise.resolve(),
  entered: 0,
};
const count = (map: Map<string, number>, name: string) => map.set(name, (map.get(name) ?? 0) + 1);
const rendersOf = (name: string) => world.renders.get(name) ?? 0;
const callsOf = (name: string) => world.resolverCalls.get(name) ?? 0;

@CacheableComponent()
@ViewComponent('PriceBox')
@Injectable()
class PriceBoxComponent implements ViewComponentRenderer<{ price: number }> {
  constructor(private readonly display: DisplayControl) {}
  async render({ price }: { price: number }) {
    count(world.renders, 'PriceBox');
    if (!world.priceReadsCurrency) return `<b>price ${price}</b>`;
    const currency = await this.display.vary('currency');
    return `<b>price ${price} ${String(currency)}</b>`;
  }
}

/** Declares what it reads instead of reading it through DisplayControl. */
@CacheableComponent()
@ViewComponent({ name: 'ThemeBadge', varyBy: ['theme'] })
@Injectable()
class ThemeBadgeComponent implements ViewComponentRenderer {
  render(_args: unknown, { req }: ComponentContext) {
    count(world.renders, 'ThemeBadge');
    return `<i>theme ${String(req.headers['x-theme'] ?? 'light')}</i>`;
  }
}

@CacheableComponent()
@ViewComponent({ name: 'Offer', maxAge: 5, tags: ['offers'] })
@Injectable()
class OfferComponent implements ViewComponentRenderer {
  render() {
    count(world.renders, 'Offer');
    return '<s>offer</s>';
  }
}

/** Cacheable, and inlines Welcome (which reads the signed-in user) and Account (per user). */
@CacheableComponent()
@ViewComponent('Header')
@Injectable()
class HeaderComponent implements ViewComponentRenderer {
  render() {
    count(world.renders, 'Header');
    return `<header>${placeComponent('Welcome')}|${placeComponent('Account')}</header>`;
  }
}

@CacheableComponent()
@ViewComponent('Welcome')
@Injectable()
class WelcomeComponent implements ViewComponentRenderer {
  render(_args: unknown, { req }: ComponentContext) {
    count(world.renders, 'Welcome');
    return `<span>hi ${String(req.user?.name ?? 'guest')}</span>`;
  }
}

@CacheableComponent()
@ViewComponent('Account')
@Injectable()
class AccountComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  render(_args: unknown, { req }: ComponentContext) {
    count(world.renders, 'Account');
    this.display.markPerUser('shows the account');
    return `<a>account ${String(req.headers['x-name'] ?? 'none')}</a>`;
  }
}

/** Signs the request in from a header (a stand-in for an auth guard that sets `req.user`). */
@Injectable()
class HeaderUserGuard implements CanActivate {
  canActivate(context: any): boolean {
    const req = context.switchToHttp().getRequest();
    const name = req.headers['x-name'];
    if (typeof name === 'string') req.user = { name };
    return true;
  }
}

@Controller('bubble')
class BubbleController {
  constructor(private readonly display: DisplayControl) {}

  @Get('product/:id')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  product(@Param('id') id: string) {
    count(world.renders, 'product');
    return `<main>product ${id} ${placeComponent('PriceBox', { price: 10 })}</main>`;
  }

  @Get('themed')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  themed() {
    count(world.renders, 'themed');
    return `<main>${placeComponent('ThemeBadge')}</main>`;
  }

  @Get('offer')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  offer() {
    count(world.renders, 'offer');
    return `<main>${placeComponent('Offer')}</main>`;
  }

  @Get('header')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  header() {
    count(world.renders, 'header');
    return `<main>${placeComponent('Header')}</main>`;
  }

  @Get('pinned')
  @Cacheable({ varyBy: ['language'], ttl: 60 })
  async pinned() {
    count(world.renders, 'pinned');
    return `<main>${String(await this.display.vary('currency'))}</main>`;
  }

  @Get('pinned-ok')
  @Cacheable({ varyBy: ['currency'], ttl: 60 })
  async pinnedOk() {
    count(world.renders, 'pinned-ok');
    return `<main>${String(await this.display.vary('currency'))}</main>`;
  }

  @Get('short')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  short(@Query('age') age: string) {
    this.display.maxAge(Number(age));
    return '<main>short</main>';
  }

  @Get('gated')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  async gated() {
    world.entered++;
    await world.gate;
    return `<main>${String(await this.display.vary('currency'))}</main>`;
  }
}

describe('cacheability that bubbles up from components (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  let registry: ComponentRegistry;

  beforeAll(async () => {
    const counted =
      (name: string, header: string, fallback: string) =>
      (req: any): string => {
        count(world.resolverCalls, name);
        return String(req.headers[header] ?? fallback);
      };
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          reasonHeader: true,
          varyBy: {
            currency: counted('currency', 'x-currency', 'EUR'),
            theme: counted('theme', 'x-theme', 'light'),
            language: counted('language', 'accept-language', 'en'),
          },
        }),
      ],
      controllers: [BubbleController],
      providers: [
        PriceBoxComponent,
        ThemeBadgeComponent,
        OfferComponent,
        HeaderComponent,
        WelcomeComponent,
        AccountComponent,
        { provide: APP_GUARD, useClass: HeaderUserGuard },
      ],
    });
    cache = t.app.get(OutputCacheProvider);
    registry = t.app.get(ComponentRegistry);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    world.renders.clear();
    world.resolverCalls.clear();
    world.priceReadsCurrency = false;
    await cache.invalidateAll();
  });

  /** The stored pages (not the URLs' vary records). */
  const pages = async () => (await cache.list()).filter((e) => !isVaryRecord(e));

  const get = (path: string, headers: Record<string, string> = {}) =>
    t.http().get(path).set(headers).expect(200);

  it('splits the pages of a component that starts reading the currency, without touching the route', async () => {
    // Before: the component reads nothing; one page serves every currency.
    expect((await get('/bubble/product/1', { 'x-currency': 'EUR' })).headers['x-cache']).toBe(
      'MISS',
    );
    const before = await get('/bubble/product/1', { 'x-currency': 'USD' });
    expect(before.headers['x-cache']).toBe('HIT');
    expect(before.text).toContain('<b>price 10</b>');

    // The component starts reading the currency (a deploy, a theme): once its pages expire,
    // they are split by currency.
    world.priceReadsCurrency = true;
    await cache.invalidateByRoute('Bubble/product');
    const eur = await get('/bubble/product/1', { 'x-currency': 'EUR' });
    expect(eur.headers['x-cache']).toBe('MISS');
    expect(eur.text).toContain('price 10 EUR');
    const usd = await get('/bubble/product/1', { 'x-currency': 'USD' });
    expect(usd.headers['x-cache']).toBe('MISS');
    expect(usd.text).toContain('price 10 USD');
    const eurAgain = await get('/bubble/product/1', { 'x-currency': 'EUR' });
    expect(eurAgain.headers['x-cache']).toBe('HIT');
    expect(eurAgain.text).toContain('price 10 EUR');
    const usdAgain = await get('/bubble/product/1', { 'x-currency': 'USD' });
    expect(usdAgain.headers['x-cache']).toBe('HIT');
    expect(usdAgain.text).toContain('price 10 USD');
    expect(usdAgain.text).not.toContain('EUR');
    expect(rendersOf('product')).toBe(3);
    // Another URL of the route learns for itself (records are per URL).
    expect((await get('/bubble/product/2', { 'x-currency': 'USD' })).text).toContain('USD');
  });

  it('computes only the names a URL recorded (the second step of the lookup)', async () => {
    await get('/bubble/themed', { 'x-theme': 'dark' });
    world.resolverCalls.clear();
    const hit = await get('/bubble/themed', { 'x-theme': 'dark' });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain('theme dark');
    // Theme only: the route pins nothing, the record says theme; currency and language are
    // registered but never resolved for this page.
    expect(callsOf('theme')).toBe(1);
    expect(callsOf('currency')).toBe(0);
    expect(callsOf('language')).toBe(0);
    const light = await get('/bubble/themed', { 'x-theme': 'light' });
    expect(light.headers['x-cache']).toBe('MISS');
    expect(light.text).toContain('theme light');
    expect(rendersOf('ThemeBadge')).toBe(2);
  });

  it('stores a component’s declared tags and max age with the pages that inline it', async () => {
    await get('/bubble/offer');
    const [entry] = (await pages()).filter((e) => e.path === '/bubble/offer');
    expect(entry.tags).toEqual(expect.arrayContaining(['offers', 'route:Bubble/offer']));
    // The route says 60 s, the component 5 s: the smaller wins.
    expect(entry.expiresAt - entry.createdAt).toBe(5000);
    expect((await get('/bubble/offer')).headers['x-cache']).toBe('HIT');
    await cache.invalidateByTag('offers');
    expect((await get('/bubble/offer')).headers['x-cache']).toBe('MISS');
  });

  it('lets a render shorten its max age, and keeps a max age of 0 out of the cache', async () => {
    await get('/bubble/short?age=2');
    const [entry] = (await pages()).filter((e) => e.path === '/bubble/short');
    expect(entry.expiresAt - entry.createdAt).toBe(2000);
    const zero = await get('/bubble/short?age=0');
    expect(zero.headers['x-cache-reason']).toBe('not-stored: max-age-0');
    expect((await get('/bubble/short?age=0')).headers['x-cache']).toBe('MISS');
  });

  it('makes a per-user component inside a cacheable component a hole; the page stays cached', async () => {
    const log = jest.spyOn(Logger.prototype, 'log');
    try {
      const ann = await get('/bubble/header', { 'x-name': 'ann' });
      expect(ann.headers['x-cache']).toBe('MISS');
      expect(ann.text).toContain('<span>hi ann</span>');
      expect(ann.text).toContain('<a>account ann</a>');
      const bob = await get('/bubble/header', { 'x-name': 'bob' });
      expect(bob.headers['x-cache']).toBe('HIT');
      expect(bob.text).toContain('<span>hi bob</span>');
      expect(bob.text).toContain('<a>account bob</a>');
      expect(bob.text).not.toContain('ann');
      const guest = await get('/bubble/header');
      expect(guest.headers['x-cache']).toBe('HIT');
      expect(guest.text).toContain('<span>hi guest</span>');
      expect(guest.text).not.toMatch(/ann|bob/);
      // The header itself rendered once; the two per-user parts on every response.
      expect(rendersOf('header')).toBe(1);
      expect(rendersOf('Header')).toBe(1);
      expect(rendersOf('Welcome')).toBeGreaterThanOrEqual(3);
      expect(registry.automaticHoles.get('Welcome')).toBe('reads req.user');
      expect(registry.automaticHoles.get('Account')).toBe('shows the account');
      // Said once per component, however many pages render it.
      await cache.invalidateAll();
      await get('/bubble/header', { 'x-name': 'cy' });
      const said = log.mock.calls.map((c) => String(c[0])).filter((m) => /is a hole/.test(m));
      expect(said.filter((m) => m.includes('Welcome'))).toHaveLength(1);
      expect(said.filter((m) => m.includes('Account'))).toHaveLength(1);
    } finally {
      log.mockRestore();
    }
  });

  it('does not store a page that reads a vary-by name its route does not pin, and says so', async () => {
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      const first = await get('/bubble/pinned', { 'x-currency': 'EUR' });
      expect(first.headers['x-cache-reason']).toBe('not-stored: undeclared-vary');
      const second = await get('/bubble/pinned', { 'x-currency': 'USD' });
      expect(second.headers['x-cache']).toBe('MISS');
      expect(second.text).toContain('USD');
      const said = error.mock.calls.map((c) => String(c[0]));
      expect(said.filter((m) => m.includes('read vary-by "currency"'))).toHaveLength(1);
      // The same read on a route that pins the name is stored.
      await get('/bubble/pinned-ok', { 'x-currency': 'EUR' });
      expect((await get('/bubble/pinned-ok', { 'x-currency': 'EUR' })).headers['x-cache']).toBe(
        'HIT',
      );
      expect((await get('/bubble/pinned-ok', { 'x-currency': 'USD' })).text).toContain('USD');
    } finally {
      error.mockRestore();
    }
  });

  it('never serves a waiter the leader’s page when the leader learned a name the waiter differs in', async () => {
    const collapser = (t.app.get(RenderCoordinator) as any).collapser as { waiting: number };
    let release!: () => void;
    world.gate = new Promise<void>((r) => (release = r));
    world.entered = 0;
    const eur = get('/bubble/gated', { 'x-currency': 'EUR' }).then((r) => r);
    await until(() => world.entered === 1, 'the EUR render to start');
    // Same URL, no record yet: the same key; the USD request waits for the EUR render.
    const usd = get('/bubble/gated', { 'x-currency': 'USD' }).then((r) => r);
    await until(() => collapser.waiting === 1, 'the USD request to wait');
    release();
    const [eurPage, usdPage] = await Promise.all([eur, usd]);
    world.gate = Promise.resolve();
    expect(eurPage.text).toBe('<main>EUR</main>');
    expect(usdPage.text).toBe('<main>USD</main>');
    expect(usdPage.headers['x-cache']).not.toBe('HIT');
    // From now on the URL's record says currency: each currency its own hit.
    await get('/bubble/gated', { 'x-currency': 'USD' });
    const usdHit = await get('/bubble/gated', { 'x-currency': 'USD' });
    expect(usdHit.headers['x-cache']).toBe('HIT');
    expect(usdHit.text).toBe('<main>USD</main>');
    const eurHit = await get('/bubble/gated', { 'x-currency': 'EUR' });
    expect(eurHit.headers['x-cache']).toBe('HIT');
    expect(eurHit.text).toBe('<main>EUR</main>');
  });
});

describe("varyBy: 'auto' on a store with an eviction clock (e2e, real Redis)", () => {
  const prefix = `${uniqueName('oc_bubble')}:`;
  let t: TestApp;
  let cache: OutputCacheProvider;

  beforeAll(async () => {
    await clearRedisPrefix(prefix);
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          store: new RedisOutputCacheStore({ url: REDIS_URL, prefix }),
          storeTimeout: 2,
          reasonHeader: true,
          varyBy: {
            currency: (req: any) => String(req.headers['x-currency'] ?? 'EUR'),
            theme: (req: any) => String(req.headers['x-theme'] ?? 'light'),
            language: (req: any) => String(req.headers['accept-language'] ?? 'en'),
          },
        }),
      ],
      controllers: [BubbleController],
      providers: [PriceBoxComponent],
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(async () => {
    await t?.close();
    await clearRedisPrefix(prefix);
  });

  it('finds a URL’s vary record after an earlier purge advanced the clock', async () => {
    world.priceReadsCurrency = true;
    try {
      await cache.invalidateAll(); // an eviction before the render: the clock is past 0
      const get = (currency: string) =>
        t.http().get('/bubble/product/7').set('X-Currency', currency).expect(200);
      expect((await get('USD')).headers['x-cache']).toBe('MISS');
      // Stored off the request: the page, then its URL's record.
      const recorded = async () => (await cache.list()).filter(isVaryRecord).length;
      await until(async () => (await recorded()) === 1, 'the vary record to be stored');
      // The record says currency: the USD variant is found (a record counted as rendered at 0
      // would be hidden by the purge, and the lookup would miss on the bare key every time).
      const hit = await get('USD');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.text).toContain('price 10 USD');
      const other = await get('GBP');
      expect(other.headers['x-cache']).toBe('MISS');
      expect(other.text).toContain('price 10 GBP');
      await until(
        async () => (await cache.list()).some((e) => e.key.endsWith('currency=GBP')),
        'the GBP page to be stored',
      );
      expect((await get('GBP')).headers['x-cache']).toBe('HIT');
    } finally {
      world.priceReadsCurrency = false;
    }
  });
});
