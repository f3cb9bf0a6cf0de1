import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import {
  componentProviders,
  componentRenders,
  DonutController,
  rendersOf,
} from './fixtures/components.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp, type TestApp, viewRenders } from './helpers/test-app.js';

describe('donut-hole caching (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [OutputCacheModule.forRoot({})],
      controllers: [DonutController],
      providers: componentProviders,
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    componentRenders.clear();
    await cache.invalidateAll();
  });

  it('keeps cacheable components in the page and renders holes on every hit', async () => {
    const views = viewRenders.count;
    const miss = await t.http().get('/donut').set('Cookie', 'cart=1,2').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.text).toContain('<nav>menu 1 <em>hello guest</em></nav>');
    expect(miss.text).toContain('<span class="cart">cart[1,2] total=2</span>');
    expect(miss.text).toContain('<code>{"label":"a \\"quoted\\" label","n":3}</code>');
    expect(miss.text).not.toContain('<!--oc:');

    const hit = await t
      .http()
      .get('/donut')
      .set('Cookie', 'cart=7')
      .set('X-User', 'ann')
      .expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain('<span class="cart">cart[7] total=1</span>');
    expect(hit.text).toContain('<nav>menu 1 <em>hello ann</em></nav>');
    expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(hit.text)));
    // The outer view and the cacheable menu ran once; each hole once per response.
    expect(viewRenders.count - views).toBe(1);
    expect(rendersOf('page')).toBe(1);
    expect(rendersOf('CategoryMenu')).toBe(1);
    expect(rendersOf('MiniCart')).toBe(2);
    expect(rendersOf('Greeting')).toBe(2);
    expect(rendersOf('Echo')).toBe(2);
  });

  it('never shows one shopper another shopper’s cart across 1,000 interleaved requests', async () => {
    await t.http().get('/donut').set('Cookie', 'cart=warm');
    const shoppers = [
      { cookie: 'cart=11,12', cart: 'cart[11,12] total=2' },
      { cookie: 'cart=99', cart: 'cart[99] total=1' },
    ];
    let checked = 0;
    for (let batch = 0; batch < 50; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const shopper = shoppers[i % 2];
          return t
            .http()
            .get('/donut')
            .set('Cookie', shopper.cookie)
            .then((res) => ({ res, shopper }));
        }),
      );
      for (const { res, shopper } of responses) {
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBe('HIT');
        expect(res.text).toContain(shopper.cart);
        for (const other of shoppers)
          if (other !== shopper) expect(res.text).not.toContain(other.cart);
        checked++;
      }
    }
    expect(checked).toBe(1000);
    expect(rendersOf('page')).toBe(1);
  }, 180_000); // 1,000 requests: past jest's 30 s on a loaded 2-core machine

  it('leaves marker-like text and markers of other pages inert', async () => {
    const leak = await t.http().get('/donut/leak-marker').expect(200);
    const escaped = /<pre>(.*?)<\/pre>/.exec(leak.text)![1];
    const realMarker = escaped.replace(/&lt;/g, '<');
    expect(realMarker).toMatch(/^<!--oc:[A-Za-z0-9_-]+:0-->$/);
    expect(leak.text).toContain('<code>{"leaked":true}</code>');

    const forged = '<!--oc:AAAAAAAAAAAAAAAA:0--><!--oc:x:1-->';
    const review = `${realMarker}${forged}`;
    componentRenders.clear();
    const miss = await t.http().get('/donut').query({ review }).expect(200);
    expect(miss.text).toContain(`<p class="review">${review}</p>`);
    const hit = await t.http().get('/donut').query({ review }).expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain(`<p class="review">${review}</p>`);
    expect(hit.text).toContain('&lt;!--oc:AAAAAAAAAAAAAAAA:0--&gt;');
    // Only the page's own Echo (footer) rendered: the replayed marker invoked nothing.
    expect(rendersOf('Echo')).toBe(2);
    expect(hit.text).not.toContain('{"leaked":true}');
  });

  it('answers 200 with the fallback when a hole throws or times out', async () => {
    const miss = await t.http().get('/donut/broken').set('Cookie', 'cart=5').expect(200);
    expect(miss.text).toBe(
      '<p><b>boom fallback</b></p><p><b>slow fallback</b></p><p><span class="cart">cart[5]</span></p>\n',
    );
    const hit = await t.http().get('/donut/broken').set('Cookie', 'cart=6').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain('<b>boom fallback</b>');
    expect(hit.text).toContain('cart[6]');
    expect(rendersOf('Boom')).toBe(2);
  });

  it('does not cache a page whose component arguments are not JSON-serialisable', async () => {
    const since = statsSince(cache);
    const first = await t.http().get('/donut/args').expect(200);
    expect(first.text).toContain('<code>{"when":"1970-01-01T00:00:00.000Z"}</code>');
    const second = await t.http().get('/donut/args').expect(200);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(since().notStored('component-args')).toBe(2);
    expect(since().stored).toBe(0);
  });

  it('stops nesting at maxComponentDepth', async () => {
    const res = await t.http().get('/donut/deep').expect(200);
    expect(res.text).toBe('<p>[0[1[2[3[4]]]]]</p>\n');
    expect(rendersOf('Nest')).toBe(5);
  });

  it('reports an unknown component by name', async () => {
    const res = await t.http().get('/donut/unknown');
    expect(res.status).toBe(500);
    expect(await cache.count()).toBe(0);
  });

  it('fills holes inside JSON, escaped as JSON string content', async () => {
    const miss = await t.http().get('/donut/json').set('Cookie', 'cart=1').expect(200);
    expect(miss.body).toEqual({
      title: 'json page',
      cart: '<span class="cart">cart[1]</span>',
      n: 1,
    });
    const hit = await t.http().get('/donut/json').set('Cookie', 'cart=2,3').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.cart).toBe('<span class="cart">cart[2,3]</span>');
  });

  it('renders components on routes that are not cached', async () => {
    const res = await t.http().get('/donut/plain').set('Cookie', 'cart=4').expect(200);
    expect(res.headers['x-cache']).toBeUndefined();
    expect(res.text).toContain('<nav>menu 1 <em>hello guest</em></nav>');
    expect(res.text).toContain('cart[4] total=1');
    expect(res.text).not.toContain('<!--oc:');
  });

  it('serves HEAD of a page with holes with its full length', async () => {
    const get = await t.http().get('/donut').set('Cookie', 'cart=1');
    const head = await t.http().head('/donut').set('Cookie', 'cart=1').expect(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
  });
});

describe('CSRF hole (e2e)', () => {
  it('renders a fresh token into a cached page for each request', async () => {
    let issued = 0;
    const t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          csrf: {
            token: (_req, res) => {
              issued++;
              res.header('X-Token-Issued', String(issued)); // Express and Fastify alike
              return `tok"${issued}`;
            },
          },
        }),
      ],
      controllers: [DonutController],
      providers: componentProviders,
    });
    try {
      componentRenders.clear();
      const miss = await t.http().get('/donut/form').expect(200);
      expect(miss.text).toContain('<input type="hidden" name="_csrf" value="tok&quot;1">');
      expect(miss.headers['x-token-issued']).toBe('1');
      const hit = await t.http().get('/donut/form').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.text).toContain('value="tok&quot;2"');
      expect(hit.headers['x-token-issued']).toBe('2');
      expect(rendersOf('form')).toBe(1);
    } finally {
      await t.close();
    }
  });
});
