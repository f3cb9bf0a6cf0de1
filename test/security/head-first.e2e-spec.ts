import 'reflect-metadata';
import { OutputCacheProvider } from '../../lib/index.js';
import type { TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';
import { attack } from './attack.controller.js';
import { createAttackApp, mark, rawRequest, resetStats } from './attack-kit.js';

/**
 * HEAD first. The rule: a HEAD is answered from the GET entry but never creates one, so an
 * empty body rendered for a HEAD is never served to a GET (`head`), whatever the order or the
 * concurrency.
 */
describe('attack: HEAD first (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp();
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    attack.renders = 0;
    resetStats(t);
    attack.gate = Promise.resolve();
    await t.app.get(OutputCacheProvider).invalidateAll();
  });

  it('rule "HEAD never stores": a HEAD miss is not stored, and the GET after it gets the whole page', async () => {
    const since = mark(t);
    const head = await rawRequest(t, '/attack/page', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(since().notStored).toEqual({ head: 1 });
    expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
    const get = await rawRequest(t, '/attack/page');
    expect(get.headers['x-cache']).toBe('MISS');
    expect(get.text).toContain('page body');
    await until(() => since().stored === 1, 'the GET to be stored');
    const hit = await rawRequest(t, '/attack/page');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(get.text);
  });

  it('rule "HEAD is answered from the GET entry": a HEAD hit has the length of the body, and no body', async () => {
    const get = await rawRequest(t, '/attack/page');
    await until(async () => (await t.app.get(OutputCacheProvider).count()) === 1, 'stored');
    const head = await rawRequest(t, '/attack/page', { method: 'HEAD' });
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.text).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(get.text));
  });

  it('rule "HEAD never stores": a HEAD rendering while a GET arrives leaves the GET its own render', async () => {
    let open!: () => void;
    attack.gate = new Promise<void>((resolve) => (open = resolve));
    const head = rawRequest(t, '/attack/gated', { method: 'HEAD' });
    await until(() => attack.renders === 1, 'the HEAD to render');
    const get = rawRequest(t, '/attack/gated');
    await until(() => attack.renders === 2, 'the GET to render for itself');
    open();
    expect((await head).text).toBe('');
    const page = await get;
    expect(page.text).toContain('gated y');
    await until(async () => (await t.app.get(OutputCacheProvider).count()) === 1, 'stored');
    const hit = await rawRequest(t, '/attack/gated');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(page.text);
  });

  it('rule "HEAD is answered from the GET entry": a HEAD during a GET render gets its head, the GET its body', async () => {
    let open!: () => void;
    attack.gate = new Promise<void>((resolve) => (open = resolve));
    const get = rawRequest(t, '/attack/gated');
    await until(() => attack.renders === 1, 'the GET to render');
    const head = rawRequest(t, '/attack/gated', { method: 'HEAD' });
    open();
    const [page, headRes] = await Promise.all([get, head]);
    expect(page.text).toContain('gated y');
    expect(headRes.text).toBe('');
    expect(Number(headRes.headers['content-length'])).toBe(Buffer.byteLength(page.text));
    // Whether the HEAD waited for the GET or rendered beside it, the entry is the GET's.
    await until(async () => (await t.app.get(OutputCacheProvider).count()) === 1, 'stored');
    const hit = await rawRequest(t, '/attack/gated');
    expect(hit.text).toBe(page.text);
  });
});
