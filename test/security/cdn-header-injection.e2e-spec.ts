import 'reflect-metadata';
import { Controller, Get, Param } from '@nestjs/common';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Cacheable,
  CdnTagEncoder,
  DisplayControl,
  FastlyPurger,
  CloudflarePurger,
  OutputCacheModule,
  OutputCacheProvider,
  VarnishBanPurger,
  type CdnPurger,
} from '../../lib/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';

/** Tags made of the URL (entity ids a request chooses): CR/LF, spaces, commas, unicode. */
@Controller('cdn')
class TagController {
  constructor(private readonly display: DisplayControl) {}
  @Cacheable()
  @Get('p/:id')
  page(@Param('id') id: string) {
    this.display.announceTags(`Product:${id}`, 'Plain:1');
    return `<p>${id.length}</p>`;
  }
}

const received: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
let api: Server;
let apiUrl = '';

async function appWith(tagsHeader: string, purger: CdnPurger): Promise<TestApp> {
  return createTestApp({
    imports: [OutputCacheModule.forRoot({ cdn: { tagsHeader, purger, maxAge: 60 } })],
    controllers: [TagController],
  });
}

const IDS = ['a b', 'x,y', 'cr\r\nX-Evil: 1', 'tab\there', 'ünï', 'semi;colon', 'q"uote'];

describe('attack: CDN tag headers and purges (e2e)', () => {
  beforeAll(async () => {
    api = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url!, headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"success":true}');
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => api.close(() => r())));

  for (const [header, sep] of [
    ['Surrogate-Key', ' '],
    ['Cache-Tag', ','],
  ] as const) {
    it(`${header}: hostile ids never split or inject, and the purge reaches the page's form of the tag`, async () => {
      const purger =
        header === 'Cache-Tag'
          ? new CloudflarePurger({ zoneId: 'z', token: 't', baseUrl: apiUrl })
          : new FastlyPurger({ serviceId: 's', token: 't', baseUrl: apiUrl });
      const t = await appWith(header, purger);
      try {
        for (const id of IDS) {
          received.length = 0;
          const res = await t.http().get(`/cdn/p/${encodeURIComponent(id)}`);
          expect(res.status).toBe(200);
          expect(res.headers['x-evil']).toBeUndefined();
          const value = res.headers[header.toLowerCase()] as string | undefined;
          expect(value).toBeDefined();
          expect(value).not.toMatch(/[\r\n]/);
          const parts = value!.split(sep);
          expect(parts).toHaveLength(3); // route tag, Product:<id> and Plain:1, never more
          const tag = `Product:${id}`;
          const sent = parts.find((p) => p !== 'Plain:1' && !p.startsWith('route:'))!;
          expect([tag, CdnTagEncoder.hash(tag)]).toContain(sent);
          // Purging the tag reaches the CDN in the form the page carries.
          await t.app.get(OutputCacheProvider).invalidateByTag(tag);
          await until(() => received.length > 0, 'the purge to reach the CDN');
          const purged =
            header === 'Cache-Tag'
              ? (JSON.parse(received[0]!.body) as { tags: string[] }).tags
              : String(received[0]!.headers['surrogate-key']).split(' ');
          expect(purged).toContain(sent);
          expect(purged).not.toContain('Plain:1');
        }
      } finally {
        await t.close();
      }
    });
  }

  it('Varnish ban regex: whole tags only, metacharacters and VCL quotes escaped', () => {
    const tags = ['a|b', 'c.*', 'd"e', 'f)g(', 'h\\'];
    const re = new RegExp(VarnishBanPurger.tagsRegex(tags));
    expect(re.test('a')).toBe(false);
    expect(re.test('b')).toBe(false);
    expect(re.test('cxyz')).toBe(false);
    for (const tag of tags) expect(re.test(`x ${tag} y`)).toBe(true);
    expect(VarnishBanPurger.tagsRegex(tags)).not.toMatch(/(^|[^\\])"/);
  });
});
