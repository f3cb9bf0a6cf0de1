import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExpressPlatform } from './express.platform.js';

/** One real request through a node:http server whose handler is `handle`. */
async function exchange(
  handle: (res: http.ServerResponse) => void,
): Promise<http.IncomingHttpHeaders> {
  const server = http.createServer((_req, res) => handle(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers));
        })
        .on('error', reject),
    );
  } finally {
    server.close();
  }
}

describe('ExpressPlatform.onHeadersWritten', () => {
  const platform = new ExpressPlatform();

  it('sees headers a hook adds at writeHead (as on-headers does for sessions)', async () => {
    let seen: http.OutgoingHttpHeaders | undefined;
    const client = await exchange((res) => {
      // A session middleware's hook, installed before the cache observes the response.
      const writeHead = res.writeHead;
      res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
        this.setHeader('Set-Cookie', 'sid=1');
        return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as http.ServerResponse['writeHead'];
      platform.onHeadersWritten(res, (_status, headers) => (seen = headers));
      res.setHeader('content-type', 'text/plain');
      res.end('x');
    });
    expect(client['set-cookie']).toEqual(['sid=1']);
    expect(seen?.['set-cookie']).toBe('sid=1');
  });

  it('sees headers passed to writeHead itself', async () => {
    let status = 0;
    let seen: http.OutgoingHttpHeaders | undefined;
    await exchange((res) => {
      platform.onHeadersWritten(res, (s, headers) => {
        status = s;
        seen = headers;
      });
      res.writeHead(201, { 'X-Direct': 'yes' });
      res.end();
    });
    expect(status).toBe(201);
    expect(seen?.['x-direct']).toBe('yes');
  });
});
