import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import { socketRequest } from './attack-kit.js';
import type { AddressInfo } from 'node:net';
import { Cacheable, OutputCacheModule, OutputCacheProvider } from '../../lib/index.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Attacks: requests for which the fast lane might answer unlike the ordinary path. */
const runs = { page: 0, echo: 0 };

function controllerOf(fastLane: boolean) {
  @Controller('fl')
  class FlController {
    @Cacheable({ fastLane, varyBy: ['currency'] })
    @Get('page')
    page() {
      runs.page++;
      return `<p>page run ${runs.page}</p>`;
    }

    @Cacheable({ fastLane })
    @Get('echo')
    echo(@Query('a') a: unknown) {
      runs.echo++;
      return `<p>a=${JSON.stringify(a)}</p>`;
    }
  }
  return FlController;
}

interface Side {
  t: TestApp;
  port: number;
  arrivals: () => number;
}

async function appOf(fastLane: boolean, trustProxy?: boolean): Promise<Side> {
  let arrivals = 0;
  const t = await createTestApp(
    {
      imports: [
        OutputCacheModule.forRoot({
          varyBy: { currency: (req) => String(req.headers['x-currency'] ?? 'USD') },
          sessionCookie: ['sid'],
        }),
      ],
      controllers: [controllerOf(fastLane)],
    },
    (app) =>
      app.use((_req: unknown, _res: unknown, next: () => void) => {
        arrivals++;
        next();
      }),
    trustProxy === undefined ? {} : { trustProxy },
  );
  const port = (t.app.getHttpServer().address() as AddressInfo).port;
  return { t, port, arrivals: () => arrivals };
}

/** Sends exactly these request lines (CRLF-joined) and reads the whole answer. */
async function raw(port: number, lines: string[]) {
  const { status, headers, text } = await socketRequest(port, lines.join('\r\n'));
  return { status, headers, body: text };
}

/** A request line and headers, with the app's own Host unless `host` is given (null: none). */
function req(
  side: Side,
  target: string,
  extra: string[] = [],
  method = 'GET',
  host?: string | null,
) {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (host !== null) lines.push(`Host: ${host ?? `127.0.0.1:${side.port}`}`);
  return raw(side.port, [...lines, ...extra]);
}

describe('attack: fast lane vs ordinary path (e2e)', () => {
  let fast: Side;
  let ordinary: Side;

  beforeAll(async () => {
    fast = await appOf(true);
    ordinary = await appOf(false);
  });
  afterAll(async () => {
    await fast?.t.close();
    await ordinary?.t.close();
  });
  beforeEach(async () => {
    for (const s of [fast, ordinary]) await s.t.app.get(OutputCacheProvider).invalidateAll();
  });

  /** Primes `target` on both apps (miss, then hit), then sends the attack to both. */
  async function both(
    prime: () => [string, string[]],
    attack: [string, string[], string?, (string | null)?],
  ) {
    type Answer = Awaited<ReturnType<typeof raw>>;
    const out: { fast: Answer; ordinary: Answer; fastArrived: number } = {} as never;
    for (const side of [fast, ordinary]) {
      const [target, headers] = prime();
      await req(side, target, headers);
      const hit = await req(side, target, headers);
      expect(hit.headers['x-cache']).toBe('HIT');
    }
    const before = fast.arrivals();
    out.fast = await req(fast, attack[0], attack[1], attack[2], attack[3]);
    out.fastArrived = fast.arrivals() - before;
    out.ordinary = await req(ordinary, attack[0], attack[1], attack[2], attack[3]);
    return out;
  }

  const signedIn: [string, string[]][] = [
    ['session cookie after another', ['Cookie: theme=dark; sid=abc']],
    ['empty session cookie', ['Cookie: sid=']],
    ['session cookie in a second Cookie header', ['Cookie: theme=dark', 'Cookie: sid=abc']],
    ['session cookie with spaces', ['Cookie: theme=dark ;  sid = abc']],
    ['Authorization (Basic)', ['Authorization: Basic Zm9vOmJhcg==']],
    ['empty Authorization', ['Authorization:']],
  ];
  it.each(signedIn)(
    'a signed-in request (%s) never gets the cached page on the fast lane',
    async (_n, h) => {
      const r = await both(() => ['/fl/page', []], ['/fl/page', h]);
      expect(r.fast.headers['x-cache']).toBe(r.ordinary.headers['x-cache']);
      expect(r.fast.headers['x-cache']).toBe('BYPASS');
      expect(r.fastArrived).toBe(1);
    },
  );

  it('HEAD: same status and headers as the ordinary path, no body', async () => {
    const r = await both(() => ['/fl/page', []], ['/fl/page', [], 'HEAD']);
    expect(r.fast.status).toBe(r.ordinary.status);
    expect(r.fast.headers['x-cache']).toBe(r.ordinary.headers['x-cache']);
    expect(r.fast.body).toBe('');
  });

  it.each([
    ['Cache-Control: no-cache'],
    ['Pragma: no-cache'],
    ['Cache-Control: max-age=0'],
    ['Range: bytes=0-3'],
    ['If-Range: "x"'],
  ])('%s: fast lane answers as the ordinary path does', async (h) => {
    const r = await both(() => ['/fl/page', []], ['/fl/page', [h]]);
    expect([r.fast.status, r.fast.headers['x-cache']]).toEqual([
      r.ordinary.status,
      r.ordinary.headers['x-cache'],
    ]);
  });

  it.each([
    ['X-HTTP-Method-Override: DELETE', '/fl/page'],
    ['X-Method-Override: POST', '/fl/page'],
    ['Content-Length: 0', '/fl/page?_method=DELETE'],
    ['Content-Length: 0', '/fl/page?%5Fmethod=DELETE'],
    ['Transfer-Encoding: chunked', '/fl/page'],
  ])('method override / body (%s %s) bypasses on the fast lane', async (h, target) => {
    const prime = () => [target, []] as [string, string[]];
    // A target with _method is a bypass from the start: prime the plain page instead.
    const p = target.includes('method') ? () => ['/fl/page', []] as [string, string[]] : prime;
    const extra = h.startsWith('Transfer-Encoding') ? [h] : [h];
    const before = fast.arrivals();
    await p();
    for (const side of [fast, ordinary]) {
      await req(side, '/fl/page', []);
      await req(side, '/fl/page', []);
    }
    const f = await raw(fast.port, [
      `GET ${target} HTTP/1.1`,
      `Host: 127.0.0.1:${fast.port}`,
      ...extra,
    ]);
    expect(f.headers['x-cache']).toBe('BYPASS');
    expect(fast.arrivals() - before).toBeGreaterThanOrEqual(2);
  });

  it('If-None-Match of one variant never yields a 304 for another variant', async () => {
    for (const side of [fast, ordinary]) {
      await req(side, '/fl/page', ['X-Currency: EUR']);
      await req(side, '/fl/page', ['X-Currency: EUR']);
    }
    const r = await both(() => ['/fl/page', []], ['/fl/page', []]);
    const usdEtag = r.fast.headers.etag;
    expect(usdEtag).toBeDefined();
    const eur = await req(fast, '/fl/page', ['X-Currency: EUR', `If-None-Match: ${usdEtag}`]);
    const eurOrd = await req(ordinary, '/fl/page', [
      'X-Currency: EUR',
      `If-None-Match: ${usdEtag}`,
    ]);
    expect(eur.status).toBe(eurOrd.status);
    expect(eur.status).toBe(200);
  });

  it.each([
    '/fl/%70age',
    '/FL/PAGE',
    '/fl/page/',
    '/fl//page',
    '/fl/page;x',
    '/fl/./page',
    '/fl/x/../page',
  ])('path spelling %s: same answer and body as the ordinary path', async (target) => {
    const r = await both(() => ['/fl/page', []], [target, []]);
    expect([r.fast.status, r.fast.headers['x-cache']]).toEqual([
      r.ordinary.status,
      r.ordinary.headers['x-cache'],
    ]);
  });

  it('duplicated / percent-encoded query parameters keep their own entries', async () => {
    const r = await both(() => ['/fl/echo?a=1&a=2', []], ['/fl/echo?a=2&a=1', []]);
    expect(r.fast.headers['x-cache']).toBe(r.ordinary.headers['x-cache']);
    expect(r.fast.body).toContain('a=["2","1"]');
    const enc = await both(() => ['/fl/echo?a=%3Cb%3E', []], ['/fl/echo?a=<b>', []]);
    expect(enc.fast.headers['x-cache']).toBe(enc.ordinary.headers['x-cache']);
    const mixed = await both(() => ['/fl/echo?%61=1&a=2', []], ['/fl/echo?a=2&%61=1', []]);
    expect(mixed.fast.headers['x-cache']).toBe(mixed.ordinary.headers['x-cache']);
    expect(mixed.fast.body).toContain('a=["2","1"]');
  });

  it.each([
    'http://127.0.0.1:PORT/fl/page',
    'http://evil.example/fl/page',
    '//evil.example/fl/page',
  ])('absolute-form target %s is never served a hit by the fast lane', async (target) => {
    const r = await both(() => ['/fl/page', []], [target.replace('PORT', '0'), []]);
    // (the port in the target is irrelevant: any absolute form must not be keyed)
    expect(r.fast.headers['x-cache']).toBe(r.ordinary.headers['x-cache']);
    expect(r.fast.headers['x-cache']).not.toBe('HIT');
  });

  it.each([
    ['Host: evil.example', 'evil.example'],
    ['Host with upper case', '127.0.0.1:PORT'.toUpperCase()],
  ])('%s: same answer as the ordinary path', async (_n, host) => {
    for (const side of [fast, ordinary]) {
      await req(side, '/fl/page', []);
      await req(side, '/fl/page', []);
    }
    const f = await req(fast, '/fl/page', [], 'GET', host.replace('PORT', String(fast.port)));
    const o = await req(
      ordinary,
      '/fl/page',
      [],
      'GET',
      host.replace('PORT', String(ordinary.port)),
    );
    expect(f.headers['x-cache']).toBe(o.headers['x-cache']);
  });

  it('X-Forwarded-Host / -Proto without trust proxy: keyed by Host as the ordinary path', async () => {
    const r = await both(
      () => ['/fl/page', []],
      ['/fl/page', ['X-Forwarded-Host: evil.example', 'X-Forwarded-Proto: https']],
    );
    expect(r.fast.headers['x-cache']).toBe(r.ordinary.headers['x-cache']);
  });

  describe('under trust proxy', () => {
    let tf: Side;
    let to: Side;
    beforeAll(async () => {
      tf = await appOf(true, true);
      to = await appOf(false, true);
    });
    afterAll(async () => {
      await tf?.t.close();
      await to?.t.close();
    });

    it.each([
      ['X-Forwarded-Host: b.example'],
      ['X-Forwarded-Host: a.example, b.example'],
      ['X-Forwarded-Host: A.EXAMPLE'],
      ['X-Forwarded-Proto: https'],
      ['X-Forwarded-Proto:'],
      ['X-Forwarded-Proto: http, https'],
    ])('%s: same answer as the ordinary path', async (h) => {
      for (const side of [tf, to]) {
        await side.t.app.get(OutputCacheProvider).invalidateAll();
        await req(side, '/fl/page', ['X-Forwarded-Host: a.example']);
        const hit = await req(side, '/fl/page', ['X-Forwarded-Host: a.example']);
        expect(hit.headers['x-cache']).toBe('HIT');
      }
      const extra = h.startsWith('X-Forwarded-Host') ? [h] : ['X-Forwarded-Host: a.example', h];
      const f = await req(tf, '/fl/page', extra);
      const o = await req(to, '/fl/page', extra);
      expect(f.headers['x-cache']).toBe(o.headers['x-cache']);
      if (h.includes('b.example') && !h.includes('a.example,'))
        expect(f.headers['x-cache']).not.toBe('HIT');
    });
  });
});
