import 'reflect-metadata';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { type DataSource, LessThan } from 'typeorm';
import {
  EntityTagRegistry,
  InvalidationObserver,
  OutputCacheModule,
  OutputCacheProvider,
  type EntityChangeEvent,
} from '../lib/index.js';
import { holdNextRender, ShopController, shopRenders } from './fixtures/shop.controller.js';
import {
  Category,
  Product,
  ProductCategory,
  Setting,
  shopEntities,
} from './fixtures/shop.entities.js';
import { databaseOptions, dropPostgresSchema, preparePostgresSchema } from './helpers/databases.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { uniqueName } from './helpers/unique-name.js';
import { until } from './helpers/wait.js';

/** What the app registers in onModuleInit, as the README tells. */
const seen: { event: string; kind: string; columns: readonly string[] }[] = [];
const settingEvents: string[] = [];

@Injectable()
class CacheRules implements OnModuleInit {
  constructor(
    private readonly observer: InvalidationObserver,
    private readonly tags: EntityTagRegistry,
  ) {}

  onModuleInit() {
    this.tags.register(ProductCategory, (pc) => [
      `Product:${pc.productId}`,
      `Category:${pc.categoryId}`,
    ]);
    this.observer.observeEntity(Product, (event: EntityChangeEvent<Product>) => {
      seen.push({ event: 'first', kind: event.kind, columns: event.changedColumns });
      // A view counter is shown on no page: such an update evicts nothing.
      const columns = event.changedColumns;
      if (event.kind === 'update' && columns.length > 0 && columns.every((c) => c === 'views')) {
        event.handled = true;
      }
    });
    this.observer.observeEntity(Product, (event) => {
      seen.push({ event: 'second', kind: event.kind, columns: event.changedColumns });
    });
    this.observer.observeSetting('Catalog.ShowSku', async ({ key, oldValue, newValue, cache }) => {
      settingEvents.push(`${key}:${oldValue}->${newValue}`);
      await cache.invalidateByRoute('Shop/settings');
    });
    this.observer.observeSetting('Theme.*');
  }
}

describe.each(['sqlite', 'postgres'] as const)('invalidation on %s (e2e)', (kind) => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  let db: DataSource;
  const get = (path: string) => t.http().get(path);
  /** A schema of this run's own on the shared PostgreSQL. */
  const schema = uniqueName('oc_invalidation');

  beforeAll(async () => {
    if (kind === 'postgres') await preparePostgresSchema(schema);
    t = await createTestApp({
      imports: [
        TypeOrmModule.forRoot(databaseOptions(kind, shopEntities, schema)),
        OutputCacheModule.forRoot({ settings: { entity: Setting } }),
      ],
      controllers: [ShopController],
      providers: [CacheRules],
    });
    cache = t.app.get(OutputCacheProvider);
    db = t.app.get<DataSource>(getDataSourceToken());
  });
  afterAll(async () => {
    await t?.close();
    if (kind === 'postgres') await dropPostgresSchema(schema);
  });

  beforeEach(async () => {
    await db.getRepository(ProductCategory).clear();
    await db.query(`DELETE FROM ${kind === 'postgres' ? `"${schema}".` : ''}inv_product`);
    await db.getRepository(Category).clear();
    await db.getRepository(Setting).clear();
    const products = await db.getRepository(Product).save([
      { name: 'Tent', price: 300 },
      { name: 'Stove', price: 50 },
      { name: 'Mug', price: 8 },
    ]);
    const [tents, kitchen] = await db
      .getRepository(Category)
      .save([{ name: 'Tents' }, { name: 'Kitchen' }]);
    await db.getRepository(ProductCategory).save([
      { productId: products[0].id, categoryId: tents.id },
      { productId: products[1].id, categoryId: kitchen.id },
      { productId: products[2].id, categoryId: kitchen.id },
    ]);
    await db.getRepository(Setting).save([
      { key: 'Catalog.ShowSku', value: 'true' },
      { key: 'Theme.Color', value: 'green' },
    ]);
    await cache.invalidateAll();
    shopRenders.clear();
    seen.length = 0;
    settingEvents.length = 0;
  });

  const ids = async () => {
    const [tent, stove, mug] = await db.getRepository(Product).find({ order: { id: 'ASC' } });
    const [tents, kitchen] = await db.getRepository(Category).find({ order: { id: 'ASC' } });
    return { tent, stove, mug, tents, kitchen };
  };
  const warm = async (...paths: string[]) => {
    for (const path of paths) {
      await get(path).expect(200);
      expect((await get(path)).headers['x-cache']).toBe('HIT');
    }
  };
  const xcache = async (path: string) => (await get(path)).headers['x-cache'];

  it('an update through save evicts exactly the pages that showed the entity', async () => {
    const { tent, stove, tents, kitchen } = await ids();
    await warm(`/shop/products/${tent.id}`, `/shop/products/${stove.id}`);
    await warm(`/shop/categories/${tents.id}`, `/shop/categories/${kitchen.id}`);
    tent.name = 'Tent XL';
    await db.getRepository(Product).save(tent);
    const page = await get(`/shop/products/${tent.id}`);
    expect(page.headers['x-cache']).toBe('MISS');
    expect(page.text).toContain('Tent XL');
    expect(await xcache(`/shop/products/${stove.id}`)).toBe('HIT');
    // The category page announced the tent through its ProductCategory row (a related entity).
    expect(await xcache(`/shop/categories/${tents.id}`)).toBe('MISS');
    expect(await xcache(`/shop/categories/${kitchen.id}`)).toBe('HIT');
    expect(seen.map((s) => s.event)).toEqual(['first', 'second']);
    expect(seen[0]).toMatchObject({ kind: 'update', columns: ['name'] });
  });

  it('an insert evicts list pages (type tag) but not other product pages', async () => {
    const { tent, tents } = await ids();
    await warm(`/shop/products/${tent.id}`, `/shop/categories/${tents.id}`);
    await db.getRepository(Product).save({ name: 'Lantern', price: 20 });
    expect(await xcache(`/shop/categories/${tents.id}`)).toBe('MISS');
    expect(await xcache(`/shop/products/${tent.id}`)).toBe('HIT');
  });

  it('a delete and a soft delete evict the page and the lists; recover does too', async () => {
    const { tent, stove, kitchen } = await ids();
    await warm(`/shop/products/${tent.id}`, `/shop/products/${stove.id}`);
    await warm(`/shop/categories/${kitchen.id}`);
    await db
      .getRepository(Product)
      .remove(await db.getRepository(Product).findOneByOrFail({ id: tent.id }));
    const gone = await get(`/shop/products/${tent.id}`);
    expect(gone.headers['x-cache']).toBe('MISS');
    expect(gone.text).toBe('<p>gone</p>');
    expect(await xcache(`/shop/categories/${kitchen.id}`)).toBe('MISS');

    await warm(`/shop/products/${stove.id}`, `/shop/categories/${kitchen.id}`);
    const loaded = await db.getRepository(Product).findOneByOrFail({ id: stove.id });
    await db.getRepository(Product).softRemove(loaded);
    expect((await get(`/shop/products/${stove.id}`)).text).toBe('<p>gone</p>');
    expect(await xcache(`/shop/categories/${kitchen.id}`)).toBe('MISS');
    await db.getRepository(Product).recover(loaded);
    expect((await get(`/shop/products/${stove.id}`)).text).toContain('Stove');
  });

  it('evicts after the commit, not before; a rollback evicts nothing', async () => {
    const { tent } = await ids();
    const path = `/shop/products/${tent.id}`;
    await warm(path);
    await db.transaction(async (manager) => {
      await manager.save(Product, { ...tent, name: 'Tent (tx)' });
      // Not committed yet: the page stays as it was.
      expect(await xcache(path)).toBe('HIT');
    });
    const after = await get(path);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.text).toContain('Tent (tx)');

    await warm(path);
    const before = await cache.count();
    await expect(
      db.transaction(async (manager) => {
        await manager.save(Product, { ...tent, name: 'Never' });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await cache.count()).toBe(before);
    const still = await get(path);
    expect(still.headers['x-cache']).toBe('HIT');
    expect(still.text).toContain('Tent (tx)');
  });

  it('never stores a render that began before a committed change (no stale write-back)', async () => {
    const { tent } = await ids();
    const path = `/shop/held/${tent.id}`;
    const since = statsSince(cache);
    const hold = holdNextRender();
    const stale = get(path).then((r) => r);
    await hold.reached; // the render has read the old row and is held open
    await db.transaction(async (manager) => {
      await manager.update(Product, { id: tent.id }, { name: 'Tent v2' });
    });
    hold.release();
    const held = await stale;
    expect(held.text).toContain('<h1>Tent</h1>'); // it answered with what it read...
    const next = await get(path);
    expect(next.headers['x-cache']).toBe('MISS'); // ...but was not stored
    expect(next.text).toContain('Tent v2');
    expect(since().notStored('evicted-during-render')).toBe(1);
    expect(since().stored).toBe(1); // only the render after the change
  });

  // Only where a second connection cannot see the uncommitted row: on SQLite (one shared
  // connection) the request reads the new name itself and the test would pass whatever the
  // eviction did.
  if (kind === 'postgres') {
    it('a request during an open transaction leaves no stale page after the commit', async () => {
      const { tent } = await ids();
      const path = `/shop/products/${tent.id}`;
      const since = statsSince(cache);
      await db.transaction(async (manager) => {
        await manager.save(Product, { ...tent, name: 'Tent (committed)' });
        // A concurrent request (another connection of the pool) renders what it can see: the
        // row before the change. It is stored, and served: an eviction made before the commit
        // would have come and gone, leaving this page for good.
        const during = await get(path).expect(200);
        expect(during.text).toContain('<h1>Tent</h1>');
        await until(() => since().stored === 1, 'the page rendered during the transaction');
        const hit = await get(path);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.text).toContain('<h1>Tent</h1>');
      });
      const after = await get(path);
      expect(after.headers['x-cache']).toBe('MISS'); // evicted by the commit
      expect(after.text).toContain('Tent (committed)');
    });
  }

  it('bulk updates and deletes, whose ids are unknown, evict the whole type', async () => {
    const { tent, stove, mug, kitchen } = await ids();
    await warm(`/shop/products/${tent.id}`, `/shop/products/${mug.id}`);
    await warm(`/shop/categories/${kitchen.id}`);
    await db.getRepository(Product).update({ price: LessThan(10) }, { price: 9 });
    expect(await xcache(`/shop/products/${tent.id}`)).toBe('MISS');
    const mugPage = await get(`/shop/products/${mug.id}`);
    expect(mugPage.text).toContain('<p>9</p>');
    expect(await xcache(`/shop/categories/${kitchen.id}`)).toBe('MISS');

    await warm(`/shop/products/${stove.id}`);
    await db
      .getRepository(Product)
      .createQueryBuilder()
      .delete()
      .where('id = :id', { id: stove.id })
      .execute();
    expect((await get(`/shop/products/${stove.id}`)).text).toBe('<p>gone</p>');
  });

  it('a related entity change evicts both sides, before and after', async () => {
    const { tent, tents, kitchen } = await ids();
    await warm(`/shop/categories/${tents.id}`, `/shop/categories/${kitchen.id}`);
    await warm(`/shop/products/${tent.id}`);
    const link = await db.getRepository(ProductCategory).findOneByOrFail({ productId: tent.id });
    link.position = 3;
    await db.getRepository(ProductCategory).save(link);
    expect(await xcache(`/shop/categories/${tents.id}`)).toBe('MISS');
    expect(await xcache(`/shop/products/${tent.id}`)).toBe('MISS');
    expect(await xcache(`/shop/categories/${kitchen.id}`)).toBe('HIT');
  });

  it('an observer can mark a change handled: later observers and the default do not run', async () => {
    const { tent } = await ids();
    await warm(`/shop/products/${tent.id}`);
    await db.getRepository(Product).save({ ...tent, views: 42 });
    expect(seen.map((s) => s.event)).toEqual(['first']);
    expect(await xcache(`/shop/products/${tent.id}`)).toBe('HIT');
  });

  it('settings: exact keys run their observer only on a real change; prefixes evict everything', async () => {
    const { tent } = await ids();
    await warm('/shop/settings', `/shop/products/${tent.id}`);
    const sku = await db.getRepository(Setting).findOneByOrFail({ key: 'Catalog.ShowSku' });
    await db.getRepository(Setting).save({ ...sku, value: 'true' }); // unchanged
    expect(settingEvents).toEqual([]);
    expect(await xcache('/shop/settings')).toBe('HIT');
    await db.getRepository(Setting).save({ ...sku, value: 'false' });
    expect(settingEvents).toEqual(['Catalog.ShowSku:true->false']);
    const page = await get('/shop/settings');
    expect(page.headers['x-cache']).toBe('MISS');
    expect(page.text).toContain('Catalog.ShowSku=false');
    expect(await xcache(`/shop/products/${tent.id}`)).toBe('HIT');

    const theme = await db.getRepository(Setting).findOneByOrFail({ key: 'Theme.Color' });
    await db.getRepository(Setting).save({ ...theme, value: 'blue' });
    expect(await cache.count()).toBe(0);
  });
});
