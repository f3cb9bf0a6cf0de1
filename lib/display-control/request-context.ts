import { AsyncLocalStorage } from 'node:async_hooks';

/** A component placed in a page while it renders: the side table of the markers. */
export interface Placement {
  readonly name: string;
  /** The arguments as given (used for this response only). */
  readonly args: unknown;
  /** The arguments as JSON (stored with the entry), or undefined when not serialisable. */
  readonly argsJson: string | undefined;
}

/** Places components into the page of a request (the PageComposer). */
export interface ComponentPlacer {
  place(ctx: OutputCacheRequestContext, name: string, args: unknown): string;
}

/** What one request collects while its page renders. */
export class OutputCacheRequestContext {
  readonly tags = new Set<string>();
  uncacheable = false;
  uncacheableReason: string | undefined;
  /** Random per render: only markers carrying it are components of this page. */
  token: string | undefined;
  readonly placements: Placement[] = [];
  /** Set once res.send composes components (outside a capturing render). */
  composesOnSend = false;
  /** Component names whose nesting limit was reported (logged once). */
  depthReported: Set<string> | undefined;
  /** The eviction clock when the render started (see EvictionLog). */
  startedAt = 0;
  /** Set by the interceptor: how `placeComponent()` reaches the composer. */
  composer: ComponentPlacer | undefined;

  /**
   * @param capturing whether the route is being rendered for storing
   * @param req the Express request
   * @param res the Express response
   * @param routeId route id of the page
   */
  constructor(
    readonly capturing: boolean,
    readonly req: any,
    readonly res: any,
    readonly routeId: string,
  ) {}

  markUncacheable(reason: string): void {
    this.uncacheable = true;
    this.uncacheableReason ??= reason;
  }
}

/** The per-request store behind DisplayControl and components: no request scope needed. */
export const outputCacheContext = new AsyncLocalStorage<OutputCacheRequestContext>();
