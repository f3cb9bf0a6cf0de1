import 'reflect-metadata';
import { Body, Controller, Get, Injectable, Param, ParseIntPipe, Patch } from '@nestjs/common';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import {
  Cacheable,
  CdnPurgeForwarder,
  type ComponentContext,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  VarnishBanPurger,
  ViewComponent,
  type ViewComponentRenderer,
} from '../lib/index.js';
import { ShopController } from './fixtures/shop.controller.js';
import { Product, shopEntities } from './fixtures/shop.entities.js';
import { databaseOptions } from './helpers/databases.js';
import { freePort } from './helpers/redis.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { startVarnish, type VarnishProcess, varnishdBinary } from './helpers/varnish.js';
import { eventually } from './helpers/wait.js';

/** The back office's product edit: an ordinary TypeORM save, which the cache observes. */
@Controller('admin')
class ProductAdminController {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  @Patch('products/:id')
  async edit(@Param('id', ParseIntPipe) id: number, @Body() body: { price: number }) {
    const products = this.db.getRepository(Product);
    const product = await products.findOneByOrFail({ id });
    product.price = body.price;
    await products.save(product);
    return { id, price: product.price };
  }
}

/** A hole: whom the page greets depends on the request. */
@ViewComponent('CdnGreeting')
@Injectable()
class GreetingComponent implements ViewComponentRenderer {
  render(_args: unknown, { req }: ComponentContext) {
    return `<em>hello ${String(req.headers['x-user'] ?? 'guest')}</em>`;
  }
}

@Controller('cdn')
class HoleController {
  @Cacheable()
  @Get('greeting')
  greeting() {
    return `<p>${placeComponent('CdnGreeting')}</p>`;
  }
}

describe('Varnish in front of the app (e2e, docs/varnish/output-cache.vcl)', () => {
  let t: TestApp;
  let db: DataSource;
  let varnish: VarnishProcess | undefined;
  let front: string;

  /** A GET through Varnish, with the tags shown (the recipe strips them otherwise). */
  const viaVarnish = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(front + path, { headers: { 'x-show-surrogate-key': '1', ...headers } });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };

  beforeAll(async () => {
    varnishdBinary(); // fails first, with how to install it, when varnishd is missing
    // Varnish's port first: the app's purger sends its bans there.
    const varnishPort = await freePort();
    t = await createTestApp({
      imports: [
        TypeOrmModule.forRoot(databaseOptions('sqlite', shopEntities)),
        OutputCacheModule.forRoot({
          cdn: {
            maxAge: 300,
            purger: new VarnishBanPurger({ url: `http://127.0.0.1:${varnishPort}/` }),
          },
        }),
      ],
      controllers: [ShopController, ProductAdminController, HoleController],
      providers: [GreetingComponent],
    });
    db = t.app.get<DataSource>(getDataSourceToken());
    const appPort = (t.app.getHttpServer().address() as AddressInfo).port;
    varnish = await startVarnish({ backendPort: appPort, port: varnishPort });
    front = varnish.url;
  }, 60_000);

  afterAll(async () => {
    await varnish?.stop();
    await t?.close();
  });

  beforeEach(async () => {
    await db.query('DELETE FROM inv_product');
    await db.query("DELETE FROM sqlite_sequence WHERE name = 'inv_product'").catch(() => {});
    await db.getRepository(Product).save([
      { name: 'Tent', price: 300 },
      { name: 'Stove', price: 50 },
    ]);
    // Both caches start empty: the app's, and Varnish's (through the purger, as any eviction).
    await t.app.get(OutputCacheProvider).invalidateAll();
    await flushPurges();
  });

  /** Waits until every purge made so far reached Varnish. */
  async function flushPurges(): Promise<void> {
    await t.app.get(CdnPurgeForwarder).flush();
  }

  it('serves a product page from Varnish, and a product edit in the app bans it there too', async () => {
    const first = await viaVarnish('/shop/products/1');
    expect(first.status).toBe(200);
    expect(first.body).toContain('<h1>Tent</h1><p>300</p>');
    expect(first.headers.get('x-varnish-cache')).toBe('MISS');
    // The tags DisplayControl collected, and the route's, as Varnish stored them.
    expect(first.headers.get('surrogate-key')!.split(' ').sort()).toEqual(
      ['Product:*', 'Product:1', 'route:Shop/product'].sort(),
    );
    // The CDN's own header is Varnish's business, not the browser's.
    expect(first.headers.get('surrogate-control')).toBeNull();

    const second = await viaVarnish('/shop/products/1');
    expect(second.headers.get('x-varnish-cache')).toBe('HIT');
    // X-Varnish holds this request's id and the stored object's: a Varnish hit.
    expect(second.headers.get('x-varnish')!.split(' ')).toHaveLength(2);
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(second.body).toBe(first.body);
    await viaVarnish('/shop/products/2');
    expect((await viaVarnish('/shop/products/2')).headers.get('x-varnish-cache')).toBe('HIT');

    // The edit goes to the app (Varnish passes non-GET requests anyway).
    const edit = await t.http().patch('/admin/products/1').send({ price: 350 });
    expect(edit.status).toBe(200);

    // The eviction reaches Varnish without anyone asking it to: the next request through
    // Varnish is a miss there, and shows the new price.
    const fresh = await eventually(
      () => viaVarnish('/shop/products/1'),
      (r) => r.body.includes('<p>350</p>'),
      'Varnish to serve the edited product',
    );
    expect(fresh.headers.get('x-varnish-cache')).toBe('MISS');
    expect((await viaVarnish('/shop/products/1')).headers.get('x-varnish-cache')).toBe('HIT');
    // Only the pages that showed product 1 went.
    const other = await viaVarnish('/shop/products/2');
    expect(other.headers.get('x-varnish-cache')).toBe('HIT');
    expect(other.body).toContain('<h1>Stove</h1><p>50</p>');
  });

  it('bans by route and by path prefix, from the app’s provider calls', async () => {
    const warm = async (path: string) => {
      await viaVarnish(path);
      expect((await viaVarnish(path)).headers.get('x-varnish-cache')).toBe('HIT');
    };
    await warm('/shop/products/1');
    await warm('/shop/products/2');
    const cache = t.app.get(OutputCacheProvider);

    await cache.invalidateByPrefix('/shop/products/2');
    await flushPurges();
    expect((await viaVarnish('/shop/products/2')).headers.get('x-varnish-cache')).toBe('MISS');
    expect((await viaVarnish('/shop/products/1')).headers.get('x-varnish-cache')).toBe('HIT');

    await warm('/shop/products/2');
    await cache.invalidateByRoute('Shop/product');
    await flushPurges();
    expect((await viaVarnish('/shop/products/1')).headers.get('x-varnish-cache')).toBe('MISS');
    expect((await viaVarnish('/shop/products/2')).headers.get('x-varnish-cache')).toBe('MISS');
  });

  it('never lets Varnish keep a page with a hole: each visitor gets their own', async () => {
    const alice = await viaVarnish('/cdn/greeting', { 'x-user': 'alice' });
    expect(alice.body).toContain('hello alice');
    expect(alice.headers.get('surrogate-key')).toBeNull();
    const bob = await viaVarnish('/cdn/greeting', { 'x-user': 'bob' });
    expect(bob.body).toContain('hello bob');
    expect(bob.headers.get('x-varnish-cache')).toBe('MISS');
    // At the app (its own host, so its own key): stored and served from its own cache, and
    // marked for no shared cache on the miss and on every hit.
    const miss = await t.http().get('/cdn/greeting').set('x-user', 'carol');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['surrogate-control']).toBe('no-store');
    const hit = await t.http().get('/cdn/greeting').set('x-user', 'dave');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain('hello dave');
    expect(hit.headers['surrogate-control']).toBe('no-store');
    expect(hit.headers['surrogate-key']).toBeUndefined();
  });
});
