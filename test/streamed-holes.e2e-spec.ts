import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Controller, Get, Injectable, Logger, Res, type Type } from '@nestjs/common';
import compression from 'compression';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import {
  Cacheable,
  type CacheableOptions,
  type ComponentContext,
  OutputCacheConfigError,
  OutputCacheModule,
  type OutputCacheModuleOptions,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentOptions,
  type ViewComponentRenderer,
} from '../lib/index.js';
import {
  createTestApp,
  setCookie,
  setHeader,
  type TestApp,
  testPlatform,
} from './helpers/test-app.js';

// Gated holes: a `Gated` hole's render awaits its gate until the test opens it, so that what
// arrives before the gate opens is provably sent before that hole finished (no clock involved).
interface Gate {
  promise: Promise<void>;
  open: () => void;
}
const gates = new Map<string, Gate>();
let gating = false;

function gate(name: string): Promise<void> {
  if (!gating) return Promise.resolve();
  let g = gates.get(name);
  if (!g) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    g = { promise, open };
    gates.set(name, g);
  }
  return g.promise;
}

function release(name: string): void {
  gating = true;
  void gate(name);
  gates.get(name)!.open();
}

const userOf = (req: any) => String(req.headers['x-user'] ?? 'guest');
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

@ViewComponent('Gated')
@Injectable()
class GatedComponent implements ViewComponentRenderer<{ name: string }> {
  async render(args: { name: string }, { req }: ComponentContext) {
    await gate(args.name);
    return `<b>${args.name} for ${userOf(req)}</b>`;
  }
}

@ViewComponent('User')
@Injectable()
class UserComponent implements ViewComponentRenderer<{ n: number }> {
  async render(args: { n: number }, { req }: ComponentContext) {
    // Finishing in an order that differs from request to request and hole to hole.
    const user = userOf(req);
    await ticks((user.length * 7 + args.n * 3) % 5);
    return `<i>[${user}]</i>`;
  }
}

@ViewComponent({ name: 'CookieSetter', setsHeaders: true })
@Injectable()
class CookieSetterComponent implements ViewComponentRenderer {
  async render(_args: unknown, { req, res }: ComponentContext) {
    // Later than the page's other holes: without setsHeaders the head would be out by now.
    await ticks(5);
    setCookie(res, 'hole', userOf(req));
    return '<u>cookie set</u>';
  }
}

const component = (name: string, args: Record<string, unknown> = {}) => placeComponent(name, args);

function html(res: any, inner: string): string {
  setHeader(res, 'content-type', 'text/html; charset=utf-8');
  return `<!doctype html><html><head><title>t</title></head><body><p>before</p>${inner}<p>after</p></body></html>`;
}

const gatedAB = () =>
  `${component('Gated', { name: 'a' })}<p>middle</p>${component('Gated', { name: 'b' })}`;

@Controller('stream')
class StreamController {
  @Cacheable({ streamHoles: 'in-order' })
  @Get('in-order')
  inOrder(@Res({ passthrough: true }) res: any) {
    return html(res, gatedAB());
  }

  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('ooo')
  outOfOrder(@Res({ passthrough: true }) res: any) {
    return html(
      res,
      `${component('Gated', { name: 'a' })}<p>one</p>${component('Gated', { name: 'b' })}` +
        `<p>two</p>${component('Gated', { name: 'c' })}`,
    );
  }

  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('users')
  users(@Res({ passthrough: true }) res: any) {
    return html(res, `${component('User', { n: 1 })}<hr>${component('User', { n: 2 })}`);
  }

  @Cacheable({ streamHoles: 'in-order' })
  @Get('cookie')
  cookie(@Res({ passthrough: true }) res: any) {
    return html(res, `${component('User', { n: 1 })}${component('CookieSetter')}`);
  }

  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('cookie-ooo')
  cookieOutOfOrder(@Res({ passthrough: true }) res: any) {
    return html(res, `${component('Gated', { name: 'a' })}${component('CookieSetter')}`);
  }

  /** A hole in the title (no element may go there) and one in the body. */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('title')
  title(@Res({ passthrough: true }) res: any) {
    setHeader(res, 'content-type', 'text/html; charset=utf-8');
    return (
      `<!doctype html><html><head><title>${component('Gated', { name: 't' })}</title></head>` +
      `<body><p>before</p>${component('Gated', { name: 'a' })}<p>after</p></body></html>`
    );
  }

  /** The built-in CSRF hole, whose token function sets a cookie late. */
  @Cacheable({ streamHoles: 'in-order' })
  @Get('form')
  form(@Res({ passthrough: true }) res: any) {
    return html(res, `${component('User', { n: 1 })}<form>${component('AntiForgeryToken')}</form>`);
  }

  @Cacheable({ streamHoles: 'in-order' })
  @Get('plain')
  plain(@Res({ passthrough: true }) res: any) {
    return html(res, '<p>no holes</p>');
  }

  /** The module's streamHoles ('in-order'). */
  @Cacheable()
  @Get('module')
  module(@Res({ passthrough: true }) res: any) {
    return html(res, gatedAB());
  }

  /** The route's `false` wins over the module's. */
  @Cacheable({ streamHoles: false })
  @Get('off')
  off(@Res({ passthrough: true }) res: any) {
    return html(res, gatedAB());
  }
}

const page = (inner: string) =>
  `<!doctype html><html><head><title>t</title></head><body><p>before</p>${inner}<p>after</p></body></html>`;

/** A response read piece by piece with node:http. */
interface Reading {
  response: Promise<http.IncomingMessage>;
  /** Everything received so far. */
  text: () => string;
  /** Resolves once the body so far contains `part` (rejects after 10 s with what came). */
  waitFor: (part: string) => Promise<void>;
  /** The whole body, once the response ended. */
  done: Promise<string>;
  request: http.ClientRequest;
}

/**
 * The page with its out-of-order ids written as `oc-h-N`, `oc-t-N` and `__ocHole(N)`: each
 * response draws its own random part (see HtmlPlacement's neighbour in hole-streamer.ts), the
 * same in every id of one response. Ids of two different random parts are left as they are (so
 * an exact expectation fails).
 */
function plainIds(text: string): string {
  const parts = new Set(
    [...text.matchAll(/oc-[ht]-([A-Za-z0-9_-]{8})-\d+|__ocHole\("([A-Za-z0-9_-]{8})-\d+"\)/g)].map(
      (m) => m[1] ?? m[2],
    ),
  );
  if (parts.size !== 1) return text;
  const [part] = [...parts];
  return text
    .replaceAll(`-${part}-`, '-')
    .replace(new RegExp(`__ocHole\\("${part}-(\\d+)"\\)`, 'g'), '__ocHole($1)');
}

function read(
  t: TestApp,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Reading {
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  let text = '';
  const waiting: { part: string; resolve: () => void }[] = [];
  let finish!: (body: string) => void;
  let fail!: (error: Error) => void;
  const done = new Promise<string>((resolve, reject) => ((finish = resolve), (fail = reject)));
  done.catch(() => {});
  let request!: http.ClientRequest;
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    request = http.request(
      { host: '127.0.0.1', port, path, method, headers, agent: false },
      (res) => {
        resolve(res);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          for (const w of [...waiting]) {
            if (plainIds(text).includes(w.part)) {
              waiting.splice(waiting.indexOf(w), 1);
              w.resolve();
            }
          }
        });
        res.on('end', () => finish(plainIds(text)));
        res.on('error', fail);
      },
    );
    request.on('error', (error) => {
      reject(error);
      fail(error);
    });
    request.end();
  });
  response.catch(() => {});
  return {
    response,
    text: () => plainIds(text),
    request,
    done,
    waitFor: (part) =>
      plainIds(text).includes(part)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`never received ${JSON.stringify(part)}; got ${text}`)),
              10_000,
            );
            waiting.push({
              part,
              resolve: () => {
                clearTimeout(timer);
                resolve();
              },
            });
          }),
  };
}

/** A whole response, read with node:http. */
async function get(t: TestApp, path: string, headers: Record<string, string> = {}) {
  const r = read(t, path, headers);
  const res = await r.response;
  return { status: res.statusCode, headers: res.headers, text: await r.done };
}

const JS = { Cookie: 'oc-js=1' };

describe('streamed holes (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  const errors = jest.spyOn(Logger.prototype, 'error');

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          streamHoles: 'in-order',
          cspNonce: (req) => req.headers['x-nonce'],
          // Gated holes wait for the test, however loaded the machine: not the 2 s default.
          componentTimeout: 60,
          csrf: {
            token: async (req, res) => {
              await ticks(5); // later than the page's other hole
              setCookie(res, 'csrf', `tok-${userOf(req)}`);
              return `tok-${userOf(req)}`;
            },
          },
        }),
      ],
      controllers: [StreamController],
      providers: [GatedComponent, UserComponent, CookieSetterComponent],
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(async () => {
    errors.mockRestore();
    await t.close();
  });
  beforeEach(async () => {
    gating = false;
    gates.clear();
    errors.mockClear();
    await cache.invalidateAll();
  });

  /** Stores the page (holes answer at once), so that the next request is a hit. */
  async function prime(path: string) {
    gating = false;
    const miss = await get(t, path);
    expect(miss.headers['x-cache']).toBe('MISS');
    gating = true;
  }

  it('in-order: a hit sends the page up to the first hole before that hole is done', async () => {
    await prime('/stream/in-order');
    const r = read(t, '/stream/in-order', { 'X-User': 'ann' });
    const res = await r.response;
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    await r.waitFor('<p>before</p>');
    // Hole a is still gated: nothing of it, nor anything after it, went out.
    expect(r.text()).toBe('<!doctype html><html><head><title>t</title></head><body><p>before</p>');
    release('a');
    await r.waitFor('<p>middle</p>');
    expect(r.text()).not.toContain('b for');
    expect(r.text()).not.toContain('<p>after</p>');
    release('b');
    expect(await r.done).toBe(page('<b>a for ann</b><p>middle</p><b>b for ann</b>'));
  });

  it('in-order: holes finishing out of order are still written in order', async () => {
    await prime('/stream/in-order');
    const r = read(t, '/stream/in-order');
    await r.waitFor('<p>before</p>');
    release('b');
    // b is done, but a (before it) is not: b waits.
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.text()).not.toContain('b for');
    release('a');
    expect(await r.done).toBe(page('<b>a for guest</b><p>middle</p><b>b for guest</b>'));
    expect(await r.done).not.toContain('<script');
  });

  it('streams a miss the same way, and stores the page for the next hit', async () => {
    gating = true;
    const r = read(t, '/stream/in-order', { 'X-User': 'bea' });
    const res = await r.response;
    expect(res.headers['x-cache']).toBe('MISS');
    await r.waitFor('<p>before</p>');
    expect(r.text()).not.toContain('a for');
    release('a');
    release('b');
    expect(await r.done).toBe(page('<b>a for bea</b><p>middle</p><b>b for bea</b>'));
    gating = false;
    const hit = await get(t, '/stream/in-order', { 'X-User': 'cy' });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(page('<b>a for cy</b><p>middle</p><b>b for cy</b>'));
  });

  it('out-of-order: the whole shell first, then each hole as it finishes (reverse order)', async () => {
    await prime('/stream/ooo');
    const r = read(t, '/stream/ooo', { ...JS, 'X-User': 'dan' });
    const res = await r.response;
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.headers['set-cookie']).toBeUndefined();
    await r.waitFor('<p>after</p>');
    expect(r.text()).toBe(
      '<!doctype html><html><head><title>t</title></head><body><p>before</p>' +
        '<oc-hole id="oc-h-0"></oc-hole><p>one</p><oc-hole id="oc-h-1"></oc-hole><p>two</p>' +
        '<oc-hole id="oc-h-2"></oc-hole><p>after</p>',
    );
    release('c');
    await r.waitFor('__ocHole(2)');
    expect(r.text()).not.toContain('oc-t-1');
    release('b');
    await r.waitFor('__ocHole(1)');
    expect(r.text()).not.toContain('oc-t-0');
    release('a');
    const body = await r.done;
    const rest = body.slice(body.indexOf('<p>after</p>') + '<p>after</p>'.length);
    expect(rest).toBe(
      '<script>function __ocHole(n){var t=document.getElementById("oc-t-"+n),' +
        'h=document.getElementById("oc-h-"+n);if(t&&h){h.replaceWith(t.content);t.remove()}}</script>' +
        '<template id="oc-t-2"><b>c for dan</b></template><script>__ocHole(2)</script>' +
        '<template id="oc-t-1"><b>b for dan</b></template><script>__ocHole(1)</script>' +
        '<template id="oc-t-0"><b>a for dan</b></template><script>__ocHole(0)</script>' +
        '</body></html>',
    );
  });

  it('out-of-order route, client without the oc-js cookie: in order, and the cookie script', async () => {
    await prime('/stream/ooo');
    const r = read(t, '/stream/ooo', { 'X-User': 'eve' });
    const res = await r.response;
    // Set by script, never by a header: the response stays what a shared cache may see.
    expect(res.headers['set-cookie']).toBeUndefined();
    await r.waitFor('<p>before</p>');
    expect(r.text()).not.toContain('oc-hole');
    release('c');
    release('b');
    release('a');
    const body = await r.done;
    expect(body).toBe(
      '<!doctype html><html><head><title>t</title></head><body><p>before</p>' +
        '<b>a for eve</b><p>one</p><b>b for eve</b><p>two</p><b>c for eve</b><p>after</p>' +
        '<script>document.cookie="oc-js=1; path=/; max-age=31536000; SameSite=Lax"</script>' +
        '</body></html>',
    );
  });

  it('puts the CSP nonce on every inline script', async () => {
    await prime('/stream/ooo');
    gating = false;
    for (const headers of [{ ...JS }, {}]) {
      const res = await get(t, '/stream/ooo', { ...headers, 'X-Nonce': 'r4nd"om' });
      const scripts = res.text.match(/<script\b[^>]*>/g) ?? [];
      expect(scripts.length).toBe('Cookie' in headers ? 4 : 1);
      for (const tag of scripts) expect(tag).toBe('<script nonce="r4nd&quot;om">');
    }
  });

  it('20 concurrent users each see only their own holes', async () => {
    await prime('/stream/users');
    gating = false;
    const users = Array.from({ length: 20 }, (_, i) => `u${String(i).padStart(2, '0')}`);
    const responses = await Promise.all(
      users.map((user, i) => get(t, '/stream/users', { 'X-User': user, ...(i % 2 ? JS : {}) })),
    );
    responses.forEach((res, i) => {
      expect(res.headers['x-cache']).toBe('HIT');
      expect(res.text.split(`<i>[${users[i]}]</i>`).length).toBe(3);
      expect(res.text.match(/<i>\[[^\]]*\]<\/i>/g)).toEqual([
        `<i>[${users[i]}]</i>`,
        `<i>[${users[i]}]</i>`,
      ]);
      if (i % 2) expect(res.text).toContain('<template id="oc-t-1">');
    });
  });

  it('renders a setsHeaders hole before the head: its cookie is in the headers', async () => {
    await prime('/stream/cookie');
    gating = false;
    const res = await get(t, '/stream/cookie', { 'X-User': 'fay' });
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(String(res.headers['set-cookie'])).toMatch(/^hole=fay;/);
    expect(res.text).toBe(page('<i>[fay]</i><u>cookie set</u>'));
  });

  it('out-of-order: a setsHeaders hole, done before the head, is written in place', async () => {
    await prime('/stream/cookie-ooo');
    const r = read(t, '/stream/cookie-ooo', { ...JS, 'X-User': 'ida' });
    const res = await r.response;
    expect(String(res.headers['set-cookie'])).toMatch(/^hole=ida;/);
    await r.waitFor('<p>after</p>');
    expect(r.text()).toContain(
      '<p>before</p><oc-hole id="oc-h-0"></oc-hole><u>cookie set</u><p>after</p>',
    );
    release('a');
    const body = await r.done;
    expect(body).toContain('<template id="oc-t-0"><b>a for ida</b></template>');
    expect(body).not.toContain('oc-t-1');
  });

  it('renders the built-in CSRF hole before the head: its cookie is in the headers', async () => {
    await prime('/stream/form');
    gating = false;
    const res = await get(t, '/stream/form', { 'X-User': 'gus' });
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(String(res.headers['set-cookie'])).toMatch(/^csrf=tok-gus;/);
    expect(res.text).toBe(
      page('<i>[gus]</i><form><input type="hidden" name="_csrf" value="tok-gus"></form>'),
    );
  });

  it('out-of-order: a hole where no element may go (the title) is written in place, in order', async () => {
    await prime('/stream/title');
    const r = read(t, '/stream/title', { ...JS, 'X-User': 'hal' });
    await r.waitFor('<title>');
    expect(r.text()).toBe('<!doctype html><html><head><title>');
    release('t');
    await r.waitFor('<p>after</p>');
    expect(r.text()).toBe(
      '<!doctype html><html><head><title><b>t for hal</b></title></head>' +
        '<body><p>before</p><oc-hole id="oc-h-1"></oc-hole><p>after</p>',
    );
    release('a');
    expect(await r.done).toContain(
      '<template id="oc-t-1"><b>a for hal</b></template><script>__ocHole(1)</script></body></html>',
    );
  });

  it('leaves HEAD, pages without holes and routes with streamHoles: false as they were', async () => {
    await prime('/stream/in-order');
    gating = false;
    const whole = await get(t, '/stream/in-order');
    const head = read(t, '/stream/in-order', {}, 'HEAD');
    const headRes = await head.response;
    expect(headRes.headers['x-cache']).toBe('HIT');
    expect(headRes.headers['content-length']).toBe(String(Buffer.byteLength(whole.text)));
    expect(headRes.headers['transfer-encoding']).toBeUndefined();
    expect(await head.done).toBe('');

    await get(t, '/stream/plain');
    const plain = await get(t, '/stream/plain');
    expect(plain.headers['x-cache']).toBe('HIT');
    expect(plain.headers['content-length']).toBe(String(Buffer.byteLength(plain.text)));
    expect(plain.headers.etag).toBeDefined();
    expect(plain.text).toBe(page('<p>no holes</p>'));

    await get(t, '/stream/off');
    const off = await get(t, '/stream/off');
    expect(off.headers['x-cache']).toBe('HIT');
    expect(off.headers['content-length']).toBe(String(Buffer.byteLength(off.text)));
    expect(off.text).toBe(page('<b>a for guest</b><p>middle</p><b>b for guest</b>'));

    // No streamHoles on the route: the module's 'in-order'.
    await get(t, '/stream/module');
    const inherited = await get(t, '/stream/module');
    expect(inherited.headers['x-cache']).toBe('HIT');
    expect(inherited.headers['content-length']).toBeUndefined();
    expect(inherited.headers['transfer-encoding']).toBe('chunked');
  });

  it('a miss whose client goes away mid-stream is still stored, and stops quietly', async () => {
    gating = true;
    const r = read(t, '/stream/ooo', JS);
    const res = await r.response;
    expect(res.headers['x-cache']).toBe('MISS');
    await r.waitFor('<p>after</p>');
    const closed = new Promise((resolve) => res.once('close', resolve));
    r.request.destroy();
    await closed;
    release('a');
    release('b');
    release('c');
    gating = false;
    const next = await get(t, '/stream/ooo', { 'X-User': 'jo' });
    expect(next.headers['x-cache']).toBe('HIT');
    expect(next.text).toContain('<b>c for jo</b><p>after</p>');
    expect(errors).not.toHaveBeenCalled();
  });

  it('stops quietly when the client goes away mid-stream; the next request is answered', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await prime('/stream/ooo');
      const r = read(t, '/stream/ooo', JS);
      await r.waitFor('<p>after</p>');
      const res = await r.response;
      const closed = new Promise((resolve) => res.once('close', resolve));
      r.request.destroy();
      await closed;
      release('b');
      release('a');
      release('c');
      gating = false;
      const next = await get(t, '/stream/ooo', JS);
      expect(next.status).toBe(200);
      expect(next.text).toContain('<template id="oc-t-2"><b>c for guest</b></template>');
      expect(next.text.endsWith('</body></html>')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50)); // let a late rejection surface
      expect(unhandled).toEqual([]);
      expect(errors).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

// Express middleware: the `compression` package (its res.flush() is what streaming relies on).
(testPlatform === 'express' ? describe : describe.skip)(
  'streamed holes behind the compression middleware',
  () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp(
        {
          imports: [OutputCacheModule.forRoot({ componentTimeout: 60 })],
          controllers: [StreamController],
          providers: [GatedComponent, UserComponent, CookieSetterComponent],
        },
        (app) => app.use(compression({ threshold: 0 })),
      );
    });
    afterAll(() => t.close());

    it('still sends the page up to the first hole before that hole is done, gzipped', async () => {
      gating = false;
      gates.clear();
      await get(t, '/stream/in-order', { 'Accept-Encoding': 'gzip' });
      gating = true;
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http
          .get(
            {
              host: '127.0.0.1',
              port,
              path: '/stream/in-order',
              headers: { 'Accept-Encoding': 'gzip' },
            },
            resolve,
          )
          .on('error', reject),
      );
      expect(res.headers['x-cache']).toBe('HIT');
      expect(res.headers['content-encoding']).toBe('gzip');
      let text = '';
      const gunzip = res.pipe(createGunzip());
      const before = new Promise<void>((resolve) =>
        gunzip.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('<p>before</p>')) resolve();
        }),
      );
      const ended = new Promise<void>((resolve) => gunzip.on('end', resolve));
      await before;
      expect(text).not.toContain('a for');
      release('a');
      release('b');
      await ended;
      expect(text).toBe(page('<b>a for guest</b><p>middle</p><b>b for guest</b>'));
    });
  },
);

describe('streamed holes: options checked at start-up', () => {
  function controllerWith(options: unknown): Type {
    @Controller('checked')
    class CheckedController {
      @Cacheable(options as CacheableOptions)
      @Get()
      page() {
        return '<p>page</p>';
      }
    }
    return CheckedController;
  }

  async function startFails(
    options: OutputCacheModuleOptions | unknown,
    controllers: Type[] = [],
    providers: Type[] = [],
  ): Promise<Error> {
    let app: TestApp | undefined;
    try {
      app = await createTestApp({
        imports: [OutputCacheModule.forRoot(options as OutputCacheModuleOptions)],
        controllers,
        providers,
      });
    } catch (error) {
      return error as Error;
    }
    await app.close();
    throw new Error('the app started');
  }

  it('refuses a wrong module-wide streamHoles or cspNonce', async () => {
    const wrong = await startFails({ streamHoles: true });
    expect(wrong).toBeInstanceOf(OutputCacheConfigError);
    expect(wrong.message).toBe(
      `OutputCacheModule: option "streamHoles" must be false, 'in-order' or 'out-of-order', got true. Example: streamHoles: 'in-order'`,
    );
    const cased = await startFails({ streamHoles: 'Out-Of-Order' });
    expect(cased.message).toContain(`write streamHoles: 'out-of-order'`);
    const nonce = await startFails({ cspNonce: 'abc' });
    expect(nonce).toBeInstanceOf(OutputCacheConfigError);
    expect(nonce.message).toMatch(/^OutputCacheModule: option "cspNonce" must be a function/);
  });

  it('refuses a wrong route streamHoles', async () => {
    const error = await startFails({}, [controllerWith({ streamHoles: 'sideways' })]);
    expect(error).toBeInstanceOf(OutputCacheConfigError);
    expect(error.message).toBe(
      `@Cacheable on Checked/page: option "streamHoles" must be false, 'in-order' or 'out-of-order', got the string 'sideways'. Example: @Cacheable({ streamHoles: 'in-order' })`,
    );
  });

  it('refuses streamed holes on a fast-lane route, from the route or the module', async () => {
    const own = await startFails({}, [
      controllerWith({ fastLane: true, streamHoles: 'out-of-order' }),
    ]);
    expect(own).toBeInstanceOf(OutputCacheConfigError);
    expect(own.message).toMatch(/Checked\/page: option "fastLane" cannot be combined/);
    const inherited = await startFails({ streamHoles: 'in-order' }, [
      controllerWith({ fastLane: true }),
    ]);
    expect(inherited.message).toContain(`'in-order' from OutputCacheModule.forRoot`);
    expect(inherited.message).toContain('Add streamHoles: false');
    // The route opting out starts.
    const ok = await createTestApp({
      imports: [OutputCacheModule.forRoot({ streamHoles: 'in-order' })],
      controllers: [controllerWith({ fastLane: true, streamHoles: false })],
    });
    await ok.close();
  });

  it('refuses a setsHeaders that is not a boolean', async () => {
    @ViewComponent({ name: 'Odd', setsHeaders: 'yes' } as unknown as ViewComponentOptions)
    @Injectable()
    class OddComponent {
      render() {
        return '';
      }
    }
    const error = await startFails({}, [], [OddComponent]);
    expect(error).toBeInstanceOf(OutputCacheConfigError);
    expect(error.message).toContain(
      `@ViewComponent OddComponent: option "setsHeaders" must be true or false`,
    );
  });
});
