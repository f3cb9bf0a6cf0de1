import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { OutputCacheProvider } from '../lib/index.js';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import { Product } from '../sample-app/entities/product.entity.js';

describe('sample shop (e2e)', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createSampleApp({ database: ':memory:', dbDelayMs: 0, logger: false });
    // Listen on one address: the cache key holds the Host header, port included.
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(() => app.close());

  const productBySlug = (slug: string) =>
    app.get(DataSource).getRepository(Product).findOneByOrFail({ slug });

  const get = (path: string, cookie?: string) => {
    const req = http().get(path);
    return cookie ? req.set('Cookie', cookie) : req;
  };

  /** GETs a page twice: a MISS that renders, then a HIT with the very same body. */
  async function expectCached(path: string, cookie?: string) {
    const first = await get(path, cookie);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/html/);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await get(path, cookie);
    expect(second.status).toBe(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.text).toBe(first.text);
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
      expect(again.text).toBe(usd);

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
      expect(bogus.text).toBe(usd);
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
      const page = `/product/${product.slug}`;
      expect(await expectCached(page)).toContain('<h1>Ridgeline 2 Tent</h1>');
      await expectCached('/category/tents');
      const home = await http().get('/');
      expect(home.headers['x-cache']).toBe('HIT');

      const res = await http()
        .patch(`/admin/products/${product.id}`)
        .send({ name: 'Ridgeline 2 Tent (2026 edition)', price: 299 });
      expect(res.status).toBe(200);
      expect(res.headers['x-cache']).toBeUndefined();
      expect(res.body.product).toMatchObject({ id: product.id, price: 299 });
      expect(res.body.evicted).toBeGreaterThanOrEqual(3);

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

    it('evicts the pages that read an edited setting', async () => {
      const page = '/product/trail-runner-3';
      expect(await expectCached(page)).toContain('class="sku"');
      const res = await http()
        .patch('/admin/settings/CatalogSettings.ShowProductSku')
        .send({ value: 'false' });
      expect(res.status).toBe(200);
      const after = await http().get(page);
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.text).not.toContain('class="sku"');
      await http().patch('/admin/settings/CatalogSettings.ShowProductSku').send({ value: 'true' });
    });

    it('lists the cache and is never cached itself', async () => {
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
      expect(res.text).toBe(anonymous);
    }
  });
});

/** `127.0.0.1:{port}`: what the app sees as its own host. */
function hostOf(app: NestExpressApplication): string {
  return `127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}
