import 'reflect-metadata';
import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import {
  Cacheable,
  DisplayControl,
  OutputCacheModule,
  OutputCacheProvider,
  RefreshAhead,
} from '../lib/index.js';
import { resolveOutputCacheOptions } from '../lib/output-cache.options.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { sleep, until } from './helpers/wait.js';

/** What the handlers saw: renders per page, and how many ran at once. */
const seen = { active: 0, maxActive: 0, renders: new Map<string, number>() };
const price = new Map<string, number>();
/** The headers of the last render of each hot page. */
const lastHeaders = new Map<string, IncomingHttpHeaders>();

function rendered(name: string): number {
  const n = (seen.renders.get(name) ?? 0) + 1;
  seen.renders.set(name, n);
  return n;
}
const renders = (name: string) => seen.renders.get(name) ?? 0;

@Controller()
class WarmController {
  constructor(private readonly display: DisplayControl) {}

  @Cacheable()
  @Get('warm/:id')
  async page(@Param('id') id: string) {
    seen.active++;
    seen.maxActive = Math.max(seen.maxActive, seen.active);
    // Long enough that renders started together overlap, whatever the CPU.
    await sleep(200);
    seen.active--;
    return `<p>page ${id} render ${rendered(`warm/${id}`)}</p>`;
  }

  @Cacheable()
  @Get('broken')
  broken(): string {
    rendered('broken');
    throw new Error('this page is broken on purpose');
  }

  @Cacheable()
  @Get('private')
  private(@Res({ passthrough: true }) res: Response) {
    res.cookie('session', 'abc');
    return `<p>private ${rendered('private')}</p>`;
  }

  @Cacheable()
  @Get('hot/:id')
  hot(@Param('id') id: string, @Req() req: Request) {
    this.display.announceTags(`Hot:${id}`);
    lastHeaders.set(id, { ...req.headers });
    return `<p>hot ${id} price ${price.get(id) ?? 0} render ${rendered(`hot/${id}`)}</p>`;
  }
}

/**
 * Renders of `gated/:id` wait here while it is closed, so the test sees how many run at once.
 */
const gate = { closed: false, active: 0, maxActive: 0, waiting: [] as (() => void)[] };

@Controller('gated')
class GatedController {
  constructor(private readonly display: DisplayControl) {}

  @Cacheable()
  @Get(':id')
  async page(@Param('id') id: string) {
    this.display.announceTags(`Gated:${id}`);
    gate.active++;
    gate.maxActive = Math.max(gate.maxActive, gate.active);
    try {
      if (gate.closed) await new Promise<void>((open) => gate.waiting.push(open));
    } finally {
      gate.active--;
    }
    return `<p>gated ${id} render ${rendered(`gated/${id}`)}</p>`;
  }
}

describe('OutputCacheProvider.warm', () => {
  let t: TestApp;
  let provider: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ defaultTtl: 300 })],
      controllers: [WarmController],
    });
    provider = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t?.close());

  it('renders every URL once, at most `concurrency` at a time, and each is then a HIT', async () => {
    const urls = Array.from({ length: 8 }, (_, i) => `/warm/${i}`);
    seen.maxActive = 0;
    const report = await provider.warm(urls, { concurrency: 3 });

    expect(report.map((r) => r.url)).toEqual(urls);
    for (const entry of report) {
      expect(entry).toMatchObject({ status: 200, result: 'stored' });
      expect(entry.key).toEqual(expect.any(String));
    }
    // Eight 200 ms renders started three at a time: three overlapped, never four.
    expect(seen.maxActive).toBe(3);
    for (let i = 0; i < 8; i++) expect(renders(`warm/${i}`)).toBe(1);

    for (const url of urls) {
      const res = await t.http().get(url).expect(200);
      expect(res.headers['x-cache']).toBe('HIT');
    }
    for (let i = 0; i < 8; i++) expect(renders(`warm/${i}`)).toBe(1);
  });

  it('reports a page already cached as a hit, without rendering it again', async () => {
    const [entry] = await provider.warm(['/warm/0']);
    expect(entry).toMatchObject({ url: '/warm/0', status: 200, result: 'hit' });
    expect(renders('warm/0')).toBe(1);
  });

  it('takes the host of an absolute URL: the entry is that host’s', async () => {
    const [entry] = await provider.warm(['http://shop.example:8080/warm/host']);
    expect(entry).toMatchObject({ status: 200, result: 'stored' });
    const other = await t.http().get('/warm/host').expect(200);
    expect(other.headers['x-cache']).toBe('MISS'); // another host, another key
    const same = await t.http().get('/warm/host').set('Host', 'shop.example:8080').expect(200);
    expect(same.headers['x-cache']).toBe('HIT');
  });

  it('reports failures and uncacheable pages instead of throwing', async () => {
    const report = await provider.warm(['/broken', '/private', 'ftp://example/x', '/nowhere'], {
      concurrency: 2,
    });
    const [broken, privatePage, ftp, nowhere] = report;
    expect(broken).toMatchObject({ url: '/broken', status: 500 });
    expect(broken!.result).not.toBe('stored');
    expect(privatePage).toMatchObject({ url: '/private', status: 200, result: 'not-stored' });
    expect(privatePage!.reason).toEqual(expect.stringContaining('cookie'));
    expect(ftp).toMatchObject({ url: 'ftp://example/x', status: undefined, result: 'failed' });
    expect(ftp!.error).toMatch(/http/);
    expect(nowhere).toMatchObject({ url: '/nowhere', status: 404 });
    expect(nowhere!.result).not.toBe('stored');
  });

  it('refuses a wrong concurrency at once', async () => {
    await expect(provider.warm(['/warm/0'], { concurrency: 0 })).rejects.toThrow(
      /concurrency must be a whole number, 1 or more, got 0/,
    );
  });
});

describe('refreshAhead', () => {
  let t: TestApp;
  let provider: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          defaultTtl: 300,
          varyBy: {
            language: { header: 'accept-language' },
            // A cookie-chosen variant, as the sample's currency (read raw: no cookie-parser here).
            currency: (req) => /currency=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? 'EUR',
          },
          refreshAhead: { top: 2, concurrency: 1 },
        }),
      ],
      controllers: [WarmController],
    });
    provider = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t?.close());

  const cached = async (path: string) =>
    (await provider.list({ take: 1000 })).some((entry) => entry.path === path);

  it('renders a hot page again right after its eviction, without a client request', async () => {
    price.set('1', 10);
    await t.http().get('/hot/1').expect(200); // MISS: rendered and stored
    for (let i = 0; i < 3; i++) {
      expect((await t.http().get('/hot/1')).headers['x-cache']).toBe('HIT');
    }
    await t.http().get('/hot/2').expect(200); // cached, never hit: not counted
    expect(t.app.get(RefreshAhead).hottest()).toEqual([
      expect.objectContaining({ url: '/hot/1', hits: 3 }),
    ]);
    expect(renders('hot/1')).toBe(1);

    price.set('1', 12);
    await provider.invalidateByTag('Hot:1', 'Hot:2');
    await until(
      async () => renders('hot/1') === 2 && (await cached('/hot/1')),
      'refresh-ahead to render /hot/1 again and store it',
    );

    const res = await t.http().get('/hot/1').expect(200);
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.text).toContain('price 12 render 2');
    expect(renders('hot/1')).toBe(2);
  });

  it('replays the host and vary-by headers of the first request, never its cookies', async () => {
    price.set('3', 30);
    const get = () =>
      t
        .http()
        .get('/hot/3')
        .set('Host', 'shop.example:81')
        .set('Accept-Language', 'de')
        .set('Cookie', 'sid=secret');
    await get().expect(200);
    for (let i = 0; i < 5; i++) expect((await get()).headers['x-cache']).toBe('HIT');
    expect(t.app.get(RefreshAhead).hottest()[0]).toMatchObject({ url: '/hot/3', hits: 5 });

    price.set('3', 33);
    await provider.invalidateByTag('Hot:3');
    await until(
      async () => renders('hot/3') === 2 && (await cached('/hot/3')),
      'refresh-ahead to render /hot/3 again',
    );
    expect(lastHeaders.get('3')).toMatchObject({
      host: 'shop.example:81',
      'accept-language': 'de',
    });
    expect(lastHeaders.get('3')!.cookie).toBeUndefined();

    const res = await get().expect(200);
    expect(res.headers['x-cache']).toBe('HIT'); // the same key: host and language replayed
    expect(res.text).toContain('price 33 render 2');
  });

  it('stops replaying a variant chosen by a cookie (its replay lands on another key)', async () => {
    const usd = () => t.http().get('/hot/4').set('Cookie', 'currency=USD');
    await usd().expect(200);
    for (let i = 0; i < 8; i++) expect((await usd()).headers['x-cache']).toBe('HIT');
    const refreshAhead = t.app.get(RefreshAhead);
    expect(refreshAhead.hottest()[0]).toMatchObject({ url: '/hot/4', hits: 8 });

    await provider.invalidateByTag('Hot:4');
    // The replay (without the cookie) renders and stores the EUR variant...
    await until(() => renders('hot/4') === 2, 'refresh-ahead to replay /hot/4');
    await until(
      () => !refreshAhead.hottest().some((page) => page.url === '/hot/4'),
      'refresh-ahead to drop /hot/4 from its table',
    );
    expect(lastHeaders.get('4')!.cookie).toBeUndefined();
    // ...so the USD variant is still gone: the next USD visitor renders it.
    expect((await usd()).headers['x-cache']).toBe('MISS');
    expect((await t.http().get('/hot/4')).headers['x-cache']).toBe('HIT'); // the EUR one
  });

  it('is validated at start-up', () => {
    expect(() => resolveOutputCacheOptions({ refreshAhead: { top: 0 } })).toThrow(
      /refreshAhead\.top.*must be a positive whole number, got 0/,
    );
    expect(() =>
      resolveOutputCacheOptions({ refreshAhead: { tops: 5 } as unknown as { top: number } }),
    ).toThrow(/unknown key "tops".*Did you mean "top"/);
    expect(resolveOutputCacheOptions({ refreshAhead: true }).refreshAhead).toEqual({
      top: 100,
      concurrency: 2,
    });
    expect(resolveOutputCacheOptions({}).refreshAhead).toBeUndefined();
  });
});

describe('refreshAhead: only the top pages, at most `concurrency` renders at once', () => {
  let t: TestApp;
  let provider: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({ defaultTtl: 300, refreshAhead: { top: 3, concurrency: 2 } }),
      ],
      controllers: [GatedController],
    });
    provider = t.app.get(OutputCacheProvider);
  });
  afterAll(async () => {
    gate.closed = false;
    for (const open of gate.waiting.splice(0)) open();
    await t?.close();
  });

  it('re-renders the 3 most-hit of 5 evicted pages, never more than 2 at a time', async () => {
    // Five pages, hit 6, 5, 4, 2 and 1 times: pages 1 to 3 are the top 3.
    const hits = [6, 5, 4, 2, 1];
    for (const [i, n] of hits.entries()) {
      await t
        .http()
        .get(`/gated/${i + 1}`)
        .expect(200); // MISS: rendered and stored
      for (let j = 0; j < n; j++) {
        expect((await t.http().get(`/gated/${i + 1}`)).headers['x-cache']).toBe('HIT');
      }
    }
    expect(
      t.app
        .get(RefreshAhead)
        .hottest()
        .map((page) => page.url),
    ).toEqual(['/gated/1', '/gated/2', '/gated/3']);

    gate.closed = true;
    gate.maxActive = 0;
    await provider.invalidateByTag(...hits.map((_, i) => `Gated:${i + 1}`));
    await until(() => gate.active >= 2, 'refresh-ahead to start two renders');
    // Nothing more may start while both are held (a pause can only hide a third, not invent it).
    await sleep(200);
    expect(gate.active).toBe(2);

    gate.closed = false;
    for (const open of gate.waiting.splice(0)) open();
    const cached = async (path: string) =>
      (await provider.list({ take: 1000 })).some((entry) => entry.path === path);
    await until(
      async () =>
        [1, 2, 3].every((id) => renders(`gated/${id}`) === 2) &&
        (await cached('/gated/1')) &&
        (await cached('/gated/2')) &&
        (await cached('/gated/3')),
      'refresh-ahead to render and store pages 1 to 3 again',
    );
    await sleep(200); // as above: time for a wrong replay of page 4 or 5 to show
    expect(renders('gated/4')).toBe(1);
    expect(renders('gated/5')).toBe(1);
    expect(await cached('/gated/4')).toBe(false);
    expect(await cached('/gated/5')).toBe(false);
    expect(gate.maxActive).toBe(2);
  });
});
