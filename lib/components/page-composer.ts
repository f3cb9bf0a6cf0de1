import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import {
  type ComponentPlacer,
  type OutputCacheRequestContext,
  outputCacheContext,
  type Placement,
} from '../display-control/request-context.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import type { HoleRef } from '../stores/cache-entry.js';
import { ownBuffer } from '../stores/own-buffer.js';
import { HttpPlatform } from '../http/platform/http-platform.js';
import { resolveVaryValue } from '../display-control/vary-values.js';
import { type ComponentDefinition, ComponentRegistry } from './component.registry.js';

/** A page split at its holes: static text and holes, in order. */
type Part = string | { hole: Placement; json: boolean };

/** The stored form of a page: the static bytes and where each hole goes. */
export interface ComposedPage {
  body: Buffer;
  holes: HoleRef[];
  /** Strong validator of `body` (pages without holes). */
  etag?: string;
}

const MARKER_PREFIX = '<!--oc:';

/**
 * Places view components into pages and composes the result.
 *
 * While a page renders, `place()` writes an opaque marker (`<!--oc:{token}:{n}-->`, the token
 * random per render) and keeps the component's name and JSON arguments in the request's side
 * table; arguments are never parsed back out of the HTML. When the page is sent, its markers are
 * resolved: cacheable components are rendered inline, holes stay holes (stored as byte offsets
 * with the entry) and are rendered for each response. Markers of other pages and text that
 * imitates a marker do not carry this render's token, and stay text.
 */
@Injectable()
export class PageComposer implements ComponentPlacer {
  private readonly logger = new Logger('OutputCache');

  constructor(
    private readonly registry: ComponentRegistry,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
    private readonly platform: HttpPlatform,
  ) {}

  /** Places a component in the page being rendered and returns its marker. */
  place(ctx: OutputCacheRequestContext, name: string, args: unknown): string {
    this.registry.get(name); // an unknown name fails loudly, where the view names it
    let argsJson: string | undefined;
    if (isJsonSafe(args)) {
      argsJson = JSON.stringify(args ?? {});
    } else {
      this.logger.debug(
        `component ${name} on ${ctx.routeId}: arguments are not JSON-serialisable, page not cached`,
      );
      ctx.markUncacheable('component-args');
    }
    ctx.token ??= randomBytes(12).toString('base64url');
    const index = ctx.placements.push({ name, args, argsJson }) - 1;
    if (!ctx.capturing && !ctx.composesOnSend) this.composeOnSend(ctx);
    return `${MARKER_PREFIX}${ctx.token}:${index}-->`;
  }

  /**
   * Resolves the markers of a rendered page. `forStorage`: cacheable components are rendered
   * inline and holes kept; otherwise every component is rendered inline.
   */
  async compose(
    ctx: OutputCacheRequestContext,
    text: string,
    forStorage: boolean,
  ): Promise<Part[]> {
    return this.resolve(ctx, text, forStorage, 0, isJsonResponse(ctx.res));
  }

  /** Joins static parts into bytes and records each hole's byte offset. */
  toStored(parts: Part[]): ComposedPage {
    const chunks: Buffer[] = [];
    const holes: HoleRef[] = [];
    let offset = 0;
    let text = '';
    const flush = () => {
      if (!text) return;
      const chunk = ownBuffer(text);
      chunks.push(chunk);
      offset += chunk.length;
      text = '';
    };
    for (const part of parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      flush();
      const hole: HoleRef = { at: offset, name: part.hole.name, args: part.hole.argsJson ?? '{}' };
      if (part.json) hole.json = true;
      holes.push(hole);
    }
    flush();
    return { body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), holes };
  }

  /**
   * Renders the holes of a page (concurrently) and returns the whole body. Holes of a stored page
   * get their arguments back from JSON; those of a page being rendered get the live ones.
   */
  fill(
    ctx: OutputCacheRequestContext,
    page: ComposedPage,
    live?: Part[],
  ): Buffer | Promise<Buffer> {
    if (page.holes.length === 0) return page.body;
    const liveHoles = live?.filter((p) => typeof p !== 'string');
    let pending = false;
    const outputs = page.holes.map((hole, i) => {
      const args = liveHoles ? liveHoles[i].hole.args : JSON.parse(hole.args);
      const output = this.renderHoleOf(ctx, hole.name, args, hole.json === true);
      if (typeof output !== 'string') pending = true;
      return output;
    });
    // Holes that render synchronously (the common case) cost no promise at all.
    if (!pending) return this.assemble(page, outputs as string[]);
    return Promise.all(outputs).then((done) => this.assemble(page, done));
  }

  /**
   * Starts rendering every hole of a page (concurrently, as {@link fill} does) and returns each
   * hole's output on its own, in the page's order: a string when its component answered
   * synchronously, else a promise. For streamed holes, which write each one as it is done.
   */
  renderHoles(
    ctx: OutputCacheRequestContext,
    page: ComposedPage,
    live?: Part[],
  ): (string | Promise<string>)[] {
    const liveHoles = live?.filter((p) => typeof p !== 'string');
    return page.holes.map((hole, i) => {
      const args = liveHoles ? liveHoles[i].hole.args : JSON.parse(hole.args);
      return this.renderHoleOf(ctx, hole.name, args, hole.json === true);
    });
  }

  private assemble(page: ComposedPage, outputs: string[]): Buffer {
    const chunks: Buffer[] = [];
    let last = 0;
    page.holes.forEach((hole, i) => {
      chunks.push(page.body.subarray(last, hole.at), Buffer.from(outputs[i], 'utf8'));
      last = hole.at;
    });
    chunks.push(page.body.subarray(last));
    return Buffer.concat(chunks);
  }

  /** A hole of a page; of a page being stored, in a context of its own (nothing bubbles up). */
  private renderHoleOf(
    ctx: OutputCacheRequestContext,
    name: string,
    args: unknown,
    json: boolean,
  ): string | Promise<string> {
    if (!ctx.capturing) return this.renderHole(ctx, name, args, json);
    const holeCtx = ctx.child();
    return outputCacheContext.run(holeCtx, () => this.renderHole(holeCtx, name, args, json));
  }

  /**
   * A hole's output: synchronously when its component answers a string that places nothing,
   * else through the full (async) path with timeout, fallback and nested components.
   */
  private renderHole(
    ctx: OutputCacheRequestContext,
    name: string,
    args: unknown,
    json: boolean,
  ): string | Promise<string> {
    const def = this.registry.get(name);
    let quick: unknown;
    try {
      quick = def.instance.render(args ?? {}, { req: ctx.req, res: ctx.res, routeId: ctx.routeId });
    } catch (error) {
      this.logger.error(
        `component ${def.name} failed on ${ctx.routeId}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return json ? jsonStringContent(def.fallback) : def.fallback;
    }
    if (typeof quick === 'string' && !quick.includes(MARKER_PREFIX)) {
      return json ? jsonStringContent(quick) : quick;
    }
    return this.renderDeep(ctx, name, args, 1, json, quick);
  }

  private async resolve(
    ctx: OutputCacheRequestContext,
    text: string,
    forStorage: boolean,
    depth: number,
    json: boolean,
  ): Promise<Part[]> {
    if (ctx.token === undefined || !text.includes(MARKER_PREFIX)) return [text];
    const pattern = markerPattern(ctx.token);
    const parts: (Part | Promise<Part[]>)[] = [];
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      const placement = ctx.placements[Number(match[1])];
      if (!placement) continue;
      parts.push(text.slice(last, match.index));
      last = match.index + match[0].length;
      const def = this.registry.get(placement.name);
      if (forStorage && !this.registry.isCacheable(def)) {
        parts.push({ hole: placement, json });
      } else if (depth >= this.options.maxComponentDepth) {
        this.reportDepth(ctx, def);
      } else if (forStorage) {
        parts.push(this.inline(ctx, def, placement, depth, json));
      } else {
        // Inline, and resolve what the component itself placed (same render, same token).
        parts.push(
          this.renderOne(ctx, def, placement.args, forStorage).then((html) =>
            this.resolve(ctx, json ? jsonStringContent(html) : html, forStorage, depth + 1, json),
          ),
        );
      }
    }
    parts.push(text.slice(last));
    const resolved = await Promise.all(parts);
    return resolved.flat();
  }

  /**
   * A cacheable component inlined into a page being stored, in a context of its own: what it
   * declares and announces (tags, vary-by reads, max age) bubbles up to the page; if it turns
   * out per user (reads `req.user` or the session, marks itself uncacheable or per user, max age
   * 0) it becomes a hole instead, from now on (logged once).
   */
  private async inline(
    ctx: OutputCacheRequestContext,
    def: ComponentDefinition,
    placement: Placement,
    depth: number,
    json: boolean,
  ): Promise<Part[]> {
    const child = ctx.child();
    try {
      for (const name of def.varyBy) {
        await resolveVaryValue(child, name, this.options);
        child.varyRead.add(name);
      }
    } catch (error) {
      this.logger.error(`component ${def.name} on ${ctx.routeId}: ${String(error)}`);
      ctx.root.markUncacheable('vary-error');
    }
    for (const tag of def.tags) child.tags.add(tag);
    if (def.maxAgeMs !== undefined) child.limitMaxAge(def.maxAgeMs);
    const req = watchUserReads(ctx.req, child, 'req');
    const res = watchUserReads(ctx.res, child, 'res');
    const html = await outputCacheContext.run(child, () =>
      this.renderOne(child, def, placement.args, true, undefined, req, res),
    );
    const perUser =
      child.perUserReason ??
      (child.uncacheable && !PAGE_FAILURES.has(child.uncacheableReason ?? '')
        ? `marks itself uncacheable (${child.uncacheableReason ?? 'marked-uncacheable'})`
        : child.maxAgeMs === 0
          ? 'has max age 0'
          : undefined);
    if (perUser !== undefined) {
      this.registry.makeHole(def, perUser);
      return [{ hole: placement, json }];
    }
    // What the component itself placed (same render, same token), in its context.
    const parts = await outputCacheContext.run(child, () =>
      this.resolve(child, json ? jsonStringContent(html) : html, true, depth + 1, json),
    );
    child.mergeInto(ctx);
    return parts;
  }

  private async renderDeep(
    ctx: OutputCacheRequestContext,
    name: string,
    args: unknown,
    depth: number,
    json: boolean,
    started?: unknown,
  ): Promise<string> {
    const def = this.registry.get(name);
    const html = await this.renderOne(ctx, def, args, false, started);
    const parts = await this.resolve(
      ctx,
      json ? jsonStringContent(html) : html,
      false,
      depth,
      json,
    );
    return parts.map((p) => (typeof p === 'string' ? p : '')).join('');
  }

  /** Renders a component with its timeout; a failure shows its fallback and is logged. */
  private async renderOne(
    ctx: OutputCacheRequestContext,
    def: ComponentDefinition,
    args: unknown,
    forStorage: boolean,
    started?: unknown,
    req: any = ctx.req,
    res: any = ctx.res,
  ): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const rendered = (started ??
        def.instance.render(args ?? {}, {
          req,
          res,
          routeId: ctx.routeId,
        })) as string | Promise<string>;
      const html =
        typeof rendered === 'string'
          ? rendered
          : await Promise.race([
              rendered,
              new Promise<never>((_, reject) => {
                timer = setTimeout(
                  () => reject(new Error(`timed out after ${def.timeoutMs} ms`)),
                  def.timeoutMs,
                );
              }),
            ]);
      return typeof html === 'string' ? html : String(html ?? '');
    } catch (error) {
      this.logger.error(
        `component ${def.name} failed on ${ctx.routeId}: ${error instanceof Error ? error.message : String(error)}`,
      );
      // A failed cacheable component must not be frozen into the page.
      if (forStorage) ctx.markUncacheable('component-failed');
      return def.fallback;
    } finally {
      clearTimeout(timer);
    }
  }

  private reportDepth(ctx: OutputCacheRequestContext, def: ComponentDefinition): void {
    ctx.depthReported ??= new Set();
    if (ctx.depthReported.has(def.name)) return;
    ctx.depthReported.add(def.name);
    this.logger.error(
      `component ${def.name} on ${ctx.routeId} is nested deeper than maxComponentDepth (${this.options.maxComponentDepth}); rendered empty`,
    );
  }

  /** Outside a capturing render (route not cached, bypassed, waiter), compose on send. */
  private composeOnSend(ctx: OutputCacheRequestContext): void {
    if (!ctx.res) return;
    ctx.composesOnSend = true;
    this.platform.captureBody(ctx.res, (body, send) => {
      if (typeof body !== 'string' || !body.includes(MARKER_PREFIX)) return send(body);
      outputCacheContext
        .run(ctx, () => this.compose(ctx, body, false))
        .then(
          (parts) => send(parts.map((p) => (typeof p === 'string' ? p : '')).join('')),
          (error: unknown) => {
            this.logger.error(`components of ${ctx.routeId} failed: ${String(error)}`);
            send(stripMarkers(ctx, body));
          },
        );
    });
  }
}

/**
 * Places a component from any template engine or code that builds HTML or JSON strings: returns
 * the marker to put where the component goes. Must run while a route handled by the output
 * cache renders.
 *
 * @example
 * ```ts
 * const html = `<header>${placeComponent('MiniCart', { showTotal: true })}</header>`;
 * ```
 */
export function placeComponent(name: string, args?: Record<string, unknown>): string {
  const ctx = outputCacheContext.getStore();
  if (!ctx?.composer) {
    throw new Error(
      `placeComponent("${name}") was called outside a route handled by the output cache; import OutputCacheModule and place components while a controller renders`,
    );
  }
  return ctx.composer.place(ctx, name, args ?? {});
}

/** The markers of one render: `<!--oc:{token}:{n}-->`, `n` captured. */
function markerPattern(token: string): RegExp {
  return new RegExp(`${MARKER_PREFIX}${token}:(\\d+)-->`, 'g');
}

/** The text with this render's markers removed (what a page shows when composing failed). */
export function stripMarkers(ctx: OutputCacheRequestContext, text: string): string {
  return ctx.token === undefined ? text : text.replace(markerPattern(ctx.token), '');
}

/** Reasons a component gives that keep the whole page out (a hole would not help). */
const PAGE_FAILURES: ReadonlySet<string> = new Set(['component-failed', 'component-args']);

/** Request properties whose reading makes a component's output per user. */
const PER_USER_PROPERTIES: ReadonlySet<PropertyKey> = new Set(['user', 'session', 'sessionID']);

/**
 * The request or response as a cacheable component sees it: reading the signed-in user or the
 * session, on the object or in its `locals` (where Express apps put the user for their views),
 * marks the component per user (it becomes a hole). Getters and methods run with the watched
 * object as `this`, so a helper that reads the user (passport's `req.isAuthenticated()`, an app's
 * `req.currentUser()`) is seen too.
 */
function watchUserReads(object: any, ctx: OutputCacheRequestContext, name: string): any {
  if (object === null || typeof object !== 'object') return object;
  return new Proxy(object, {
    get(target, property, receiver) {
      if (PER_USER_PROPERTIES.has(property)) {
        ctx.perUserReason ??= `reads ${name}.${String(property)}`;
      }
      const value = Reflect.get(target, property, receiver);
      if (property === 'locals') return watchUserReads(value, ctx, `${name}.locals`);
      return typeof value === 'function' ? value.bind(receiver) : value;
    },
  });
}

/** Whether the response is JSON: component output then goes inside a JSON string, escaped. */
function isJsonResponse(res: any): boolean {
  const type = res?.getHeader?.('content-type');
  return typeof type === 'string' && /[/+]json\b/i.test(type);
}

/** Escapes text for the inside of a JSON string literal (where a marker placed in JSON sits). */
function jsonStringContent(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** Plain JSON values only: what survives `JSON.stringify` and `JSON.parse` unchanged. */
export function isJsonSafe(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (value === null || value === undefined) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (Array.isArray(value)) return value.every((v) => isJsonSafe(v, depth + 1));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      return Object.values(value).every((v) => isJsonSafe(v, depth + 1));
    }
    default:
      return false;
  }
}
