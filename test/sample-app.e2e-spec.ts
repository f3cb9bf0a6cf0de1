import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  OUTPUT_CACHE_STORE,
  OutputCacheProvider,
  type OutputCacheStatsSnapshot,
  type OutputCacheStore,
} from '../lib/index.js';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import type { SampleAppOptions } from '../sample-app/sample-app.options.js';
import { Category } from '../sample-app/entities/category.entity.js';
import { Product } from '../sample-app/entities/product.entity.js';
import { statsSince } from './helpers/stats-delta.js';
import { TestClock } from './helpers/test-clock.js';
import { testPlatform } from './helpers/test-app.js';
import { eventually, until } from './helpers/wait.js';

describe('sample shop (e2e)', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createSampleApp({
      database: ':memory:',
      dbDelayMs: 0,
      logger: false,
      platform: testPlatform,
    });
    // Listen on one address: the cache key holds the Host header, port included.
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(() => app.close());
  // Each test starts from an empty cache: none may rely on a page an earlier one cached.
  beforeEach(() => app.get(OutputCacheProvider).invalidateAll());
  /** Data a test changed, put back after it (the tests share one database). */
  const restoreAfter: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const restore of restoreAfter.splice(0)) await restore();
  });

  const productBySlug = (slug: string) =>
    app.get(DataSource).getRepository(Product).findOneByOrFail({ slug });
  const categoryBySlug = (slug: string) =>
    app.get(DataSource).getRepository(Category).findOneByOrFail({ slug });

  const get = (path: string, cookie?: string) => {
    const req = http().get(path);
    return cookie ? req.set('Cookie', cookie) : req;
  };

  /**
   * GETs a page twice: a MISS that renders, then a HIT with the same body (but for the CSRF
   * token of a form, a hole rendered for every response).
   */
  async function expectCached(path: string, cookie?: string) {
    const first = await get(path, cookie);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/html/);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await get(path, cookie);
    expect(second.status).toBe(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(withoutToken(second.text)).toBe(withoutToken(first.text));
    return first.text;
  }

  describe('pages', () => {
    it('renders the home page in the layout, then serves it from the cache', async () => {
      const html = await expectCached('/');
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('<title>Home · Trailhead Outfitters</title>');
      expect(html).toContain('href="/category/camp-kitchen">Camp Kitchen</a>');
      expect(html).toContain('Featured');
      expect(html).toContain('Ridgeline 2 Tent');
      expect(html).toContain('$289.00');
      expect(html.match(/class="card"/g)).toHaveLength(8);
    });

    it('renders a category page with paging and sorting; only page and sort split the key', async () => {
      const html = await expectCached('/category/backpacks');
      expect(html).toContain('<h1>Backpacks</h1>');
      expect(html).toContain('5 products');
      // CatalogSettings.ProductsPerPage = 4, sorted by name.
      expect(html.match(/class="card"/g)).toHaveLength(4);
      expect(html).toContain('Daytripper 22');
      expect(html).not.toContain('Trailblazer 45 Pack');

      const tracked = await http().get('/category/backpacks?utm_source=newsletter');
      expect(tracked.headers['x-cache']).toBe('HIT');
      expect(tracked.text).toBe(html);

      const page2 = await expectCached('/category/backpacks?page=2');
      expect(page2.match(/class="card"/g)).toHaveLength(1);
      expect(page2).toContain('Trailblazer 45 Pack');

      const byPrice = await expectCached('/category/backpacks?sort=price-desc');
      expect(byPrice.indexOf('Expedition 70')).toBeLessThan(byPrice.indexOf('Summit Bag 30'));
    });

    it('renders a product page with its SKU and category', async () => {
      const html = await expectCached('/product/granite-mid-gtx-boot');
      expect(html).toContain('<h1>Granite Mid GTX Boot</h1>');
      expect(html).toContain('<span class="sku">FW-3001</span>');
      expect(html).toContain('<p class="price">$219.00</p>');
      expect(html).toContain('href="/category/footwear">Footwear</a>');
      expect(html).toContain('action="/cart/11"');
      expect(html).toContain('action="/product/granite-mid-gtx-boot/reviews"');
      expect(csrfTokenOf(html)).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      expect(html).not.toContain('<!--oc:');
    });

    it('finds products by name; only q is part of the key', async () => {
      const html = await expectCached('/search?q=STOVE');
      expect(html).toContain('Results for “STOVE”');
      expect(html.match(/class="card"/g)).toHaveLength(1);
      expect(html).toContain('Titan Stove');
      const tracked = await http().get('/search?q=STOVE&utm_source=mail');
      expect(tracked.headers['x-cache']).toBe('HIT');
      // LIKE wildcards are taken literally.
      expect((await http().get('/search?q=%25')).text).toContain('Nothing matches');
      expect(await expectCached('/search')).not.toContain('class="card"');
    });

    it('renders the blog list and a blog post', async () => {
      const list = await expectCached('/blog');
      expect(list).toContain('<h1>Journal</h1>');
      expect(list.match(/<article>/g)).toHaveLength(5);
      // Newest first.
      expect(list.indexOf('A simple camp kitchen checklist')).toBeLessThan(
        list.indexOf('Choosing your first backpacking tent'),
      );

      const post = await expectCached('/blog/water-on-the-trail');
      expect(post).toContain('<h1>Water on the trail: filter, treat or boil?</h1>');
      expect(post).toContain('May 27, 2025');
    });

    it('does not cache a 404', async () => {
      for (let i = 0; i < 2; i++) {
        const res = await http().get('/product/no-such-thing');
        expect(res.status).toBe(404);
        expect(res.headers['x-cache']).toBe('MISS');
      }
    });
  });

  describe('currency', () => {
    it('keeps one entry per currency, with prices in that currency', async () => {
      const usd = await expectCached('/product/titan-stove');
      expect(usd).toContain('<p class="price">$69.00</p>');

      const eur = await expectCached('/product/titan-stove', 'currency=EUR');
      expect(eur).toContain('<p class="price">€63.48</p>');
      expect(eur).not.toBe(usd);

      const gbp = await expectCached('/product/titan-stove', 'currency=GBP');
      expect(gbp).toContain('<p class="price">£54.51</p>');

      // USD is still served from its own entry.
      const again = await http().get('/product/titan-stove');
      expect(again.headers['x-cache']).toBe('HIT');
      expect(withoutToken(again.text)).toBe(withoutToken(usd));
      // The header's currency selector is cached with each variant.
      expect(eur).toContain('<a href="/currency/EUR" rel="nofollow" class="active">EUR</a>');
      expect(usd).toContain('<a href="/currency/USD" rel="nofollow" class="active">USD</a>');

      const { body } = await http().get('/admin/cache');
      const keys = (body.entries as { path: string; key: string }[])
        .filter((e) => e.path === '/product/titan-stove')
        .map((e) => e.key.slice(e.key.lastIndexOf('|') + 1))
        .sort();
      expect(keys).toEqual(['currency=EUR', 'currency=GBP', 'currency=USD']);
    });

    it('shares the default entry for unknown currencies', async () => {
      const usd = await expectCached('/product/long-spork');
      const bogus = await http().get('/product/long-spork').set('Cookie', 'currency=XYZ');
      expect(bogus.headers['x-cache']).toBe('HIT');
      expect(withoutToken(bogus.text)).toBe(withoutToken(usd));
    });

    it('switches the currency with a cookie and goes back to the page', async () => {
      const res = await http()
        .get('/currency/EUR')
        .set('Referer', `http://${hostOf(app)}/product/titan-stove`);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/product/titan-stove');
      expect(res.headers['set-cookie']?.[0]).toMatch(/^currency=EUR;/);

      const elsewhere = await http().get('/currency/GBP').set('Referer', 'https://evil.example/');
      expect(elsewhere.headers.location).toBe('/');
      expect((await http().get('/currency/XYZ')).status).toBe(400);
    });
  });

  describe('admin', () => {
    it('evicts the pages of an edited product: the next request shows the change', async () => {
      const product = await productBySlug('ridgeline-2-tent');
      // Put back whatever happens: other tests show this product's name and price.
      restoreAfter.push(() =>
        app
          .get(DataSource)
          .getRepository(Product)
          .update(product.id, { name: product.name, price: product.price }),
      );
      const page = `/product/${product.slug}`;
      expect(await expectCached(page)).toContain('<h1>Ridgeline 2 Tent</h1>');
      await expectCached('/category/tents');
      await http().get('/category/backpacks');
      await http().get('/');
      const home = await http().get('/');
      expect(home.headers['x-cache']).toBe('HIT');

      const res = await http()
        .patch(`/admin/products/${product.id}`)
        .send({ name: 'Ridgeline 2 Tent (2026 edition)', price: 299 });
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBeUndefined();
      expect(res.body.product).toMatchObject({ id: product.id, price: 299 });
      // Nothing was evicted by hand: the TypeORM subscriber did it when `save` committed.

      const after = await http().get(page);
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.text).toContain('<h1>Ridgeline 2 Tent (2026 edition)</h1>');
      expect(after.text).toContain('$299.00');

      // The lists that showed the product were evicted too.
      for (const path of ['/category/tents', '/']) {
        const list = await http().get(path);
        expect(list.headers['x-cache']).toBe('MISS');
        expect(list.text).toContain('Ridgeline 2 Tent (2026 edition)');
      }
      // Pages that did not show it keep their entries.
      expect((await http().get('/category/backpacks')).headers['x-cache']).toBe('HIT');
    });

    it('rejects invalid product edits', async () => {
      expect((await http().patch('/admin/products/1').send({ price: 'free' })).status).toBe(400);
      expect((await http().patch('/admin/products/9999').send({ name: 'x' })).status).toBe(404);
    });

    it('keeps the pages of a product whose back-office cost price changed', async () => {
      const product = await productBySlug('approach-shoe-pro');
      const page = `/product/${product.slug}`;
      await expectCached(page);
      const res = await http().patch(`/admin/products/${product.id}`).send({ costPrice: 80 });
      expect(res.status).toBe(200);
      expect(res.body.product).toMatchObject({ id: product.id, costPrice: 80 });
      // CacheRulesService: no page shows the cost price, so that edit alone evicts nothing.
      expect((await http().get(page)).headers['x-cache']).toBe('HIT');
    });

    it('evicts the category page and every menu when a category is renamed', async () => {
      const tents = await categoryBySlug('tents');
      const cached = ['/category/tents', '/blog', '/blog/water-on-the-trail'];
      for (const path of cached) await http().get(path);
      for (const path of cached) expect((await http().get(path)).headers['x-cache']).toBe('HIT');

      const res = await http().patch(`/admin/categories/${tents.id}`).send({ name: 'Shelters' });
      try {
        expect(res.status).toBe(200);
        expect(res.body.category).toEqual({ id: tents.id, name: 'Shelters', slug: 'tents' });

        const category = await http().get('/category/tents');
        expect(category.headers['x-cache']).toBe('MISS');
        expect(category.text).toContain('<h1>Shelters</h1>');
        // The menu is a cacheable component: it announced the categories it showed, so pages
        // that only show a category in the menu were evicted as well.
        for (const path of cached) {
          const page = path === '/category/tents' ? category : await http().get(path);
          if (page !== category) expect(page.headers['x-cache']).toBe('MISS');
          expect(page.text).toContain('<a href="/category/tents">Shelters</a>');
          expect(page.text).not.toContain('>Tents</a>');
        }
      } finally {
        await http().patch(`/admin/categories/${tents.id}`).send({ name: 'Tents' });
      }
      expect((await http().get('/blog')).text).toContain('<a href="/category/tents">Tents</a>');
      expect((await http().patch('/admin/categories/1').send({ name: ' ' })).status).toBe(400);
      expect((await http().patch('/admin/categories/999').send({ name: 'x' })).status).toBe(404);
    });

    it('evicts the product pages when CatalogSettings.ShowProductSku changes', async () => {
      const setSku = (value: string) =>
        http().patch('/admin/settings/CatalogSettings.ShowProductSku').send({ value });
      const page = '/product/trail-runner-3';
      expect(await expectCached(page)).toContain('<span class="sku">FW-3002</span>');
      await expectCached('/category/footwear');

      // Saving the same value evicts nothing.
      expect((await setSku('true')).status).toBe(200);
      expect((await http().get(page)).headers['x-cache']).toBe('HIT');

      const res = await setSku('false');
      expect(res.status).toBe(200);
      expect(res.body.setting).toMatchObject({
        key: 'CatalogSettings.ShowProductSku',
        value: 'false',
      });
      const hidden = await http().get(page);
      expect(hidden.headers['x-cache']).toBe('MISS');
      expect(hidden.text).not.toContain('class="sku"');
      // The rule evicts the product pages only: category pages do not show SKUs.
      expect((await http().get('/category/footwear')).headers['x-cache']).toBe('HIT');

      await setSku('true');
      const shown = await http().get(page);
      expect(shown.headers['x-cache']).toBe('MISS');
      expect(shown.text).toContain('<span class="sku">FW-3002</span>');
      expect((await http().patch('/admin/settings/No.Such').send({ value: 'x' })).status).toBe(404);
    });

    it('evicts the category pages when CatalogSettings.ProductsPerPage changes', async () => {
      const setPageSize = (value: string) =>
        http().patch('/admin/settings/CatalogSettings.ProductsPerPage').send({ value });
      expect((await expectCached('/category/backpacks')).match(/class="card"/g)).toHaveLength(4);
      await setPageSize('10');
      try {
        const res = await http().get('/category/backpacks');
        expect(res.headers['x-cache']).toBe('MISS');
        expect(res.text.match(/class="card"/g)).toHaveLength(5);
      } finally {
        await setPageSize('4');
      }
    });

    it('evicts everything when a StoreSettings.* setting changes', async () => {
      const setName = (value: string) =>
        http().patch('/admin/settings/StoreSettings.Name').send({ value });
      await expectCached('/');
      await http().get('/blog');
      const cache = app.get(OutputCacheProvider);
      expect(await cache.count()).toBeGreaterThan(1);
      await setName('Basecamp Supply');
      try {
        expect(await cache.count()).toBe(0);
        const home = await http().get('/');
        expect(home.headers['x-cache']).toBe('MISS');
        expect(home.text).toContain('<title>Home · Basecamp Supply</title>');
      } finally {
        await setName('Trailhead Outfitters');
      }
      expect((await http().get('/')).text).toContain('<title>Home · Trailhead Outfitters</title>');
    });

    it('lists the cache and is never cached itself', async () => {
      await http().get('/blog');
      await http().get('/blog');
      for (let i = 0; i < 2; i++) {
        const res = await http().get('/admin/cache');
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBeUndefined();
        expect(res.body.count).toBeGreaterThan(0);
        expect(res.body.stats.hits).toBeGreaterThan(0);
        expect(res.body.entries).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ path: '/blog', routeId: 'Blog/Blog/list' }),
          ]),
        );
      }
      const cache = app.get(OutputCacheProvider);
      expect((await http().delete('/admin/cache')).body.evicted).toBeGreaterThan(0);
      expect(await cache.count()).toBe(0);
    });

    it('answers a purge the store refused with 503 saying it is queued, then makes it', async () => {
      await get('/blog');
      const cache = app.get(OutputCacheProvider);
      const store = app.get<OutputCacheStore>(OUTPUT_CACHE_STORE);
      // The store refuses to clear, as Redis does while it is down (a fault, not a mock of it).
      const clear = store.clear.bind(store);
      store.clear = () => Promise.reject(new Error('connection refused'));
      try {
        const res = await http().delete('/admin/cache');
        expect(res.status).toBe(503);
        expect(res.body.message).toBe(
          'The cache store is not answering, so the purge could not be made now: it failed ' +
            '(connection refused); the eviction is queued, made once the store answers: no need ' +
            'to send it again.',
        );
        expect(cache.pendingEvictions).toBe(1);
        expect(await cache.count()).toBe(1);
      } finally {
        store.clear = clear;
      }
      await cache.replayEvictions();
      expect(cache.pendingEvictions).toBe(0);
      expect(await cache.count()).toBe(0);
    });
  });

  describe('donut holes', () => {
    it('shows each visitor their own cart on the same cached page (MiniCart hole)', async () => {
      const page = '/product/summit-solo-bivy';
      const [bivy, spork] = await Promise.all([
        productBySlug('summit-solo-bivy'),
        productBySlug('long-spork'),
      ]);
      const cartCount = (html: string) => /class="cart-count">(\d+)</.exec(html)?.[1];

      const first = await get(page, `cart=${bivy.id},${bivy.id}`);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(cartCount(first.text)).toBe('2');

      const second = await get(page, `cart=${spork.id}`);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(cartCount(second.text)).toBe('1');
      const anonymous = await get(page);
      expect(anonymous.headers['x-cache']).toBe('HIT');
      expect(cartCount(anonymous.text)).toBe('0');
      // Apart from the holes, the very same page.
      const holes = (html: string) =>
        withoutToken(html).replace(/class="cart-count">\d+</, 'class="cart-count"><');
      expect(holes(second.text)).toBe(holes(first.text));

      // The stored page holds neither visitor's cart nor any token: only the static parts.
      const store = app.get<OutputCacheStore>(OUTPUT_CACHE_STORE);
      const [summary] = (await app.get(OutputCacheProvider).list({ take: 1000 })).filter(
        (e) => e.path === page,
      );
      const stored = (await store.get(summary.key))!.body.toString('utf8');
      expect(stored).not.toContain('cart-count');
      expect(stored).not.toContain('name="_csrf"');
      // The cacheable header components are part of it.
      expect(stored).toContain('<a href="/category/tents">Tents</a>');
      expect(stored).toContain('<form class="search" action="/search"');
      expect(stored).toContain('class="active">USD</a>');
    });

    it('shows each shopper their own name on the same cached page (Greeting hole)', async () => {
      const page = '/category/tents';
      // The name is set through the endpoint, as a shopper's form post would.
      const set = await http()
        .post('/account/name')
        .type('form')
        .send({ name: "  Zoë   <O'Hara>  " })
        .set('Accept', 'text/html')
        .set('Referer', `http://${hostOf(app)}${page}`);
      expect(set.status).toBe(303);
      expect(set.headers.location).toBe(page);
      const zoe = setCookie(set, 'shopper');
      expect(zoe).toBe("Zoë <O'Hara>");
      expect(set.headers['set-cookie']?.[0]).toContain('HttpOnly');
      const json = await http().post('/account/name').send({ name: 'Bram' });
      expect(json.status).toBe(200);
      expect(json.body).toEqual({ name: 'Bram' });
      const bram = setCookie(json, 'shopper');
      const name = (html: string) => /<span class="shopper-name">([^<]*)<\/span>/.exec(html)?.[1];

      const first = await get(page, `shopper=${encodeURIComponent(zoe!)}`);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(name(first.text)).toBe('Zoë &lt;O&#39;Hara&gt;');
      expect(first.text).not.toContain('<O');
      const second = await get(page, `shopper=${encodeURIComponent(bram!)}`);
      // Not a session cookie: the second shopper gets the page the first one's request stored.
      expect(second.headers['x-cache']).toBe('HIT');
      expect(name(second.text)).toBe('Bram');
      expect(second.text).not.toContain('Zo');
      const anonymous = await get(page);
      expect(anonymous.headers['x-cache']).toBe('HIT');
      expect(name(anonymous.text)).toBeUndefined();
      expect(anonymous.text).toContain(
        '<form class="greeting" method="post" action="/account/name">',
      );
      const holes = (html: string) =>
        withoutToken(html).replace(/<span class="greeting">.*?<\/span><\/span>/, '');
      expect(holes(second.text)).toBe(holes(first.text));

      // The stored page holds no name; a forged, overlong cookie is cut to 40 characters.
      const [summary] = (await app.get(OutputCacheProvider).list({ take: 1000 })).filter(
        (e) => e.path === page,
      );
      const stored = await app.get<OutputCacheStore>(OUTPUT_CACHE_STORE).get(summary.key);
      expect(stored!.body.toString('utf8')).not.toMatch(/Bram|Zo|shopper-name/);
      const long = await get(page, `shopper=${'x'.repeat(200)}`);
      expect(name(long.text)).toBe('x'.repeat(40));
    });

    it('refuses a shopper name over 40 characters, and clears it when empty', async () => {
      const long = await http()
        .post('/account/name')
        .send({ name: 'x'.repeat(41) });
      expect(long.status).toBe(400);
      expect(long.body.message).toBe('"name" may have at most 40 characters');
      expect(long.headers['set-cookie']).toBeUndefined();
      const cleared = await http().post('/account/name').send({ name: '' });
      expect(cleared.status).toBe(200);
      expect(cleared.headers['set-cookie']?.[0]).toMatch(/^shopper=;.*Expires=Thu, 01 Jan 1970/);
    });

    it('remembers recently viewed products in a cookie set by the hole, on hits too', async () => {
      const [stove, mug] = await Promise.all([
        productBySlug('titan-stove'),
        productBySlug('insulated-mug-350-ml'),
      ]);
      const page = `/product/${mug.slug}`;
      const first = await get(page);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(setCookie(first, 'recent')).toBe(String(mug.id));
      expect(first.text).not.toContain('Recently viewed');

      const second = await get(page, `recent=${stove.id}`);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(setCookie(second, 'recent')).toBe(`${mug.id},${stove.id}`);
      expect(second.text).toMatch(
        /<section class="recent"><h2>Recently viewed<\/h2><ul><li><a href="\/product\/titan-stove">Titan Stove<\/a><\/li><\/ul><\/section>/,
      );
      // Already first in the cookie: nothing to set.
      expect(setCookie(await get(page, `recent=${mug.id},${stove.id}`), 'recent')).toBeUndefined();

      // The home page lists them too, newest first; malformed ids are ignored.
      expect((await get('/')).text).not.toContain('Recently viewed');
      const home = await get('/', `recent=${mug.id},${stove.id},abc,99999`);
      expect(home.headers['x-cache']).toBe('HIT');
      expect(home.text).toContain(
        `<ul><li><a href="/product/${mug.slug}">Insulated Mug 350 ml</a></li><li><a href="/product/titan-stove">Titan Stove</a></li></ul>`,
      );
      expect(setCookie(home, 'recent')).toBeUndefined();
    });

    it('renders a fresh CSRF token on every response of a cached page, and checks posts', async () => {
      const page = '/product/nesting-cook-set';
      const first = await get(page);
      const second = await get(page);
      expect(first.headers['x-cache']).toBe('MISS');
      expect(second.headers['x-cache']).toBe('HIT');
      const [token1, token2] = [csrfTokenOf(first.text), csrfTokenOf(second.text)];
      expect(token1).not.toBe(token2);
      // Each token comes with its own cookie (set by the hole, so the page was still stored).
      expect(setCookie(first, 'x-csrf')).toBe(token1);
      expect(setCookie(second, 'x-csrf')).toBe(token2);
      // A visitor who holds a valid token cookie keeps that token.
      expect(csrfTokenOf((await get(page, `x-csrf=${token1}`)).text)).toBe(token1);

      const review = { author: 'Ann', rating: '4', body: 'Nests <perfectly>.' };
      const post = (cookie: string | undefined, form: Record<string, string>) => {
        const req = http().post(`${page}/reviews`).type('form').send(form);
        return cookie ? req.set('Cookie', cookie) : req;
      };
      // No token, no cookie, a token without its cookie, or another visitor's token: refused.
      expect((await post(undefined, review)).status).toBe(403);
      expect((await post(undefined, { ...review, _csrf: token1 })).status).toBe(403);
      expect((await post(`x-csrf=${token1}`, review)).status).toBe(403);
      expect((await post(`x-csrf=${token1}`, { ...review, _csrf: token2 })).status).toBe(403);
      expect((await get(page)).headers['x-cache']).toBe('HIT');

      expect(
        (await post(`x-csrf=${token1}`, { ...review, _csrf: token1, rating: '9' })).status,
      ).toBe(400);
      const ok = await post(`x-csrf=${token1}`, { ...review, _csrf: token1 });
      expect(ok.status).toBe(303);
      expect(ok.headers.location).toBe(`${page}#reviews`);

      // Saving the review evicted the product's page (a review maps to `Product:{id}`).
      const after = await get(page);
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.text).toContain('<strong class="author">Ann</strong>');
      expect(after.text).toContain('★★★★☆');
      expect(after.text).toContain('<p class="review-body">Nests &lt;perfectly&gt;.</p>');
      expect(after.text).not.toContain('No reviews yet.');
    });
  });

  describe('cart', () => {
    it('keeps the cart in a cookie', async () => {
      const stove = await productBySlug('titan-stove');
      const first = await http().post(`/cart/${stove.id}`);
      expect(first.status).toBe(201);
      expect(first.headers['x-cache']).toBeUndefined();
      const cookie = first.headers['set-cookie']?.[0] ?? '';
      expect(cookie).toMatch(new RegExp(`^cart=${stove.id};`));
      expect(cookie).toContain('HttpOnly');
      expect(first.body.count).toBe(1);

      const cart = cookie.split(';')[0];
      const second = await http().post(`/cart/${stove.id}`).set('Cookie', cart);
      expect(second.headers['set-cookie']?.[0]).toMatch(
        new RegExp(`^cart=${stove.id}%2C${stove.id};`),
      );

      const show = await http()
        .get('/cart')
        .set('Cookie', `cart=${stove.id},${stove.id}; currency=EUR`);
      expect(show.status).toBe(200);
      expect(show.headers['x-cache']).toBeUndefined();
      expect(show.headers['cache-control']).toBe('no-store');
      expect(show.body).toEqual({
        count: 2,
        currency: 'EUR',
        total: '€126.96',
        lines: [
          {
            productId: stove.id,
            name: 'Titan Stove',
            slug: 'titan-stove',
            quantity: 2,
            unitPrice: '€63.48',
            lineTotal: '€126.96',
          },
        ],
      });
    });

    it('redirects a plain form post back to the page', async () => {
      const res = await http()
        .post('/cart/1')
        .set('Accept', 'text/html')
        .set('Referer', `http://${hostOf(app)}/product/ridgeline-2-tent`);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/product/ridgeline-2-tent');
      expect(res.headers['set-cookie']?.[0]).toMatch(/^cart=1;/);
    });

    it('refuses unknown products', async () => {
      const res = await http().post('/cart/9999');
      expect(res.status).toBe(404);
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });

  it('bypasses the cache for signed-in visitors (sid cookie)', async () => {
    const anonymous = await expectCached('/product/camp-sandal');
    for (let i = 0; i < 2; i++) {
      const res = await http().get('/product/camp-sandal').set('Cookie', 'sid=abc123');
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBe('BYPASS');
      expect(withoutToken(res.text)).toBe(withoutToken(anonymous));
    }
  });
});

/**
 * Expiry with a 30-second TTL, passed by moving the clock (never by sleeping: a 1 s TTL broke
 * "MISS then HIT" on a busy machine): grace (an expired page is served STALE while one
 * background render refreshes it), stale-if-error (a failed render is answered with the kept
 * page) and the simulated database outage of `POST /admin/outage`.
 */
describe('sample shop: stale pages (30-second TTL, clock moved past it)', () => {
  const TTL_S = 30;
  /** More than the TTL, less than TTL + grace (30 s): entries stored before are expired after it. */
  const PAST_TTL_MS = 31_000;
  const clock = new TestClock();
  beforeEach(() => clock.install());
  afterEach(() => clock.restore());

  describe('with grace (30 s) and stale-if-error (600 s)', () => {
    let shop: Shop;
    beforeAll(async () => {
      shop = await startShop({ cacheTtl: TTL_S });
    });
    afterEach(() => shop.setOutage(false));
    afterAll(() => shop.app.close());

    it('toggles the outage from the back office, never cached', async () => {
      for (const down of [true, false]) {
        const res = await shop.http().post('/admin/outage').send({ down });
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBeUndefined();
        expect(res.body).toEqual({ down });
        expect((await shop.http().get('/admin/outage')).body).toEqual({ down });
      }
      expect((await shop.http().post('/admin/outage').send({ down: 'yes' })).status).toBe(400);
      expect((await shop.http().post('/admin/outage').send({})).status).toBe(400);
    });

    it('serves the old pages during an outage, 503 for pages it never stored, fresh ones after', async () => {
      const stove = await shop.productBySlug('titan-stove');
      const page = `/product/${stove.slug}`;
      const category = '/category/camp-kitchen';
      const oldPage = await expectMissThenHit(shop, page);
      expect(oldPage).toContain('<p class="price">$69.00</p>');
      const oldCategory = await expectMissThenHit(shop, category);

      // Changed behind the cache's back (no TypeORM listeners: nothing is evicted), so only a
      // new render shows it.
      await shop.setPriceQuietly(stove.id, 74);
      expect(withoutToken((await shop.get(page)).text)).toBe(withoutToken(oldPage));

      clock.advance(PAST_TTL_MS);
      await shop.setOutage(true);
      const before = shop.stats();
      const since = statsSince(shop);
      for (let i = 0; i < 3; i++) {
        // In its grace: STALE, while a background refresh (failing: 503) is attempted. A failed
        // refresh keeps the entry.
        const stale = await shop.get(page);
        expect(stale.status).toBe(200);
        expect(stale.headers['x-cache']).toBe('STALE');
        expect(stale.headers['content-type']).toMatch(/^text\/html/);
        expect(withoutToken(stale.text)).toBe(withoutToken(oldPage));
        expect(Number(stale.headers.age)).toBeGreaterThanOrEqual(PAST_TTL_MS / 1000);
        const staleCategory = await shop.get(category);
        expect(staleCategory.status).toBe(200);
        expect(staleCategory.headers['x-cache']).toBe('STALE');
        expect(staleCategory.text).toBe(oldCategory);
        // Both background refreshes failed (503: not stored) before the next round: each round
        // tries again, and a failed refresh keeps the entry.
        await until(
          () => since().notStored('server-error') === 2 * (i + 1),
          `round ${i + 1}'s two failed refreshes`,
        );
      }
      // Served in grace, not as a fallback of a failed render in the request itself.
      expect(shop.stats().stale - before.stale).toBe(6);
      expect(shop.stats().staleIfError).toBe(before.staleIfError);
      // Never stored: nothing to fall back on.
      const cold = await shop.get('/product/long-spork');
      expect(cold.status).toBe(503);
      expect(cold.headers['x-cache']).toBe('MISS');

      await shop.setOutage(false);
      // The first request may still be STALE (it triggers the refresh); then the fresh page.
      const fresh = await pollUntilHit(shop, page);
      expect(fresh.status).toBe(200);
      expect(fresh.text).toContain('<p class="price">$74.00</p>');
      // Rendered after the clock moved: younger than the expired copy (31 s and more).
      expect(Number(fresh.headers.age)).toBeLessThan(PAST_TTL_MS / 1000);
      expect((await pollUntilHit(shop, category)).status).toBe(200);
      // The page that answered 503 renders and is stored again.
      const spork = await shop.get('/product/long-spork');
      expect(spork.status).toBe(200);
      expect(spork.text).toContain('<h1>Long Spork</h1>');
      expect((await pollUntilHit(shop, '/product/long-spork')).status).toBe(200);
    });

    it('serves an expired page STALE once, refreshing it in the background', async () => {
      const shoe = await shop.productBySlug('trail-runner-3');
      const page = `/product/${shoe.slug}`;
      const oldPage = await expectMissThenHit(shop, page);
      expect(oldPage).toContain(`<p class="price">$${shoe.price.toFixed(2)}</p>`);
      await shop.setPriceQuietly(shoe.id, 123.45);

      clock.advance(PAST_TTL_MS);
      const stale = await shop.get(page);
      expect(stale.status).toBe(200);
      expect(stale.headers['x-cache']).toBe('STALE');
      expect(withoutToken(stale.text)).toBe(withoutToken(oldPage));

      const fresh = await pollUntilHit(shop, page);
      expect(fresh.text).toContain('<p class="price">$123.45</p>');
      expect(Number(fresh.headers.age)).toBeLessThan(PAST_TTL_MS / 1000);
    });
  });

  describe('without grace, stale-if-error only', () => {
    let shop: Shop;
    beforeAll(async () => {
      shop = await startShop({ cacheTtl: TTL_S, cacheGrace: 0 });
    });
    afterEach(() => shop.setOutage(false));
    afterAll(() => shop.app.close());

    it('answers a failed render with the kept page, and renders anew once the database is back', async () => {
      const stove = await shop.productBySlug('titan-stove');
      const page = `/product/${stove.slug}`;
      const oldPage = await expectMissThenHit(shop, page);
      await shop.setPriceQuietly(stove.id, 74);

      clock.advance(PAST_TTL_MS);
      await shop.setOutage(true);
      const before = shop.stats();
      for (let i = 0; i < 2; i++) {
        const stale = await shop.get(page);
        expect(stale.status).toBe(200);
        expect(stale.headers['x-cache']).toBe('STALE');
        expect(stale.headers['content-type']).toMatch(/^text\/html/);
        expect(withoutToken(stale.text)).toBe(withoutToken(oldPage));
        // The holes are still rendered for every response (a fresh CSRF token).
        expect(csrfTokenOf(stale.text)).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
      }
      // Each one rendered, failed, and was answered with the kept entry.
      expect(shop.stats().staleIfError - before.staleIfError).toBe(2);
      expect(shop.stats().stale).toBe(before.stale);
      expect((await shop.get('/product/long-spork')).status).toBe(503);

      await shop.setOutage(false);
      // No grace: the expired page renders in the request itself.
      const fresh = await shop.get(page);
      expect(fresh.status).toBe(200);
      expect(fresh.headers['x-cache']).toBe('MISS');
      expect(fresh.text).toContain('<p class="price">$74.00</p>');
      expect((await shop.get(page)).headers['x-cache']).toBe('HIT');
    });
  });
});

/** A sample shop listening on an ephemeral port of 127.0.0.1, with helpers for the tests. */
interface Shop {
  app: NestExpressApplication;
  http: () => ReturnType<typeof request>;
  get: (path: string) => request.Test;
  productBySlug: (slug: string) => Promise<Product>;
  /** Changes a price without TypeORM listeners: the output cache evicts nothing. */
  setPriceQuietly: (id: number, price: number) => Promise<void>;
  setOutage: (down: boolean) => Promise<void>;
  stats: () => OutputCacheStatsSnapshot;
}

async function startShop(options: SampleAppOptions): Promise<Shop> {
  const app = await createSampleApp({
    database: ':memory:',
    dbDelayMs: 0,
    logger: false,
    ...options,
  });
  // One address: the cache key holds the Host header, port included.
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer();
  const http = () => request(server);
  const products = () => app.get(DataSource).getRepository(Product);
  return {
    app,
    http,
    get: (path) => http().get(path),
    productBySlug: (slug) => products().findOneByOrFail({ slug }),
    setPriceQuietly: async (id, price) => {
      await products()
        .createQueryBuilder()
        .update()
        .set({ price })
        .where('id = :id', { id })
        .callListeners(false)
        .execute();
    },
    setOutage: async (down) => {
      const res = await http().post('/admin/outage').send({ down });
      expect(res.status).toBe(200);
    },
    stats: () => app.get(OutputCacheProvider).stats(),
  };
}

/** GETs a page twice: a MISS, then a HIT with the same page (but for the CSRF token). */
async function expectMissThenHit(shop: Shop, path: string): Promise<string> {
  const first = await shop.get(path);
  expect(first.status).toBe(200);
  expect(first.headers['x-cache']).toBe('MISS');
  const second = await shop.get(path);
  expect(second.headers['x-cache']).toBe('HIT');
  expect(withoutToken(second.text)).toBe(withoutToken(first.text));
  return first.text;
}

/** GETs a page until the cache answers HIT (a background refresh stored it). */
function pollUntilHit(shop: Shop, path: string) {
  return eventually(
    async () => shop.get(path),
    (res) => res.headers['x-cache'] === 'HIT',
    `a HIT on ${path}`,
  );
}

/** The CSRF token of the page's form (the built-in `AntiForgeryToken` hole). */
function csrfTokenOf(html: string): string {
  const match = /<input type="hidden" name="_csrf" value="([^"]*)">/.exec(html);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1];
}

/** The page with its CSRF token blanked out, to compare two responses of one cached page. */
function withoutToken(html: string): string {
  return html.replace(/(name="_csrf" value=")[^"]*"/g, '$1"');
}

/** The value of a cookie the response sets, or undefined. */
function setCookie(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const cookies = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  const cookie = cookies.find((c) => c.startsWith(`${name}=`));
  return cookie === undefined
    ? undefined
    : decodeURIComponent(cookie.split(';')[0].slice(name.length + 1));
}

/** `127.0.0.1:{port}`: what the app sees as its own host. */
function hostOf(app: NestExpressApplication): string {
  return `127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}
