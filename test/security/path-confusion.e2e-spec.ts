import 'reflect-metadata';
import { OutputCacheProvider } from '../../lib/index.js';
import type { TestApp } from '../helpers/test-app.js';
import {
  createAttackApp,
  expectBypassed,
  mark,
  portOf,
  rawRequest,
  freshStart,
} from './attack-kit.js';

/**
 * Path confusion. The rules: whether a page is cached is the route's policy, never the path's
 * look (`/account/x.css` is no static file); two spellings of a path share an entry only when
 * the route sees them alike (a trailing slash aside, which the router ignores: documented);
 * `exclude` holds for every spelling that reaches the route.
 */
describe('attack: path confusion (e2e)', () => {
  let t: TestApp;
  let origin: string;

  beforeAll(async () => {
    t = await createAttackApp({ exclude: ['/attack/private/**'], sessionCookie: 'sid' });
    origin = `http://127.0.0.1:${portOf(t)}`;
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  const body = (text: string) => text.replace(/ #\d+$/, '');

  it.each(['x.css', 'x.js', 'avatar.png', 'x;.css', '%2e%2e/x.css', 'x.css?cb=1'])(
    'rule "the route decides, not the extension" (web cache deception): a signed-in /attack/account/%s is never stored',
    async (suffix) => {
      const since = mark(t);
      const victim = await rawRequest(t, `/attack/account/${suffix}`, {
        headers: { cookie: 'sid=victim-session' },
      });
      expect(victim.status).toBe(200);
      expect(victim.text).toContain('victim-session');
      expectBypassed(victim, since, 'authenticated');
      const attacker = await rawRequest(t, `/attack/account/${suffix}`);
      expect(attacker.headers['x-cache']).toBe('MISS');
      expect(attacker.text).not.toContain('victim-session');
    },
  );

  it.each([
    ['case', '/Attack/Origin'],
    ['case', '/ATTACK/ORIGIN'],
    ['a double slash', '/attack//origin'],
    ['a leading double slash', '//attack/origin'],
    ['a dot segment', '/attack/./origin'],
    ['a dot-dot segment', '/attack/x/../origin'],
    ['an encoded dot-dot', '/attack/x/%2e%2e/origin'],
    ['`;` in a segment', '/attack/origin;x.css'],
    ['an encoded slash', '/attack%2Forigin'],
    ['an encoded letter', '/attack/%6Frigin'],
    ['a trailing dot segment', '/attack/origin/.'],
    ['an encoded `?`', '/attack/origin%3Fx=1'],
  ])(
    'rule "a spelling shares an entry only if the route sees it alike": %s (%s)',
    async (_what, spelling) => {
      const clean = await rawRequest(t, '/attack/origin');
      await t.app.get(OutputCacheProvider).invalidateAll();
      const attacker = await rawRequest(t, spelling);
      if (attacker.status === 200) {
        // The route reflects the spelling it was sent.
        expect(attacker.text).toContain(`href="${origin}${spelling}"`);
      }
      const victim = await rawRequest(t, '/attack/origin');
      expect(victim.status).toBe(200);
      expect(body(victim.text)).toBe(body(clean.text));
      // Asked again, the spelling gets its own page, never the victim's.
      const again = await rawRequest(t, spelling);
      expect(again.status).toBe(attacker.status);
      if (again.status === 200) expect(body(again.text)).toBe(body(attacker.text));
    },
  );

  it('rule "a trailing slash is ignored, as the router does" (documented): /attack/origin/ shares the entry', async () => {
    const slash = await rawRequest(t, '/attack/origin/');
    expect(slash.text).toContain(`href="${origin}/attack/origin/"`);
    const plain = await rawRequest(t, '/attack/origin');
    expect(plain.headers['x-cache']).toBe('HIT');
    // The one byte a shared entry may differ in: a slash, no markup.
    expect(body(plain.text)).toBe(body(slash.text));
  });

  it('rule "an encoded slash is not a slash": /attack/item/a%2Fb and /attack/item/a/b never meet', async () => {
    const encoded = await rawRequest(t, '/attack/item/a%2Fb');
    expect(encoded.status).toBe(200);
    expect(encoded.text).toContain('item a/b at /attack/item/a%2Fb');
    const lower = await rawRequest(t, '/attack/item/a%2fb');
    expect(lower.headers['x-cache']).toBe('MISS');
    expect(lower.text).toContain('at /attack/item/a%2fb');
    expect((await rawRequest(t, '/attack/item/a/b')).status).toBe(404);
  });

  it.each([
    '/attack/private/page',
    '/ATTACK/PRIVATE/page',
    '/attack/Private/Page',
    '/attack/%70rivate/page',
    '/attack/private/page/',
    '/attack//private/page',
    '/attack/x/../private/page',
  ])('rule "exclude holds for every spelling that reaches the route": %s', async (spelling) => {
    const since = mark(t);
    const res = await rawRequest(t, spelling);
    if (res.status === 404) {
      expect(since().misses).toBe(0);
      return;
    }
    expect(res.status).toBe(200);
    expectBypassed(res, since, 'excluded');
    expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
  });
});
