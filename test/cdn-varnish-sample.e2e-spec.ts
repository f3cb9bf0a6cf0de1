import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import { resolveSampleAppOptions } from '../sample-app/sample-app.options.js';
import { dropPostgresSchema, POSTGRES_URL } from './helpers/databases.js';
import { freePort } from './helpers/redis.js';
import {
  buildSample,
  type SampleProcess,
  startSample,
  stopProcess,
} from './helpers/sample-process.js';
import { uniqueName } from './helpers/unique-name.js';
import { startVarnish, type VarnishProcess, varnishdBinary } from './helpers/varnish.js';
import { eventually } from './helpers/wait.js';

/** A response as these tests read it. */
interface Reply {
  status: number;
  body: string;
  headers: Headers;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The tags Varnish stored with a response (shown on request by the recipe), sorted. */
const tagsOf = (reply: Reply) => (reply.headers.get('surrogate-key') ?? '').split(' ').sort();

/** Whether Varnish answered from its cache: X-Varnish holds this request's id and the object's. */
function expectVarnishHit(reply: Reply): void {
  expect(reply.headers.get('x-varnish-cache')).toBe('HIT');
  expect(reply.headers.get('x-varnish')!.split(' ')).toHaveLength(2);
  expect(reply.headers.get('age')).toMatch(/^\d+$/);
}

/** Whether Varnish asked the shop: X-Varnish holds this request's id only. */
function expectVarnishMiss(reply: Reply): void {
  expect(reply.headers.get('x-varnish-cache')).toBe('MISS');
  expect(reply.headers.get('x-varnish')!.split(' ')).toHaveLength(1);
}

describe('Varnish in front of the sample shop (e2e: SAMPLE_CDN=varnish, the compiled sample, varnishd)', () => {
  const schema = uniqueName('oc_cdn_sample');
  let shop: SampleProcess | undefined;
  let varnish: VarnishProcess | undefined;

  /** A GET through Varnish, asking it to show the tags it stored (the recipe strips them). */
  const viaVarnish = (path: string) => get(varnish!.url + path, { 'x-show-surrogate-key': '1' });
  /** A GET straight to the shop. */
  const direct = (path: string) => get(shop!.url + path);

  beforeAll(async () => {
    varnishdBinary(); // fails first, with how to install it, when varnishd is missing
    buildSample();
    // Varnish's port first: the shop sends its bans there (VARNISH_URL).
    const varnishPort = await freePort();
    shop = await startSample({
      SAMPLE_CDN: 'varnish',
      VARNISH_URL: `http://127.0.0.1:${varnishPort}/`,
      // A schema of its own (created and seeded by the shop): the edits below touch nobody else.
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
    });
    varnish = await startVarnish({ backendPort: shop.port, port: varnishPort });
    // Seeding the new schema evicted pages, and their purges may still be on their way (retried
    // while Varnish was starting): one landing mid-test would empty Varnish. Purges reach Varnish
    // in order, so once a purge made now has landed, so have they: a response kept, then a purge
    // of everything at the shop, then a miss for that response.
    const marker = '/api/products/titan-stove?currency=GBP';
    await eventually(
      () => viaVarnish(marker),
      (r) => r.headers.get('x-varnish-cache') === 'HIT',
      'Varnish to keep a response of the shop',
    );
    expect((await fetch(`${shop.url}/admin/cache`, { method: 'DELETE' })).status).toBe(200);
    await eventually(
      () => viaVarnish(marker),
      (r) => r.headers.get('x-varnish-cache') === 'MISS',
      "the shop's purge of everything to reach Varnish",
    );
  }, 180_000);

  afterAll(async () => {
    await varnish?.stop();
    if (shop) await stopProcess(shop.child);
    await dropPostgresSchema(schema).catch(() => {});
  });

  it('keeps the JSON API in Varnish, and a product edit in the back office bans it there too', async () => {
    const path = '/api/products/titan-stove';
    const first = await viaVarnish(path);
    expect(first.status).toBe(200);
    expectVarnishMiss(first);
    const product = JSON.parse(first.body);
    expect(product).toMatchObject({ name: 'Titan Stove', price: { currency: 'USD' } });
    // What DisplayControl collected (the product, its category) and the route, as Varnish keeps it.
    expect(tagsOf(first)).toEqual(
      [
        `Category:${product.category.id}`,
        'Category:*',
        `Product:${product.id}`,
        'Product:*',
        'route:ProductApi/product',
      ].sort(),
    );
    // Varnish's own header is Varnish's business, not the client's.
    expect(first.headers.get('surrogate-control')).toBeNull();

    const second = await viaVarnish(path);
    expectVarnishHit(second);
    expect(second.body).toBe(first.body);

    // Other responses that show the product, and one that does not.
    const euro = `${path}?currency=EUR`;
    const list = `/api/categories/${product.category.slug}/products`;
    const other = '/api/products/trailblazer-45-pack';
    for (const url of [euro, list, other]) {
      expect((await viaVarnish(url)).status).toBe(200);
      expectVarnishHit(await viaVarnish(url));
    }
    expect(tagsOf(await viaVarnish(list))).toEqual(
      expect.arrayContaining([
        `Product:${product.id}`,
        'Product',
        'route:ProductApi/categoryProducts',
      ]),
    );
    const otherBefore = await viaVarnish(other);
    expect(JSON.parse(otherBefore.body).category.id).not.toBe(product.category.id);

    // The edit goes straight to the shop's back office, as an admin's browser or script would.
    const newPrice = product.price.amount + 11;
    const edit = await fetch(`${shop!.url}/admin/products/${product.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ price: newPrice }),
    });
    expect(edit.status).toBe(200);

    // Nobody asks Varnish for anything: the shop's eviction reaches it as a ban, and the next
    // request through Varnish is a miss there, with the new price.
    const fresh = await eventually(
      () => viaVarnish(path),
      (r) => JSON.parse(r.body).price.amount === newPrice,
      'Varnish to serve the edited product',
    );
    expectVarnishMiss(fresh);
    expectVarnishHit(await viaVarnish(path));
    // Every variant and list that showed it went too (one ban covers the tag wherever it is)...
    const freshEuro = await viaVarnish(euro);
    expectVarnishMiss(freshEuro);
    expect(JSON.parse(freshEuro.body).price.amount).toBe(Math.round(newPrice * 0.92 * 100) / 100);
    const freshList = await viaVarnish(list);
    expectVarnishMiss(freshList);
    const listed = JSON.parse(freshList.body).products.find(
      (p: { id: number }) => p.id === product.id,
    );
    expect(listed.price.amount).toBe(newPrice);
    // ...and only those: a product of another category stays in Varnish.
    const otherAfter = await viaVarnish(other);
    expectVarnishHit(otherAfter);
    expect(otherAfter.body).toBe(otherBefore.body);
  }, 60_000);

  it('never lets Varnish keep a product page: it has holes (recently viewed, CSRF field)', async () => {
    const path = '/product/granite-mid-gtx-boot';
    const first = await viaVarnish(path);
    expect(first.status).toBe(200);
    expect(first.body).toContain('Granite Mid GTX Boot');
    expect(first.headers.get('surrogate-key')).toBeNull();
    expectVarnishMiss(first);
    expectVarnishMiss(await viaVarnish(path));

    // At the shop: stored and served from its own cache, and marked for no shared cache on the
    // miss and on every hit.
    const miss = await direct(path);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('surrogate-control')).toBe('no-store');
    expect(miss.headers.get('surrogate-key')).toBeNull();
    const hit = await direct(path);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('surrogate-control')).toBe('no-store');
    expect(hit.headers.get('surrogate-key')).toBeNull();
  }, 30_000);
});

describe('the sample shop’s JSON API without a CDN (the default)', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createSampleApp({ database: ':memory:', dbDelayMs: 0, logger: false });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(() => app?.close());

  it('is cached by the shop, sends no CDN headers, and keys on ?currency, not the cookie', async () => {
    const first = await http().get('/api/products/titan-stove');
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.body).toMatchObject({
      name: 'Titan Stove',
      price: { currency: 'USD', formatted: expect.stringMatching(/^\$/) },
      category: { slug: expect.any(String) },
    });
    expect(first.headers['surrogate-key']).toBeUndefined();
    expect(first.headers['surrogate-control']).toBeUndefined();
    // The currency cookie the HTML pages vary by does not split the API's entries.
    const withCookie = await http().get('/api/products/titan-stove').set('Cookie', 'currency=GBP');
    expect(withCookie.headers['x-cache']).toBe('HIT');
    expect(withCookie.body.price.currency).toBe('USD');
    const gbp = await http().get('/api/products/titan-stove?currency=GBP');
    expect(gbp.headers['x-cache']).toBe('MISS');
    expect(gbp.body.price).toMatchObject({
      currency: 'GBP',
      formatted: expect.stringMatching(/^£/),
    });
  });

  it('answers 400 (not stored) for an unknown currency, sort or page, and 404 for an unknown slug', async () => {
    for (const path of [
      '/api/products/titan-stove?currency=XYZ',
      '/api/categories/tents/products?sort=cheapest',
      '/api/categories/tents/products?page=0',
    ]) {
      const res = await http().get(path);
      expect(res.status).toBe(400);
      expect(res.headers['x-cache']).not.toBe('HIT');
      expect((await http().get(path)).headers['x-cache']).not.toBe('HIT');
    }
    expect((await http().get('/api/products/no-such-thing')).status).toBe(404);
    expect((await http().get('/api/categories/no-such-thing/products')).status).toBe(404);
  });

  it('lists a category’s products, paged and sorted', async () => {
    const res = await http().get('/api/categories/tents/products?sort=price-asc');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ category: { slug: 'tents' }, page: 1, pageSize: 20 });
    const prices = res.body.products.map((p: { price: { amount: number } }) => p.price.amount);
    expect(prices.length).toBe(res.body.total);
    expect(prices).toEqual([...prices].sort((a: number, b: number) => a - b));
  });

  it('refuses a SAMPLE_CDN or VARNISH_URL it does not know at start-up', () => {
    expect(() => resolveSampleAppOptions({ cdn: 'fastly' as never })).toThrow(
      'SAMPLE_CDN must be off (the default) or varnish, got "fastly"',
    );
    expect(() => resolveSampleAppOptions({ cdn: 'varnish', varnishUrl: '127.0.0.1:6081' })).toThrow(
      /VARNISH_URL must be Varnish's http:\/\/ address/,
    );
    expect(resolveSampleAppOptions({ cdn: 'varnish' }).varnishUrl).toBe('http://127.0.0.1:6081/');
  });
});
