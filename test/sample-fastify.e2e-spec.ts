import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import { Product } from '../sample-app/entities/product.entity.js';

/**
 * The sample shop on Fastify (`SAMPLE_PLATFORM=fastify`, here the `platform` option): its
 * product page is rendered by `@fastify/view`, stored, then served as a hit with the MiniCart
 * hole filled for each visitor's own `cart` cookie (read through `@fastify/cookie`).
 */
describe('sample shop on Fastify (e2e)', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;

  beforeAll(async () => {
    app = await createSampleApp({
      database: ':memory:',
      dbDelayMs: 0,
      logger: false,
      platform: 'fastify',
    });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(() => app?.close());

  it('runs on Fastify', () => {
    expect((app.getHttpAdapter() as { getType(): string }).getType()).toBe('fastify');
  });

  it('renders a product page (MISS), then serves it as a HIT with the MiniCart hole filled', async () => {
    const page = '/product/summit-solo-bivy';
    const products = app.get(DataSource).getRepository(Product);
    const [bivy, spork] = await Promise.all([
      products.findOneByOrFail({ slug: 'summit-solo-bivy' }),
      products.findOneByOrFail({ slug: 'long-spork' }),
    ]);
    const cartCount = (html: string) => /class="cart-count">(\d+)</.exec(html)?.[1];

    const miss = await http().get(page).set('Cookie', `cart=${bivy.id},${bivy.id}`);
    expect(miss.status).toBe(200);
    expect(miss.headers['content-type']).toMatch(/^text\/html/);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.text).toContain('Summit Solo Bivy');
    expect(miss.text).toContain('</html>'); // the layout around the view
    expect(cartCount(miss.text)).toBe('2');

    const hit = await http().get(page).set('Cookie', `cart=${spork.id}`);
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['age']).toMatch(/^\d+$/);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(cartCount(hit.text)).toBe('1');

    const anonymous = await http().get(page);
    expect(anonymous.headers['x-cache']).toBe('HIT');
    expect(cartCount(anonymous.text)).toBe('0');
  });
});
