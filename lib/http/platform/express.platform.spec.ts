import { AsyncLocalStorage } from 'node:async_hooks';
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

describe('ExpressPlatform.onHeadersWritten: the listener may still set headers', () => {
  const platform = new ExpressPlatform();

  it('after a hook at writeHead, before the head goes out', async () => {
    const client = await exchange((res) => {
      const writeHead = res.writeHead;
      res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
        this.setHeader('Set-Cookie', 'sid=1');
        return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as http.ServerResponse['writeHead'];
      platform.onHeadersWritten(res, (_status, headers) => {
        res.setHeader('X-Judged', headers['set-cookie'] ? 'cookie' : 'none');
      });
      res.setHeader('content-type', 'text/plain');
      res.end('x');
    });
    expect(client['x-judged']).toBe('cookie');
  });

  it('when writeHead is given every header and none was set before', async () => {
    const client = await exchange((res) => {
      platform.onHeadersWritten(res, () => res.setHeader('X-Judged', 'yes'));
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('x');
    });
    expect(client['x-judged']).toBe('yes');
    expect(client['content-type']).toBe('text/plain');
  });
});

describe('ExpressPlatform.dispatchInternal', () => {
  const platform = new ExpressPlatform();
  const MARK = Symbol('test marker');

  interface Seen {
    req: http.IncomingMessage;
    res: http.ServerResponse;
  }

  /**
   * A real node:http server: a client's request dispatches an internal one from inside its
   * handler (with `dispatch`), and `internal` answers the internal ones.
   */
  async function withServer(
    internal: (seen: Seen) => void,
    dispatch: (req: http.IncomingMessage) => ReturnType<ExpressPlatform['dispatchInternal']>,
  ): Promise<{
    original: http.IncomingMessage;
    outcome: ReturnType<ExpressPlatform['dispatchInternal']>;
    server: http.Server;
    close: () => Promise<void>;
  }> {
    let original!: http.IncomingMessage;
    let outcome: ReturnType<ExpressPlatform['dispatchInternal']>;
    const server = http.createServer((req, res) => {
      if ((req as unknown as Record<symbol, unknown>)[MARK]) return internal({ req, res });
      original = req;
      outcome = dispatch(req);
      res.end('client');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) =>
      http
        .get(
          { host: '127.0.0.1', port, path: '/client', headers: { 'x-client': 'yes' } },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        )
        .on('error', reject),
    );
    return {
      original,
      outcome,
      server,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  it("reaches the server's 'request' listener with the URL, headers and marker; its response completes", async () => {
    let seen: Seen | undefined;
    const events: string[] = [];
    const { original, outcome, server, close } = await withServer(
      (s) => {
        seen = s;
        s.req.on('aborted', () => events.push('req aborted'));
        s.req.on('close', () => events.push('req close'));
        s.res.on('finish', () => events.push('res finish'));
        s.res.on('close', () => events.push('res close'));
        s.res.writeHead(203, { 'content-type': 'text/plain' });
        s.res.end('x'.repeat(100_000)); // discarded, whatever its size
      },
      (req) =>
        platform.dispatchInternal(req, {
          url: '/page?a=1',
          headers: { host: 'shop.example', cookie: 'sid=1', 'set-cookie': ['a=1', 'b=2'] },
          marker: MARK,
        }),
    );
    try {
      expect(outcome).toBeDefined();
      expect(await outcome!.done).toBe(203);
      expect(seen).toBeDefined();
      const { req, res } = seen!;
      expect(req.method).toBe('GET');
      expect(req.url).toBe('/page?a=1');
      expect(req.httpVersion).toBe('1.1');
      expect(req.headers).toEqual({
        host: 'shop.example',
        cookie: 'sid=1',
        'set-cookie': ['a=1', 'b=2'],
      });
      expect(req.rawHeaders).toEqual([
        'host',
        'shop.example',
        'cookie',
        'sid=1',
        'set-cookie',
        'a=1',
        'set-cookie',
        'b=2',
      ]);
      expect((req as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
      // The original request's protocol and addresses; no connection of its own.
      expect(req.socket).not.toBe(original.socket);
      expect(req.socket.remoteAddress).toBe(original.socket.remoteAddress);
      expect(req.socket.localPort).toBe(original.socket.localPort);
      expect((req.socket as unknown as { encrypted: boolean }).encrypted).toBe(false);
      expect((req.socket as unknown as { server: unknown }).server).toBe(server);
      await new Promise((r) => setImmediate(r));
      expect(res.writableFinished).toBe(true);
      expect(events).toEqual(expect.arrayContaining(['res finish', 'res close', 'req close']));
      expect(events).not.toContain('req aborted');
    } finally {
      await close();
    }
  });

  it('has no body to read: the request ends at once', async () => {
    let body: string | undefined;
    const { outcome, close } = await withServer(
      ({ req, res }) => {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (text += chunk));
        req.on('end', () => {
          body = text;
          res.end();
        });
      },
      (req) => platform.dispatchInternal(req, { url: '/', headers: {}, marker: MARK }),
    );
    try {
      expect(await outcome!.done).toBe(200);
      expect(body).toBe('');
    } finally {
      await close();
    }
  });

  it("runs outside the caller's async context, as a client's request does", async () => {
    const storage = new AsyncLocalStorage<string>();
    let store: string | undefined = 'unset';
    const { outcome, close } = await withServer(
      ({ res }) => {
        store = storage.getStore();
        res.end();
      },
      (req) =>
        storage.run('the original request', () =>
          platform.dispatchInternal(req, { url: '/', headers: {}, marker: MARK }),
        ),
    );
    try {
      await outcome!.done;
      expect(store).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('aborts through its signal: the response closes unfinished, the request is aborted', async () => {
    const controller = new AbortController();
    let seen: Seen | undefined;
    let aborted = false;
    const { outcome, close } = await withServer(
      (s) => {
        seen = s; // never answers on its own
        s.req.on('aborted', () => (aborted = true));
      },
      (req) =>
        platform.dispatchInternal(req, {
          url: '/hangs',
          headers: {},
          marker: MARK,
          signal: controller.signal,
        }),
    );
    try {
      const reason = new Error('shutting down');
      controller.abort(reason);
      await expect(outcome!.done).rejects.toBe(reason);
      expect(seen!.res.writableFinished).toBe(false);
      expect(seen!.res.destroyed).toBe(true);
      expect(aborted).toBe(true);
      // A route that answers late writes into the void, as to a client that went away.
      expect(() => seen!.res.end('late')).not.toThrow();
      await new Promise((r) => setImmediate(r));
    } finally {
      await close();
    }
  });

  it('rejects when the app destroys the response, or a listener throws', async () => {
    // Rejects while the client's request is still answered: handled here, asserted below.
    const handled = (req: http.IncomingMessage) => {
      const dispatch = platform.dispatchInternal(req, { url: '/', headers: {}, marker: MARK });
      dispatch?.done.catch(() => {});
      return dispatch;
    };
    const destroyed = await withServer(({ res }) => res.destroy(new Error('boom')), handled);
    await expect(destroyed.outcome!.done).rejects.toThrow(/destroyed before it ended/);
    await destroyed.close();
    const throwing = await withServer(() => {
      throw new Error('listener failed');
    }, handled);
    await expect(throwing.outcome!.done).rejects.toThrow('listener failed');
    await throwing.close();
  });

  it('is undefined for a request that did not come in on a server', () => {
    const req = { socket: {}, headers: {} };
    expect(platform.dispatchInternal(req, { url: '/', headers: {}, marker: MARK })).toBeUndefined();
  });
});

describe('ExpressPlatform.streamResponse', () => {
  const platform = new ExpressPlatform();

  it('writes status and headers without Content-Length, chunked, piece by piece', async () => {
    const server = http.createServer((_req, res) => {
      res.setHeader('content-length', '999');
      const stream = platform.streamResponse(res, 203, { 'content-type': 'text/html' }, { x: '1' });
      stream.write('<p>first</p>');
      // The second piece only once the client has read the first.
      server.once('next', () => {
        stream.write(Buffer.from('<p>second</p>'));
        stream.end();
        stream.write('dropped: after the end');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const { status, headers, pieces } = await new Promise<{
        status: number;
        headers: http.IncomingHttpHeaders;
        pieces: string[];
      }>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port }, (res) => {
            const pieces: string[] = [];
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              pieces.push(chunk);
              if (pieces.length === 1) server.emit('next');
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, pieces }),
            );
          })
          .on('error', reject),
      );
      expect(status).toBe(203);
      expect(headers['content-length']).toBeUndefined();
      expect(headers['transfer-encoding']).toBe('chunked');
      expect(headers.x).toBe('1');
      expect(pieces).toEqual(['<p>first</p>', '<p>second</p>']);
    } finally {
      server.close();
    }
  });

  it('drops writes quietly once the client went away, and says so', async () => {
    let stream: ReturnType<ExpressPlatform['streamResponse']> | undefined;
    const closed = new Promise<void>((resolve) => {
      const server = http.createServer((_req, res) => {
        stream = platform.streamResponse(res, 200);
        stream.write('<p>first</p>');
        res.once('close', () => {
          server.close();
          resolve();
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const req = http.get({ host: '127.0.0.1', port }, (res) => {
          res.once('data', () => req.destroy());
        });
        req.on('error', () => {});
      });
    });
    await closed;
    expect(stream!.closed).toBe(true);
    expect(stream!.aborted).toBe(true);
    expect(() => {
      stream!.write('late');
      stream!.end();
    }).not.toThrow();
  });
});
