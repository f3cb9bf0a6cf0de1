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

/**
 * How long a request may go unanswered before it counts as a failure: long enough that a starved
 * CPU never trips it (the p99 on a machine at load 15 was 7 s), short enough to catch a hang.
 */
const TIMEOUT_MS = 60_000;

/** A keep-alive HTTP client to one instance. */
export class SoakHttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly port: number) {}

  /** Keep-alive races retried (the server closed an idle socket as the request reused it). */
  retries = 0;

  async send(req: SoakRequest): Promise<SoakResponse> {
    const res = await this.once(req, false);
    // Node's documented keep-alive race, on the client's side (the server closed an idle socket
    // as this request reused it): send it again on a socket of its own, never another pooled
    // one, which may be closing too. A reset on a fresh socket is the server's, and counts.
    if (res.error === 'ECONNRESET' && res.reusedSocket) {
      this.retries++;
      const again = await this.once(req, true);
      return again.error
        ? { ...again, error: `${again.error} (on a fresh socket, retried)` }
        : again;
    }
    if (res.error && res.reusedSocket !== undefined) {
      return { ...res, error: `${res.error} (on a ${res.reusedSocket ? 'reused' : 'new'} socket)` };
    }
    return res;
  }

  private once(
    req: SoakRequest,
    fresh: boolean,
  ): Promise<SoakResponse & { reusedSocket?: boolean }> {
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
          agent: fresh || (req.abort && req.abort !== 'none') ? false : this.agent,
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
              error: `no answer in ${req.timeoutMs ?? TIMEOUT_MS} ms`,
            });
          }
        },
        req.abort === 'mid-render' ? (req.abortAfterMs ?? 3) : (req.timeoutMs ?? TIMEOUT_MS),
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
