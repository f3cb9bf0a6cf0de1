import 'reflect-metadata';
import { socketRequest } from './attack-kit.js';
import type { AddressInfo } from 'node:net';
import { OutputCacheAdminModule, OutputCacheModule, OutputCacheProvider } from '../../lib/index.js';
import {
  ADMIN_TEST_TOKEN,
  AdminPagesController,
  TokenGuard,
} from '../fixtures/admin-pages.controller.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Raw request lines (so `<`, `"` etc. reach the server unencoded), and a body. */
const raw = (port: number, lines: string[], body = '') =>
  socketRequest(port, lines.join('\r\n'), body);

const AUTH = `admin=${ADMIN_TEST_TOKEN}`;

describe('attack: admin API and dashboard attacks (e2e)', () => {
  let t: TestApp;
  let port: number;
  let host: string;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          varyBy: { currency: (req) => req.headers['x-currency'] ?? 'USD' },
        }),
        OutputCacheAdminModule.forRoot({ guard: TokenGuard, maxTake: 200 }),
      ],
      controllers: [AdminPagesController],
    });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    host = `127.0.0.1:${port}`;
  });
  afterAll(() => t?.close());

  it('stored XSS: cached URL, tag and vary value are escaped on the dashboard; CSP forbids script', async () => {
    await t.app.get(OutputCacheProvider).invalidateAll();
    const payload = `<img src=x onerror=alert(1)>`;
    const varyPayload = `"><script>alert(2)</script><x y='`;
    // Unencoded query (raw bytes), and an encoded one.
    const a = await raw(port, [
      `GET /shop/search?q=<img/src=x/onerror=alert(1)> HTTP/1.1`,
      `Host: ${host}`,
    ]);
    expect([200, 400]).toContain(a.status);
    await t
      .http()
      .get('/shop/search')
      .query({ q: payload })
      .set('X-Currency', varyPayload)
      .expect(200);
    await t
      .http()
      .get(`/shop/products/${encodeURIComponent(`'"><svg onload=alert(3)>`)}`)
      .expect(200);
    const dash = await t.http().get('/admin/output-cache').set('Cookie', AUTH).expect(200);
    const html = dash.text;
    expect(html).not.toMatch(/<img[\s/]/i);
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/<svg onload/i);
    expect(html).not.toMatch(/<x y=/);
    expect(html).toContain('Search:&lt;img src=x onerror=alert(1)&gt;');
    const csp = String(dash.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src/);
    expect(dash.headers['x-content-type-options']).toBe('nosniff');
    // Filters reflected in the page are escaped too.
    const filtered = await t
      .http()
      .get('/admin/output-cache')
      .query({ tag: `"><script>alert(4)</script>`, prefix: `/"><b>`, route: `'><i>` })
      .set('Cookie', AUTH)
      .expect(200);
    expect(filtered.text).not.toContain('<script>alert(4)');
    expect(filtered.text).not.toContain('/"><b>');
    expect(filtered.text).not.toContain("'><i>");
  });

  it('JSON endpoints answer application/json (no HTML sniffing of stored strings)', async () => {
    const res = await t.http().get('/admin/output-cache/entries').set('Cookie', AUTH).expect(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  });

  const form = 'by=all';
  it.each([
    // Functions: the app's host and port are known only once it listens (beforeAll).
    ['cross-site Origin', () => [`Origin: http://evil.example`]],
    ['Origin null', () => ['Origin: null']],
    ['no Origin, no Sec-Fetch-Site', () => []],
    ['Sec-Fetch-Site cross-site', () => ['Sec-Fetch-Site: cross-site']],
    ['Sec-Fetch-Site same-site', () => ['Sec-Fetch-Site: same-site']],
    ['Origin with our host as userinfo', () => [`Origin: http://${host}@evil.example`]],
    ['Origin of a sibling port', () => [`Origin: http://127.0.0.1:${port + 1}`]],
  ])('CSRF: dashboard form purge with %s is refused', async (_n, headers) => {
    await t.http().get('/shop/products/1').expect(200);
    const r = await raw(
      port,
      [
        'POST /admin/output-cache/dashboard/purge HTTP/1.1',
        `Host: ${host}`,
        `Cookie: ${AUTH}`,
        'Content-Type: application/x-www-form-urlencoded',
        ...headers(),
      ],
      form,
    );
    expect(r.status).toBe(403);
  });

  it.each([
    ['text/plain', '{"all":true}'],
    ['text/plain; charset=application/json', '{"all":true}'],
    ['application/x-www-form-urlencoded', 'all=true'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="all"\r\n\r\ntrue\r\n--x--',
    ],
  ])(
    'CSRF: JSON purge endpoint with simple content type %s from another site is refused',
    async (type, body) => {
      const r = await raw(
        port,
        [
          'POST /admin/output-cache/purge HTTP/1.1',
          `Host: ${host}`,
          `Cookie: ${AUTH}`,
          `Content-Type: ${type}`,
          'Origin: http://evil.example',
        ],
        body,
      );
      expect([403, 415]).toContain(r.status);
      // Without Origin (an old browser / no-referrer form): still not a purge.
      const r2 = await raw(
        port,
        [
          'POST /admin/output-cache/purge HTTP/1.1',
          `Host: ${host}`,
          `Cookie: ${AUTH}`,
          `Content-Type: ${type}`,
        ],
        body,
      );
      expect([403, 415]).toContain(r2.status);
    },
  );

  it('the purge redirect stays on the dashboard (no open redirect through back or the path)', async () => {
    for (const back of [
      '//evil.example',
      '?x=1\r\nSet-Cookie: a=b',
      'https://evil.example',
      '?a=1#x',
    ]) {
      const res = await t
        .http()
        .post('/admin/output-cache/dashboard/purge')
        .set('Cookie', AUTH)
        .set('Origin', `http://${host}`)
        .type('form')
        .send({ by: 'all', back });
      expect(res.status).toBe(400);
    }
    const ok = await t
      .http()
      .post('/admin/output-cache/dashboard/purge/')
      .set('Cookie', AUTH)
      .set('Origin', `http://${host}`)
      .type('form')
      .send({ by: 'all', back: '?tag=a' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toMatch(/^\/admin\/output-cache\?tag=a&purged=/);
  });

  it.each([
    ['take=100000'],
    ['take=0'],
    ['take=-1'],
    ['take=1e3'],
    ['take=1&take=2'],
    ['take[]=1'],
    ['skip=99999999999'],
    ['prefix=..%2F'],
    ['tag[$ne]=x'],
    ['route[]=a'],
    ['unknown=1'],
  ])('paging and filters: %s is refused with 400', async (q) => {
    await t.http().get(`/admin/output-cache/entries?${q}`).set('Cookie', AUTH).expect(400);
    await t.http().get(`/admin/output-cache?${q}`).set('Cookie', AUTH).expect(400);
  });

  it('without the guard credentials every endpoint is refused', async () => {
    for (const path of ['', '/entries', '/entry?key=x', '/stats', '/timeline', '/health']) {
      await t.http().get(`/admin/output-cache${path}`).expect(403);
    }
    await t.http().post('/admin/output-cache/purge').send({ all: true }).expect(403);
  });
});
