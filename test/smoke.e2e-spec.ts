import 'reflect-metadata';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cacheable, OutputCacheModule } from '../lib/index.js';

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
  let app: INestApplication;
  beforeAll(async () => {
    const ref = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = ref.createNestApplication();
    await app.listen(0, '127.0.0.1');
  });
  afterAll(() => app.close());

  it('caches', async () => {
    const a = await request(app.getHttpServer()).get('/page');
    const b = await request(app.getHttpServer()).get('/page');
    expect(a.headers['x-cache']).toBe('MISS');
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.text).toBe(a.text);
    expect(renders).toBe(1);
  });
});
