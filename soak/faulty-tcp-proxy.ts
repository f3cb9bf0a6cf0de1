import { createServer, type Server, type Socket, connect } from 'node:net';

/** What the proxy does to traffic. */
export type ProxyMode =
  | { kind: 'pass' }
  /** Every chunk, each way, waits this long (a slow database or network). */
  | { kind: 'slow'; delayMs: number }
  /** Open connections are cut and new ones reset at once (the database is unreachable). */
  | { kind: 'down' };

/**
 * A TCP proxy (node:net) between the app instances and PostgreSQL, which the soak turns slow or
 * unreachable. Cutting the connections here reaches every instance's pool at once, without
 * touching the shared server.
 */
export class FaultyTcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private mode: ProxyMode = { kind: 'pass' };
  /** Connections refused while down. */
  refused = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Listens on a free loopback port and resolves with it. */
  async listen(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'down') {
      for (const [client, upstream] of this.pairs) {
        client.destroy();
        upstream.destroy();
      }
      this.pairs.clear();
    }
  }

  async close(): Promise<void> {
    this.setMode({ kind: 'down' });
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  private accept(client: Socket): void {
    if (this.mode.kind === 'down') {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards chunks in order, each delayed while the mode is `slow`. */
  private pipe(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk) => {
      const mode = this.mode;
      if (mode.kind === 'slow') {
        chain = chain.then(() => new Promise<void>((r) => setTimeout(r, mode.delayMs)));
        void chain.then(() => {
          if (!to.destroyed) to.write(chunk);
        });
      } else {
        void chain.then(() => {
          if (!to.destroyed) to.write(chunk);
        });
      }
    });
  }
}
