import 'reflect-metadata';
import { Controller, Get, Injectable, Res } from '@nestjs/common';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Cacheable,
  type ComponentContext,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { createTestApp, setHeader, type TestApp } from '../helpers/test-app.js';

/**
 * Attacks: streamed holes (out-of-order). Where may the placeholder `<oc-hole id="oc-h-N">` go?
 * README: "a hole inside an attribute value or a `<title>` stays correct" (written in place).
 */

const userOf = (req: any) => String(req.headers['x-user'] ?? 'guest');

/** A hole whose output is escaped for a JS string literal only (as JSON.stringify does). */
@ViewComponent('JsName')
@Injectable()
class JsNameComponent implements ViewComponentRenderer {
  async render(_args: unknown, { req }: ComponentContext) {
    await Promise.resolve();
    return JSON.stringify(String(req.headers['x-name'] ?? '')).slice(1, -1);
  }
}

/** An async hole (always pending when the shell goes out: never written synchronously). */
@ViewComponent('Who')
@Injectable()
class WhoComponent implements ViewComponentRenderer {
  async render(_args: unknown, { req }: ComponentContext) {
    await Promise.resolve();
    return `u-${userOf(req)}`;
  }
}

const hole = () => placeComponent('Who');
const doc = (res: any, body: string) => {
  setHeader(res, 'content-type', 'text/html; charset=utf-8');
  return `<!doctype html><html><head><title>t</title></head><body>${body}</body></html>`;
};

@Controller('rs')
class PlacementController {
  /** An attribute value after an earlier attribute that holds a `>`. */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('attr')
  attr(@Res({ passthrough: true }) res: any) {
    return doc(res, `<a data-rule="price>10" title="${hole()}">x</a><p>after</p>`);
  }

  /** A string inside an inline script that already compared with `<` and `>`. */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('script')
  script(@Res({ passthrough: true }) res: any) {
    return doc(
      res,
      `<script>var ok = 1 < 2 && 3 > 1; var user = "${hole()}";</script><p>after</p>`,
    );
  }

  /** The same, with a hole escaped for its JS-string context. */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('script-xss')
  scriptXss(@Res({ passthrough: true }) res: any) {
    return doc(
      res,
      `<script>var ok = 1 < 2 && 3 > 1; var name = "${placeComponent('JsName')}";</script><p>after</p>`,
    );
  }

  /** Inside a comment that holds a `>` (e.g. a conditional-comment or a commented-out tag). */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('textarea')
  textarea(@Res({ passthrough: true }) res: any) {
    return doc(res, `<textarea>a < b > c ${hole()}</textarea><p>after</p>`);
  }

  /**
   * Page content (e.g. sanitised user HTML, which keeps `id` attributes) that carries the
   * placeholder's predictable id before the placeholder.
   */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('clobber')
  clobber(@Res({ passthrough: true }) res: any) {
    return doc(
      res,
      `<div class="review"><form action="https://evil.example/"><span id="oc-h-0"></span><button>go</button></form></div>` +
        `<nav>${hole()}</nav>`,
    );
  }

  /** A correct case for comparison: a plain hole between tags. */
  @Cacheable({ streamHoles: 'out-of-order' })
  @Get('plain')
  plain(@Res({ passthrough: true }) res: any) {
    return doc(res, `<p>${hole()}</p>`);
  }
}

async function get(t: TestApp, path: string, headers: Record<string, string> = {}) {
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>(
    (resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, method: 'GET', headers, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

const JS = { Cookie: 'oc-js=1' };

describe('attack: where an out-of-order placeholder may go (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ reasonHeader: true, componentTimeout: 30 })],
      controllers: [PlacementController],
      providers: [WhoComponent, JsNameComponent],
    });
  });
  afterAll(() => t.close());
  beforeEach(() => t.app.get(OutputCacheProvider).invalidateAll());

  /** Miss, then hit; both as a JS client (out-of-order form). */
  async function both(path: string, user: string) {
    const miss = await get(t, path, { ...JS, 'X-User': `${user}1` });
    const hit = await get(t, path, { ...JS, 'X-User': `${user}2` });
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(hit.headers['x-cache']).toBe('HIT');
    return [miss, hit] as const;
  }

  it('control: a hole between tags gets a placeholder and its template', async () => {
    const [, hit] = await both('/rs/plain', 'p');
    const part = /<p><oc-hole id="oc-h-([A-Za-z0-9_-]{8})-0"><\/oc-hole><\/p>/.exec(hit.text)?.[1];
    expect(part).toBeDefined();
    expect(hit.text).toContain(`<template id="oc-t-${part}-0">u-p2</template>`);
    expect(hit.text).toContain(`__ocHole("${part}-0")`);
  });

  it('a hole in an attribute value after an attribute holding ">" is written in place', async () => {
    for (const res of await both('/rs/attr', 'a')) {
      const user = /u-a\d/.exec(res.text)?.[0];
      expect(res.text).toContain(`<a data-rule="price>10" title="${user}">x</a>`);
      expect(res.text).not.toContain('<oc-hole');
    }
  });

  it('a hole in a script string after a "<" comparison is written in place', async () => {
    for (const res of await both('/rs/script', 's')) {
      expect(res.text).toMatch(/var user = "u-s\d";<\/script>/);
      expect(res.text).not.toContain('<oc-hole');
    }
  });

  it('a JS-string-escaped hole in such a script stays in the script (no context change)', async () => {
    const payload = '</template><img src=x onerror=alert(1)>';
    await get(t, '/rs/script-xss', { ...JS, 'X-Name': 'ok' }); // stores the page
    const hit = await get(t, '/rs/script-xss', { ...JS, 'X-Name': payload });
    expect(hit.headers['x-cache']).toBe('HIT');
    // Safe where the route put it (a JS string: only "</script" ends it); in HTML it is markup.
    expect(hit.text).toContain(`var name = "${payload}";</script>`);
    expect(hit.text).not.toContain('<template');
    expect(hit.text).not.toContain('<oc-hole');
  });

  it('a hole in a textarea whose text holds "<" and ">" is written in place', async () => {
    for (const res of await both('/rs/textarea', 'x')) {
      expect(res.text).toMatch(/<textarea>a < b > c u-x\d<\/textarea>/);
      expect(res.text).not.toContain('<oc-hole');
    }
  });

  it('the placeholder id is unique in the page (content cannot pre-empt it)', async () => {
    const parts: string[] = [];
    for (const res of await both('/rs/clobber', 'c')) {
      // getElementById returns the FIRST element with an id: with a guessable id, the page's own
      // <span id="oc-h-0"> inside an attacker's form would get the hole's HTML (per user). The
      // ids carry a random part drawn for each response.
      expect(res.text.match(/id="oc-h-0"/g) ?? []).toHaveLength(1); // the page's own span
      const part = /<nav><oc-hole id="oc-h-([A-Za-z0-9_-]{8})-0"><\/oc-hole><\/nav>/.exec(
        res.text,
      )?.[1];
      expect(part).toBeDefined();
      expect(res.text.split(`"oc-h-${part}-0"`)).toHaveLength(2);
      expect(res.text).toContain(`<template id="oc-t-${part}-0">`);
      expect(res.text).toContain(`__ocHole("${part}-0")`);
      parts.push(part!);
    }
    expect(parts[0]).not.toBe(parts[1]);
  });
});
