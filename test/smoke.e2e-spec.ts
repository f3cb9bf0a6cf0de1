import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { Cacheable, OutputCacheModule } from '../lib/index.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

let renders = 0;
@Controller()
class PageController {
  @Cacheable()
  @Get('page')
  page() {
    renders++;
    return `<p>page ${renders}</p>`;
  }
}

@Module({ imports: [OutputCacheModule.forRoot({})], controllers: [PageController] })
class AppModule {}

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [AppModule] });
  });
  afterAll(() => t.close());

  it('caches', async () => {
    const a = await t.http().get('/page');
    const b = await t.http().get('/page');
    expect(a.headers['x-cache']).toBe('MISS');
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.text).toBe(a.text);
    expect(renders).toBe(1);
  });
});
