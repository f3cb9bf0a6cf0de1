import 'reflect-metadata';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import {
  MemoryOutputCacheStore,
  OUTPUT_CACHE_STORE,
  OutputCacheProvider,
} from '../../lib/index.js';
import { setHeader, type TestApp, testPlatform } from '../helpers/test-app.js';
import { sleep, until } from '../helpers/wait.js';
import { attack } from './attack.controller.js';
import { createAttackApp, mark, rawRequest, type RawResponse, resetStats } from './attack-kit.js';

const require = createRequire(import.meta.url);
/** The hook express-session and cookie-session use to add their cookie at writeHead. */
const onHeaders = require('on-headers') as (
  res: ServerResponse,
  listener: (this: ServerResponse) => void,
) => void;

const cookiesOf = (res: RawResponse): string[] => {
  const header = res.headers['set-cookie'];
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
};

/** Tokens handed out, in order: none may ever reach a second user. */
const issued: string[] = [];

/**
 * Cookies set at any stage of the response, CSRF tokens, and requests collapsed on a render.
 * The rules: a page whose response carries `Set-Cookie` when its head is written is never stored
 * (`set-cookie`), whichever stage added it; `Set-Cookie` is never replayed from an entry; a
 * hole's cookie is its own request's on every hit; a CSRF token is rendered per request and never
 * stored; a request that waited on another's render never receives that render's cookie.
 */
describe('attack: cookies, CSRF tokens and waiters (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp(
      {
        csrf: {
          token: (req: { headers: Record<string, unknown> }, res: ServerResponse) => {
            const token = `tok-${String(req.headers['x-user'])}-${issued.length}`;
            issued.push(token);
            setHeader(res, 'Set-Cookie', `csrf=${token}`); // a Fastify reply on Fastify
            return token;
          },
        },
      },
      (app) => {
        app.use(
          (req: { headers: Record<string, unknown> }, res: ServerResponse, next: () => void) => {
            const stage = req.headers['x-cookie-stage'];
            if (stage === 'end') {
              // A middleware that adds its cookie as the response ends (after the route sent it).
              const end = res.end;
              res.end = function (this: ServerResponse, ...args: unknown[]) {
                if (!this.headersSent) this.setHeader('Set-Cookie', 'late=end');
                return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
              } as ServerResponse['end'];
            } else if (stage === 'on-headers') {
              onHeaders(res, function () {
                this.setHeader('Set-Cookie', 'late=hook');
              });
            }
            next();
          },
        );
      },
    );
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    attack.renders = 0;
    resetStats(t);
    attack.gate = Promise.resolve();
    issued.length = 0;
    await t.app.get(OutputCacheProvider).invalidateAll();
  });

  it.each<[string, string, Record<string, string>, string]>([
    ['the handler', '/attack/cookie/handler', {}, 'sid=handler-'],
    ['an app interceptor, after the handler', '/attack/cookie/interceptor', {}, 'seen=interceptor'],
    // Express only: Fastify writes the head before it ends the response, so a middleware cannot
    // add a header at the end there (the on-headers case is the one that applies).
    ...(testPlatform === 'express'
      ? [
          [
            'a middleware, as the response ends',
            '/attack/cookie/middleware',
            { 'x-cookie-stage': 'end' },
            'late=end',
          ] as [string, string, Record<string, string>, string],
        ]
      : []),
    [
      'an on-headers hook, at writeHead',
      '/attack/cookie/middleware',
      { 'x-cookie-stage': 'on-headers' },
      'late=hook',
    ],
    [
      'a cacheable component, inside the stored page',
      '/attack/cookie/component',
      {},
      'banner=shown',
    ],
  ])('rule "a cookie keeps the page out": set by %s', async (_stage, path, headers, cookie) => {
    const since = mark(t);
    const first = await rawRequest(t, path, { headers });
    expect(first.status).toBe(200);
    expect(cookiesOf(first).join(';')).toContain(cookie);
    const second = await rawRequest(t, path, { headers });
    expect(second.headers['x-cache']).toBe('MISS');
    expect(since().notStored).toEqual({ 'set-cookie': 2 });
    expect(since().hits).toBe(0);
    expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
  });

  it('rule "a hole\'s cookie is its own request\'s": the page is stored, the cookie never', async () => {
    const since = mark(t);
    const alice = await rawRequest(t, '/attack/cookie/hole', { headers: { 'x-user': 'alice' } });
    expect(alice.text).toContain('visitor alice');
    expect(cookiesOf(alice)[0]).toMatch(/^visitor=alice;/);
    await until(() => since().stored === 1, 'the page to be stored');
    const bob = await rawRequest(t, '/attack/cookie/hole', { headers: { 'x-user': 'bob' } });
    expect(bob.headers['x-cache']).toBe('HIT');
    expect(bob.text).toContain('visitor bob');
    expect(cookiesOf(bob)).toHaveLength(1);
    expect(cookiesOf(bob)[0]).toMatch(/^visitor=bob;/);
    const anon = await rawRequest(t, '/attack/cookie/hole');
    expect(cookiesOf(anon)[0]).toMatch(/^visitor=anon;/);
    const store = t.app.get<MemoryOutputCacheStore>(OUTPUT_CACHE_STORE);
    for (const { key } of await store.list({ skip: 0, take: 100 })) {
      const entry = (await store.get(key))!;
      expect(Object.keys(entry.headers)).not.toContain('set-cookie');
    }
  });

  it('rule "a CSRF token is never shared": each user gets a fresh token, none is stored', async () => {
    const users = ['alice', 'bob', 'carol', 'alice', 'bob'];
    const seen: string[] = [];
    for (const user of users) {
      const res = await rawRequest(t, '/attack/form', { headers: { 'x-user': user } });
      expect(res.status).toBe(200);
      const token = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
      expect(token).toMatch(new RegExp(`^tok-${user}-\\d+$`));
      expect(cookiesOf(res)).toEqual([`csrf=${token}`]);
      seen.push(token!);
    }
    expect(new Set(seen).size).toBe(users.length);
    expect(attack.renders).toBe(1); // the page itself is cached
    const store = t.app.get<MemoryOutputCacheStore>(OUTPUT_CACHE_STORE);
    const [summary] = await store.list({ skip: 0, take: 10 });
    const entry = (await store.get(summary.key))!;
    expect(entry.body.toString()).not.toContain('tok-');
    expect(Object.keys(entry.headers)).not.toContain('set-cookie');
  });

  it('rule "waiters never get the leader\'s cookie": requests collapsed on a render that set one render for themselves', async () => {
    let open!: () => void;
    attack.gate = new Promise<void>((resolve) => (open = resolve));
    const since = mark(t);
    const leader = rawRequest(t, '/attack/gated-cookie', { headers: { 'x-user': 'alice' } });
    await until(() => attack.renders === 1, 'the leader to render');
    const users = Array.from({ length: 10 }, (_, i) => `user${i}`);
    const waiters = users.map((user) =>
      rawRequest(t, '/attack/gated-cookie', { headers: { 'x-user': user } }),
    );
    await sleep(100); // most queue behind the leader; on a loaded machine some come after it
    open();
    expect(cookiesOf(await leader)[0]).toMatch(/^sid=for-alice;/);
    const answers = await Promise.all(waiters);
    answers.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(cookiesOf(res)).toHaveLength(1);
      expect(cookiesOf(res)[0]).toMatch(new RegExp(`^sid=for-${users[i]};`));
    });
    // The leader's render is judged (not stored); waiters that queued render for themselves,
    // unrecorded; one that came after the leader finished renders as its own miss (hit-for-miss),
    // judged alike. Either way the only reason is the cookie, and nothing is served from the cache.
    const notStored = since().notStored;
    expect(Object.keys(notStored)).toEqual(['set-cookie']);
    expect(notStored['set-cookie']).toBeGreaterThanOrEqual(1);
    expect(notStored['set-cookie']).toBeLessThanOrEqual(11);
    expect(since().hits).toBe(0);
    expect(attack.renders).toBe(11);
  });

  it('rule "waiters never get the leader\'s cookie": waiters on a form get their own CSRF token and cookie', async () => {
    let open!: () => void;
    attack.gate = new Promise<void>((resolve) => (open = resolve));
    const leader = rawRequest(t, '/attack/form', { headers: { 'x-user': 'alice' } });
    await until(() => attack.renders === 1, 'the leader to render');
    const users = Array.from({ length: 10 }, (_, i) => `user${i}`);
    const waiters = users.map((user) =>
      rawRequest(t, '/attack/form', { headers: { 'x-user': user } }),
    );
    await sleep(100); // let them queue behind the leader (the assertions hold either way)
    open();
    const all = [await leader, ...(await Promise.all(waiters))];
    const tokens = all.map((res, i) => {
      const token = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
      expect(token).toMatch(new RegExp(`^tok-${['alice', ...users][i]}-\\d+$`));
      expect(cookiesOf(res)).toEqual([`csrf=${token}`]);
      return token;
    });
    expect(new Set(tokens).size).toBe(all.length);
    expect(attack.renders).toBe(1); // they waited, and got the stored page with their own hole
  });
});
