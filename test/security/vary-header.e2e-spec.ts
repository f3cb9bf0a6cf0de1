import 'reflect-metadata';
import { OutputCacheProvider } from '../../lib/index.js';
import type { TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';
import { createAttackApp, mark, rawRequest, freshStart } from './attack-kit.js';

/**
 * A `Vary` response header naming a request header outside the key. The rule: such a response is
 * never stored (`vary`), so it is never served to a request with another value of that header;
 * with the header in the key (a `{ header }` vary-by) it is stored, one entry per value.
 */
describe('attack: Vary outside the key (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp();
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  it('rule "a Vary outside the key is not stored": Vary: X-Foo, reflected, never reaches another X-Foo', async () => {
    const since = mark(t);
    const evil = await rawRequest(t, '/attack/vary-unkeyed', { headers: { 'x-foo': 'evil' } });
    expect(evil.text).toBe('foo=evil #1');
    expect(evil.headers.vary).toBe('X-Foo');
    const victim = await rawRequest(t, '/attack/vary-unkeyed');
    expect(victim.text).toBe('foo=undefined #2');
    expect(victim.headers['x-cache']).toBe('MISS');
    expect(since().notStored).toEqual({ vary: 2 });
    expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
  });

  it('rule "a Vary outside the key is not stored": Vary: * is never stored', async () => {
    const since = mark(t);
    await rawRequest(t, '/attack/vary-star');
    const again = await rawRequest(t, '/attack/vary-star');
    expect(again.headers['x-cache']).toBe('MISS');
    expect(again.text).toBe('star #2');
    expect(since().notStored).toEqual({ vary: 2 });
  });

  it('rule "a Vary inside the key is stored per value": Vary: X-Foo with X-Foo in the key', async () => {
    const since = mark(t);
    const evil = await rawRequest(t, '/attack/vary-keyed', { headers: { 'x-foo': 'evil' } });
    await until(() => since().stored === 1, 'the page to be stored');
    const victim = await rawRequest(t, '/attack/vary-keyed', { headers: { 'x-foo': 'good' } });
    expect(victim.headers['x-cache']).toBe('MISS');
    expect(victim.text).toBe('foo=good #2');
    const again = await rawRequest(t, '/attack/vary-keyed', { headers: { 'x-foo': 'evil' } });
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.text).toBe(evil.text);
    expect(again.headers.vary).toBe('X-Foo');
    expect(since().notStored).toEqual({});
  });
});
