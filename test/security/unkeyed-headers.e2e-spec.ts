import 'reflect-metadata';
import type { TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';
import { OutputCacheProvider } from '../../lib/index.js';
import { createAttackApp, expectBypassed, mark, freshStart } from './attack-kit.js';

/**
 * Cache poisoning through unkeyed headers. The rule: a page rendered for a request carrying a
 * header an attacker controls is never served to a request without it. Either the header is in
 * the key (Express reads it under `trust proxy`, and the key is built from what Express
 * resolves), or the response is not stored (method overrides bypass; a `Vary` outside the key
 * is not stored), or the app does not see it (Express ignores `Forwarded`, `X-Original-URL`,
 * `X-Rewrite-URL`, and `X-Forwarded-*` without `trust proxy`). An app that reads a raw header
 * itself must declare it (a `{ header }` vary-by): see the README's security notes.
 */
const POISONS: [string, string][] = [
  ['x-forwarded-host', 'evil.example'],
  ['x-forwarded-host', 'evil.example, 127.0.0.1'],
  ['x-forwarded-proto', 'evil'],
  ['x-forwarded-proto', 'https'],
  ['x-forwarded-proto', 'HTTP'],
  ['forwarded', 'host=evil.example;proto=https'],
  ['x-original-url', '/attack/evil'],
  ['x-rewrite-url', '/attack/evil'],
];

describe.each([
  ['unset', undefined],
  ['set (loopback)', 'loopback'],
])('attack: poisoning through unkeyed headers, trust proxy %s (e2e)', (_label, trustProxy) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp({}, undefined, trustProxy ? { trustProxy } : {});
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  it.each(POISONS)(
    'rule "what Express resolves is keyed": %s: %s never reaches a request without it',
    async (header, value) => {
      const clean = await t.http().get('/attack/origin?x=1');
      const cleanBody = clean.text.replace(/ #\d+$/, '');
      await t.app.get(OutputCacheProvider).invalidateAll();
      const poisoned = await t.http().get('/attack/origin?x=1').set(header, value);
      expect(poisoned.status).toBe(200);
      const seen = poisoned.text.replace(/ #\d+$/, '') !== cleanBody;
      // The victim, after the attacker's page was stored (or not).
      await until(
        async () => (await t.app.get(OutputCacheProvider).count()) >= 1,
        "the attacker's render to be stored",
      );
      const victim = await t.http().get('/attack/origin?x=1');
      expect(victim.status).toBe(200);
      expect(victim.text.replace(/ #\d+$/, '')).toBe(cleanBody);
      // The header changed what the route saw only where it is keyed (trust proxy and X-F-*).
      expect(seen).toBe(trustProxy !== undefined && header.startsWith('x-forwarded-'));
      // A victim gets the shared entry exactly when the attacker's request looked like theirs.
      expect(victim.headers['x-cache']).toBe(seen ? 'MISS' : 'HIT');
    },
  );

  it('rule "a declared header is keyed": a vary-by on X-Forwarded-Host splits the page by it', async () => {
    const evil = await t.http().get('/attack/declared').set('X-Forwarded-Host', 'evil.example');
    expect(evil.text).toContain('//evil.example/app.js');
    const victim = await t.http().get('/attack/declared');
    expect(victim.headers['x-cache']).toBe('MISS');
    expect(victim.text).not.toContain('evil');
    const again = await t.http().get('/attack/declared').set('X-Forwarded-Host', 'evil.example');
    expect(again.headers['x-cache']).toBe('HIT');
  });

  it.each([
    ['X-HTTP-Method-Override', 'POST'],
    ['X-HTTP-Method', 'DELETE'],
    ['X-Method-Override', 'PUT'],
  ])(
    'rule "method overrides bypass": %s: %s is never stored nor served from the cache',
    async (header, method) => {
      await t.http().get('/attack/origin');
      const since = mark(t);
      const res = await t.http().get('/attack/origin').set(header, method);
      expect(res.status).toBe(200);
      expectBypassed(res, since, 'method-override');
      expect(since().hits).toBe(0);
    },
  );

  it.each(['_method=POST', 'a=1&_method=DELETE', '%5Fmethod=PUT', '_%6Dethod=PUT', '_method'])(
    'rule "method overrides bypass": the query ?%s bypasses, however its name is spelled',
    async (query) => {
      const since = mark(t);
      const res = await t.http().get(`/attack/origin?${query}`);
      expect(res.status).toBe(200);
      expectBypassed(res, since, 'method-override');
      expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
    },
  );

  it('rule "only GET and HEAD": a POST carrying _method=GET is not cached', async () => {
    const since = mark(t);
    const res = await t.http().post('/attack/origin').type('form').send('_method=GET');
    expect(res.status).toBe(404); // no POST route: the cache never sees it
    expect(since().bypassed).toEqual({});
    expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
  });
});
