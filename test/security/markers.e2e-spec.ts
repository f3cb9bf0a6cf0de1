import 'reflect-metadata';
import {
  type MemoryOutputCacheStore,
  OUTPUT_CACHE_STORE,
  OutputCacheProvider,
} from '../../lib/index.js';
import type { TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';
import { createAttackApp, rawRequest, freshStart } from './attack-kit.js';

/**
 * Marker injection and markers copied between pages. The rule: a hole is what the route placed
 * in this render (its marker carries the render's random token, its arguments live in a side
 * table); text that imitates a marker, or a real marker of another render, stays text on the
 * miss and on every hit, and invokes nothing.
 */
describe('attack: marker injection and copied markers (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp();
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  const visitors = (text: string) => text.match(/visitor \w+/g) ?? [];

  /** The one stored entry of the review page. */
  async function storedReview() {
    const store = t.app.get<MemoryOutputCacheStore>(OUTPUT_CACHE_STORE);
    await until(async () => (await store.list({ skip: 0, take: 10 })).length === 1, 'stored');
    const [summary] = await store.list({ skip: 0, take: 10 });
    return (await store.get(summary.key))!;
  }

  /** Posts `review` as the attacker, then reads the page as a victim, on the miss and a hit. */
  async function expectInert(review: string) {
    const q = `/attack/review?review=${encodeURIComponent(review)}`;
    const miss = await rawRequest(t, q, { headers: { 'x-user': 'attacker' } });
    expect(miss.status).toBe(200);
    expect(miss.text).toContain(`<p>${review}</p>`);
    expect(visitors(miss.text)).toEqual(['visitor attacker']);
    const entry = await storedReview();
    expect(entry.holes).toHaveLength(1);
    expect(entry.body.toString()).toContain(`<p>${review}</p>`);
    const hit = await rawRequest(t, q, { headers: { 'x-user': 'victim' } });
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toContain(`<p>${review}</p>`);
    expect(visitors(hit.text)).toEqual(['visitor victim']);
  }

  it.each([
    ['a made-up marker', '<!--oc:AAAAAAAAAAAAAAAA:0-->'],
    ['a marker with another index', '<!--oc:x:1--><!--oc:x:0-->'],
    ['a marker without its end', '<!--oc:'],
    ['nested imitations', '<!--oc:<!--oc:a:0-->:0-->'],
  ])('rule "imitations stay text": %s', async (_what, review) => {
    await expectInert(review);
  });

  it('rule "a marker of another render is inert": a real marker leaked by one page, replayed into another', async () => {
    const leak = await rawRequest(t, '/attack/leak', { headers: { 'x-user': 'leaker' } });
    const marker = /<pre>(.*)<\/pre>/.exec(leak.text)![1].replace(/&lt;/g, '<');
    expect(marker).toMatch(/^<!--oc:[\w-]+:\d+-->$/);
    expect(visitors(leak.text)).toEqual(['visitor leaker']);
    await expectInert(marker);
  });

  it('rule "a marker of another render is inert": a stored page keeps no marker to steal, and a repeated foreign one stays text', async () => {
    // A stored page is kept pre-split: its own render's token is in no stored byte nor response.
    await rawRequest(t, '/attack/review?review=x');
    const entry = await storedReview();
    expect(entry.body.toString()).not.toMatch(/<!--oc:/);
    await t.app.get(OutputCacheProvider).invalidateAll();
    const leak = await rawRequest(t, '/attack/leak');
    const marker = /<pre>(.*)<\/pre>/.exec(leak.text)![1].replace(/&lt;/g, '<');
    await expectInert(`${marker}${marker}`);
  });
});
