import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { SAMPLE_ADMIN_TOKEN, resolveAdminToken } from '../sample-app/admin/admin-token.js';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import { testPlatform } from './helpers/test-app.js';

const TOKEN = 'sample-admin-token-for-tests';

describe('sample shop: the cache dashboard behind the demo token guard (e2e)', () => {
  let app: NestExpressApplication;
  let http: () => ReturnType<typeof request>;
  const saved = process.env.ADMIN_TOKEN;

  beforeAll(async () => {
    process.env.ADMIN_TOKEN = TOKEN;
    app = await createSampleApp({
      database: ':memory:',
      dbDelayMs: 0,
      logger: false,
      platform: testPlatform,
    });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer();
    http = () => request(server);
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.ADMIN_TOKEN;
    else process.env.ADMIN_TOKEN = saved;
    await app.close();
  });

  it('takes the token from ADMIN_TOKEN, else makes a random one', () => {
    expect(app.get(SAMPLE_ADMIN_TOKEN, { strict: false })).toBe(TOKEN);
    const a = resolveAdminToken({});
    const b = resolveAdminToken({});
    expect(a.generated).toBe(true);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a.token).not.toBe(b.token);
  });

  it('answers 401 without the token, saying how to get in', async () => {
    const res = await http().get('/admin/output-cache').expect(401);
    expect(res.body.message).toMatch(/login\?token=/);
    await http().get('/admin/output-cache/entries').set('Authorization', 'Bearer nope').expect(401);
    await http().post('/admin/output-cache/purge').send({ all: true }).expect(401);
  });

  it('lists the shop pages and purges them with the bearer token', async () => {
    await http().get('/').expect(200);
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const { body } = await http().get('/admin/output-cache/entries?prefix=/').set(auth).expect(200);
    expect(body.items.map((e: { path: string }) => e.path)).toContain('/');
    const home = body.items.find((e: { path: string }) => e.path === '/');
    expect(home.vary).toHaveProperty('currency');
    const purged = await http()
      .post('/admin/output-cache/purge')
      .set(auth)
      .send({ key: home.key })
      .expect(200);
    expect(purged.body.purged).toBe(1);
    // The old counters endpoint still answers.
    expect((await http().get('/admin/cache').expect(200)).body).toHaveProperty('count');
  });

  it('lets a browser in through /login?token=, with an HttpOnly, SameSite=Strict cookie', async () => {
    await http().get('/admin/output-cache/login?token=wrong').expect(401);
    const login = await http().get(`/admin/output-cache/login?token=${TOKEN}`).expect(303);
    expect(login.headers.location).toBe('/admin/output-cache');
    const cookie = login.headers['set-cookie'][0];
    expect(cookie).toMatch(/^oc_admin=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/admin\/output-cache/);
    const page = await http()
      .get('/admin/output-cache')
      .set('Cookie', cookie.split(';')[0])
      .expect(200);
    expect(page.text).toContain('<h1>Output cache</h1>');
  });
});
