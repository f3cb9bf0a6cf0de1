import { AsyncLocalStorage } from 'node:async_hooks';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';

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
  readonly placements: Placement[];
  /** Set once res.send composes components (outside a capturing render). */
  composesOnSend = false;
  /** Component names whose nesting limit was reported (logged once). */
  depthReported: Set<string> | undefined;
  /** The eviction clock when the render started (see EvictionLog). */
  startedAt = 0;
  /** Set by the interceptor: how `placeComponent()` reaches the composer. */
  composer: ComponentPlacer | undefined;
  /** Set by the interceptor: the module's vary-by resolvers, for `varyValue()`. */
  varyBy: ResolvedOutputCacheOptions['varyBy'] | undefined;
  /** Vary-by names the render read or declared (bubbled up from the components it inlined). */
  readonly varyRead = new Set<string>();
  /** Vary-by values of this request, by name, once resolved (shared by the whole request). */
  readonly varyValues: Map<string, VaryByValue>;
  /** The smallest max age (ms) announced by the render or its inlined components. */
  maxAgeMs: number | undefined;
  /** Why this part's output depends on the user (a component: it becomes a hole). */
  perUserReason: string | undefined;
  /** The request's page context, when this one collects for one inlined component. */
  readonly parent: OutputCacheRequestContext | undefined;

  /**
   * @param capturing whether the route is being rendered for storing
   * @param req the platform's request
   * @param res the platform's response
   * @param routeId route id of the page
   * @param parent the context this one collects for (a cacheable component inside the page)
   */
  constructor(
    readonly capturing: boolean,
    readonly req: any,
    readonly res: any,
    readonly routeId: string,
    parent?: OutputCacheRequestContext,
  ) {
    this.parent = parent;
    // A component's context places into the page's side table, under the page's token.
    this.placements = parent ? parent.placements : [];
    this.varyValues = parent ? parent.varyValues : new Map();
    if (parent) {
      this.token = parent.token;
      this.composer = parent.composer;
      this.varyBy = parent.varyBy;
      this.startedAt = parent.startedAt;
    }
  }

  /** The page's context (this one, unless it collects for a component). */
  get root(): OutputCacheRequestContext {
    return this.parent ? this.parent.root : this;
  }

  /** A context that collects for one inlined component; {@link mergeInto} its parent after. */
  child(): OutputCacheRequestContext {
    return new OutputCacheRequestContext(this.capturing, this.req, this.res, this.routeId, this);
  }

  /** Bubbles what this context collected (tags, vary-by reads, max age) up to its parent. */
  mergeInto(parent: OutputCacheRequestContext): void {
    for (const tag of this.tags) parent.tags.add(tag);
    for (const name of this.varyRead) parent.varyRead.add(name);
    if (this.maxAgeMs !== undefined) parent.limitMaxAge(this.maxAgeMs);
    if (this.uncacheable) parent.markUncacheable(this.uncacheableReason ?? 'marked-uncacheable');
  }

  markUncacheable(reason: string): void {
    this.uncacheable = true;
    this.uncacheableReason ??= reason;
  }

  /** Lowers the max age of what renders in this context to `ms` (never raises it). */
  limitMaxAge(ms: number): void {
    this.maxAgeMs = this.maxAgeMs === undefined ? ms : Math.min(this.maxAgeMs, ms);
  }
}

/** The per-request store behind DisplayControl and components: no request scope needed. */
export const outputCacheContext = new AsyncLocalStorage<OutputCacheRequestContext>();
