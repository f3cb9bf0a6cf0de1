import { Agent, request } from 'node:http';

/** How a request ends on the client's side. */
export type AbortMode = 'none' | 'mid-render' | 'mid-response';

/** One request as the soak saw it. */
export interface SoakResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** When the request was sent and when its answer ended (ms, `performance.now()` clock). */
  start: number;
  end: number;
  /** Set when the soak aborted the request itself. */
  aborted?: AbortMode;
  /** A transport failure (reset, refused, timeout), not an HTTP status. */
  error?: string;
}

export interface SoakRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Abort after this many ms without an answer, or right after the answer's headers. */
  abort?: AbortMode;
  abortAfterMs?: number;
  timeoutMs?: number;
}

/** A keep-alive HTTP client to one instance. */
export class SoakHttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly port: number) {}

  /** Keep-alive races retried (the server closed an idle socket as the request reused it). */
  retries = 0;

  async send(req: SoakRequest): Promise<SoakResponse> {
    const res = await this.once(req);
    // Node's documented keep-alive race, on the client's side: send it again on a new socket.
    if (res.error === 'ECONNRESET' && res.reusedSocket) {
      this.retries++;
      return this.once(req);
    }
    return res;
  }

  private once(req: SoakRequest): Promise<SoakResponse & { reusedSocket?: boolean }> {
    const start = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (response: Omit<SoakResponse, 'start' | 'end'> & { reusedSocket?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...response, start, end: performance.now() });
      };
      const outgoing = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: req.method ?? 'GET',
          path: req.path,
          headers: {
            ...(req.body === undefined
              ? {}
              : {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(req.body),
                }),
            ...req.headers,
          },
          // A request the soak aborts must not poison a pooled socket.
          agent: req.abort && req.abort !== 'none' ? false : this.agent,
        },
        (res) => {
          if (req.abort === 'mid-response') {
            res.destroy();
            outgoing.destroy();
            done({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: '',
              aborted: 'mid-response',
            });
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            done({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', (e) => done({ status: 0, headers: {}, body: '', error: e.message }));
        },
      );
      const timer = setTimeout(
        () => {
          if (req.abort === 'mid-render') {
            outgoing.destroy();
            done({ status: 0, headers: {}, body: '', aborted: 'mid-render' });
          } else {
            outgoing.destroy();
            done({
              status: 0,
              headers: {},
              body: '',
              error: `no answer in ${req.timeoutMs ?? 15000} ms`,
            });
          }
        },
        req.abort === 'mid-render' ? (req.abortAfterMs ?? 3) : (req.timeoutMs ?? 15000),
      );
      outgoing.on('error', (e) => {
        if (req.abort && req.abort !== 'none' && settled) return;
        const error = (e as NodeJS.ErrnoException).code ?? e.message;
        done({ status: 0, headers: {}, body: '', error, reusedSocket: outgoing.reusedSocket });
      });
      if (req.body !== undefined) outgoing.write(req.body);
      outgoing.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
