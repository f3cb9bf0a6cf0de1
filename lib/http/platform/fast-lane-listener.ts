import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { FastLaneHandler } from './http-platform.js';

/**
 * Puts `handler` in front of every `request` listener of `server` (the framework's): a request
 * it answers (`true`) goes no further; any other request, now or once its promise settles, is
 * handed to the framework's listeners untouched. This process's internal requests (refreshes,
 * warm-up: {@link HttpPlatform.dispatchInternal}) come on a socket that is not a connection and
 * always go straight on, since they must reach the route, which renders and stores. `before`
 * runs first on the requests the handler sees (Express sets `X-Powered-By` there).
 *
 * @example
 * frontRequestListener(adapter.getHttpServer(), (req, res) => fastLane.serve(req, res));
 */
export function frontRequestListener(
  server: Server,
  handler: FastLaneHandler,
  before?: (req: IncomingMessage, res: ServerResponse) => void,
): void {
  const listeners = server.listeners('request') as ((...args: unknown[]) => void)[];
  const toApp = (req: IncomingMessage, res: ServerResponse) => {
    for (const listener of listeners) listener.call(server, req, res);
  };
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!(req.socket instanceof Socket)) return toApp(req, res);
    let served: boolean | Promise<boolean>;
    try {
      before?.(req, res);
      served = handler(req, res);
    } catch {
      served = false;
    }
    if (served === true) return;
    if (served === false) return toApp(req, res);
    served.then(
      (ok) => ok || toApp(req, res),
      () => toApp(req, res),
    );
  });
}
