import 'reflect-metadata';
import { OutputCacheProvider } from '../../lib/index.js';
import type { TestApp } from '../helpers/test-app.js';
import { createAttackApp, expectBypassed, mark, rawRequest, freshStart } from './attack-kit.js';

/**
 * Parameter cloaking, duplicates and fat GET. The rule: two requests share an entry only when the
 * route's view of the query is the same (every value of every name, in order; with a `query`
 * allow-list, of the listed names), and a GET with a body is never cached (the body is not in
 * the key).
 */
describe('attack: parameter cloaking, duplicates and fat GET (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp();
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  /** The attacker's spelling first, then the victim's: the victim must see its own query. */
  async function expectApart(path: string, attackerQuery: string, victimQuery: string) {
    const attacker = await rawRequest(t, `${path}?${attackerQuery}`);
    expect(attacker.status).toBe(200);
    const victim = await rawRequest(t, `${path}?${victimQuery}`);
    expect(victim.headers['x-cache']).toBe('MISS');
    // What a clean render of the victim's query shows.
    await t.app.get(OutputCacheProvider).invalidateAll();
    const clean = await rawRequest(t, `${path}?${victimQuery}`);
    expect(victim.text.replace(/ #\d+$/, '')).toBe(clean.text.replace(/ #\d+$/, ''));
    expect(attacker.text.replace(/ #\d+$/, '')).not.toBe(clean.text.replace(/ #\d+$/, ''));
  }

  it.each([
    ['duplicates in another order', 'a=2&a=1', 'a=1&a=2'],
    ['a duplicate added', 'a=1&a=evil', 'a=1'],
    ['`;` as a separator', 'a=1;a=evil', 'a=1'],
    ['`;` as a separator, both spellings', 'a=1;b=2', 'a=1&b=2'],
    ['an encoded `&`', 'a=1%26b=evil', 'a=1&b=evil'],
    ['an encoded `=`', 'a%3D1=x', 'a=1=x'],
    ['an encoded name', '%61=evil&a=1', 'a=1&a=evil'],
    ['`+` and `%20`', 'a=1+2', 'a=1%202'],
  ])(
    'rule "every query pair is keyed": %s never share an entry',
    async (_what, attacker, victim) => {
      await expectApart('/attack/origin', attacker, victim);
    },
  );

  it.each([
    ['an encoded name cloaking a listed one', '%71=evil&q=1', 'q=1&%71=evil'],
    ['a listed name twice', 'q=1&q=evil', 'q=1'],
  ])(
    'rule "a `query` allow-list keys every spelling of its names": %s',
    async (_what, attacker, victim) => {
      await expectApart('/attack/search', attacker, victim);
    },
  );

  it('rule "unlisted parameters are not keyed": utm_ and other names off the allow-list share the page (the route reads only `q`)', async () => {
    const first = await rawRequest(t, '/attack/search?q=shoes&utm_source=mail');
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await rawRequest(t, '/attack/search?utm_campaign=x&q=shoes&fbclid=1');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.text).toBe(first.text);
    expect(second.text).toBe('q="shoes" #1');
  });

  it.each([
    [
      'Content-Length',
      { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '6' },
      'q=evil',
    ],
    ['chunked', { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }, 'evil'],
  ])(
    'rule "a GET with a body bypasses" (fat GET, %s): never stored, never served from the cache',
    async (_what, headers, body) => {
      await rawRequest(t, '/attack/origin?q=1'); // an entry the fat GET could otherwise hit
      const since = mark(t);
      const fat = await rawRequest(t, '/attack/origin?q=1', { headers, body });
      expect(fat.status).toBe(200);
      expectBypassed(fat, since, 'request-body');
      expect(since().hits).toBe(0);
      expect(await t.app.get(OutputCacheProvider).count()).toBe(1);
    },
  );

  it('rule "a GET with a body bypasses": an empty body (Content-Length: 0) is an ordinary GET', async () => {
    await rawRequest(t, '/attack/origin', { headers: { 'content-length': '0' }, body: '' });
    const since = mark(t);
    const res = await rawRequest(t, '/attack/origin');
    expect(res.headers['x-cache']).toBe('HIT');
    expect(since().bypassed).toEqual({});
  });
});
