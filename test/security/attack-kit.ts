import http from 'node:http';
import { connect } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  OutputCacheModule,
  type OutputCacheModuleOptions,
  OutputCacheProvider,
  OutputCacheStats,
} from '../../lib/index.js';
import { createTestApp, type TestApp, type TestPlatformOptions } from '../helpers/test-app.js';
import { attack, AttackController, attackComponents } from './attack.controller.js';

/** The vary-by resolvers the attack routes name (each reads one request header). */
export const ATTACK_VARY_BY = {
  forwardedHost: { header: 'X-Forwarded-Host' },
  foo: { header: 'X-Foo' },
  a: { header: 'X-A' },
  b: { header: 'X-B' },
  /** A set of values: `X-List: a|b` is `['a', 'b']`, so `a,b` is one value holding a comma. */
  list: (req: { headers: Record<string, unknown> }) =>
    typeof req.headers['x-list'] === 'string' ? req.headers['x-list'].split('|') : undefined,
};

/** A real app serving {@link AttackController} over HTTP, with the cache's options merged in. */
export function createAttackApp(
  options: OutputCacheModuleOptions = {},
  configure?: (app: NestExpressApplication) => void,
  platformOptions?: TestPlatformOptions,
): Promise<TestApp> {
  return createTestApp(
    {
      // `reasonHeader`: every bypass names its reason on the response, as well as in the stats.
      imports: [
        OutputCacheModule.forRoot({ varyBy: ATTACK_VARY_BY, reasonHeader: true, ...options }),
      ],
      controllers: [AttackController],
      providers: attackComponents,
    },
    configure,
    platformOptions,
  );
}

/** A response read off the wire. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** The port a test app listens on. */
export const portOf = (t: TestApp): number =>
  (t.app.getHttpServer().address() as { port: number }).port;

/**
 * A request with a raw request target (supertest would normalise or encode it), any method and
 * headers. `body` is sent as is (a fat GET).
 */
export function rawRequest(
  t: TestApp,
  path: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: portOf(t),
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes `head` (request line and headers, CRLF-separated, without the blank line) on a fresh
 * TCP connection, exactly as given: absolute-form targets, odd Host headers and unencoded
 * characters that no HTTP client library sends; then `body`, if any. Resolves with the parsed
 * response.
 */
export function socketRequest(to: TestApp | number, head: string, body = ''): Promise<RawResponse> {
  const port = typeof to === 'number' ? to : portOf(to);
  const length = body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${head}\r\n${length}Connection: close\r\n\r\n${body}`);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
      const headers: http.IncomingHttpHeaders = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let text = raw.slice(split + 4);
      if (headers['transfer-encoding'] === 'chunked') text = unchunk(text);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text });
    });
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** Reasons counted since a mark: what a test checks instead of "not a HIT". */
export interface ReasonDelta {
  bypassed: Record<string, number>;
  notStored: Record<string, number>;
  hits: number;
  misses: number;
  stored: number;
  unservable: number;
}

/**
 * Marks the cache's counters now; the returned function gives what changed since (only the
 * reasons that moved), so a test checks the exact reason a page was bypassed or not stored.
 *
 * @example
 * ```ts
 * const since = mark(t);
 * await t.http().get('/x').set('X-HTTP-Method-Override', 'POST');
 * expect(since().bypassed).toEqual({ 'method-override': 1 });
 * ```
 */
export function mark(t: TestApp): () => ReasonDelta {
  const cache = t.app.get(OutputCacheProvider);
  const before = cache.stats();
  return () => {
    const now = cache.stats();
    const diff = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(a)
          .map(([k, v]) => [k, v - (b[k] ?? 0)] as const)
          .filter(([, v]) => v !== 0),
      );
    return {
      bypassed: diff(now.bypassed, before.bypassed),
      notStored: diff(now.notStored, before.notStored),
      hits: now.hits - before.hits,
      misses: now.misses - before.misses,
      stored: now.stored - before.stored,
      unservable: now.unservable - before.unservable,
    };
  };
}

/** Starts the cache's counters anew: a test's counts are its own (with {@link mark} deltas too). */
export function resetStats(t: TestApp): void {
  t.app.get(OutputCacheStats).reset();
}

/** Before each test: no renders counted, counters anew, nothing cached. */
export async function freshStart(t: TestApp): Promise<void> {
  attack.renders = 0;
  resetStats(t);
  await t.app.get(OutputCacheProvider).invalidateAll();
}

/**
 * Checks that a response bypassed the cache for `reason`: `X-Cache: BYPASS`, the reason on the
 * response (`X-Cache-Reason: bypass: {reason}`) and in the stats, exactly once since the mark.
 */
export function expectBypassed(
  res: { headers: Record<string, unknown> },
  since: () => ReasonDelta,
  reason: string,
): void {
  expect(res.headers['x-cache']).toBe('BYPASS');
  expect(res.headers['x-cache-reason']).toBe(`bypass: ${reason}`);
  expect(since().bypassed).toEqual({ [reason]: 1 });
}
