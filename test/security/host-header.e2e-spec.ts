import 'reflect-metadata';
import { OutputCacheProvider } from '../../lib/index.js';
import { type TestApp, testPlatform } from '../helpers/test-app.js';
import {
  createAttackApp,
  expectBypassed,
  mark,
  portOf,
  socketRequest,
  freshStart,
} from './attack-kit.js';

/**
 * The Host header and absolute-form request targets, written on a raw socket (no client library
 * sends them). The rule: the host the route sees is the host in the key, and a request whose
 * target is not origin-form (`GET http://evil/ HTTP/1.1`) is never cached, since the route sees
 * the Host header while the router reads the target's path: the key could not say which.
 */
describe('attack: Host header and absolute-form targets (e2e)', () => {
  let t: TestApp;
  let host: string;

  beforeAll(async () => {
    t = await createAttackApp();
    host = `127.0.0.1:${portOf(t)}`;
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  const victim = () => socketRequest(t, `GET /attack/origin HTTP/1.1\r\nHost: ${host}`);

  it('rule "the host is keyed": a forged Host gets its own entry, never the victim\'s', async () => {
    const forged = await socketRequest(t, 'GET /attack/origin HTTP/1.1\r\nHost: evil.example');
    expect(forged.status).toBe(200);
    expect(forged.text).toContain('http://evil.example/attack/origin');
    const res = await victim();
    expect(res.headers['x-cache']).toBe('MISS');
    expect(res.text).toContain(`http://${host}/attack/origin`);
    expect(res.text).not.toContain('evil');
  });

  it('rule "the host is keyed": markup in a Host header is keyed escaped and stays with its sender', async () => {
    const forged = await socketRequest(
      t,
      `GET /attack/origin HTTP/1.1\r\nHost: ${host}"><script>alert(1)</script>`,
    );
    const res = await victim();
    expect(res.text).not.toContain('<script>');
    if (forged.status === 200) expect(res.headers['x-cache']).toBe('MISS');
  });

  it('rule "the host is keyed": with two Host headers, the one the route sees is the one keyed', async () => {
    const doubled = await socketRequest(
      t,
      `GET /attack/origin HTTP/1.1\r\nHost: evil.example\r\nHost: ${host}`,
    );
    const res = await victim();
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('evil');
    if (doubled.status === 200 && doubled.text.includes('evil')) {
      expect(res.headers['x-cache']).toBe('MISS');
    }
  });

  it('rule "the host is keyed": an HTTP/1.0 request without Host never shares the entry of one with it', async () => {
    const bare = await socketRequest(t, 'GET /attack/origin HTTP/1.0');
    expect(bare.status).toBe(200);
    const res = await victim();
    expect(res.headers['x-cache']).toBe('MISS');
    expect(res.text).toContain(`http://${host}/attack/origin`);
  });

  it.each([
    ['an absolute-form target with the real Host', 'http://evil.example/attack/origin', () => host],
    ['an absolute-form target with a forged Host', 'http://127.0.0.1/attack/origin', () => 'evil'],
    ['a made-up scheme', 'ttp://x/attack/origin', () => 'a'],
  ])(
    'rule "origin-form only": %s is rendered but never stored nor served from the cache',
    async (_what, target, hostOf) => {
      const since = mark(t);
      const res = await socketRequest(t, `GET ${target} HTTP/1.1\r\nHost: ${hostOf()}`);
      if (testPlatform === 'fastify' && target.startsWith('ttp:')) {
        // Fastify's router finds no route for a target of an unknown scheme: a 404, no cache.
        expect(res.status).toBe(404);
      } else {
        expect(res.status).toBe(200);
        expectBypassed(res, since, 'key-error');
      }
      expect(await t.app.get(OutputCacheProvider).count()).toBe(0);
      const clean = await victim();
      expect(clean.headers['x-cache']).toBe('MISS');
      expect(clean.text).not.toContain('evil');
    },
  );

  // Express only: on Fastify the `ttp://x/` target reaches no route (above), nothing to trade.
  (testPlatform === 'express' ? it : it.skip)(
    'rule "origin-form only": host and target cannot be traded against each other (Host a + http://x/ vs Host ah + ttp://x/)',
    async () => {
      // Both keyed as `http://a` + `http%3A//x/...` and `http://ah` + `ttp%3A//x/...` once: the same
      // string, while the route saw the hosts `a` and `ah`.
      const first = await socketRequest(t, 'GET ttp://x/attack/origin HTTP/1.1\r\nHost: ah');
      expect(first.text).toContain('hostname=ah<');
      const second = await socketRequest(t, 'GET http://x/attack/origin HTTP/1.1\r\nHost: a');
      expect(second.status).toBe(200);
      expect(second.headers['x-cache']).toBe('BYPASS');
      expect(second.text).toContain('hostname=a<');
    },
  );
});
