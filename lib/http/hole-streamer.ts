import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { type ComposedPage, PageComposer } from '../components/page-composer.js';
import { ComponentRegistry } from '../components/component.registry.js';
import {
  type OutputCacheRequestContext,
  outputCacheContext,
} from '../display-control/request-context.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions, StreamHoles } from '../output-cache.options.js';
import type { StoredHeaders } from '../stores/cache-entry.js';
import { HtmlPlacement } from './html-placement.js';
import { HttpPlatform, type ResponseStream } from './platform/http-platform.js';

/**
 * How one response's holes are streamed: `in-order`; `in-order` plus the inline script that
 * sets the `oc-js` cookie (an out-of-order route, a client not known to run JavaScript yet);
 * `out-of-order`.
 */
export type StreamForm = 'in-order' | 'in-order+probe' | 'out-of-order';

/** The cookie that tells a client runs JavaScript (set by the inline script of the probe). */
export const JS_COOKIE = 'oc-js';

/** The live parts of a page being rendered (the composer's, for the live arguments). */
type LiveParts = Parameters<PageComposer['fill']>[2];

/** What {@link HoleStreamer.stream} writes. */
export interface StreamedPage {
  ctx: OutputCacheRequestContext;
  res: any;
  page: ComposedPage;
  form: StreamForm;
  /** The live parts of a page being rendered now (a miss): its holes get the live arguments. */
  live?: LiveParts;
  /** The status to write; undefined keeps the response's own (a miss). */
  status?: number;
  /** Header sets applied before the head goes out (a hit's stored headers and its own). */
  headers?: StoredHeaders[];
  /** Called once the holes that set headers rendered, right before the head goes out. */
  beforeHead?: () => void;
}

/**
 * Streamed holes (option `streamHoles`): writes a page with holes piece by piece as its holes
 * finish, instead of once its slowest hole rendered. Every hole starts rendering at once (as for
 * a whole page); holes whose component `setsHeaders` are awaited before the head goes out.
 *
 * - `in-order`: the page up to the first hole at once, then each hole's HTML as soon as it and
 *   every hole before it are done, then the rest. No JavaScript.
 * - `out-of-order` (BigPipe): the page at once with a placeholder `<oc-hole id="oc-h-N">` per
 *   pending hole, then, in whatever order they finish, `<template id="oc-t-N">` with the hole's
 *   HTML and an inline script that moves it into its placeholder, then the rest of the page (from
 *   `</body>`). A hole where an element cannot go (inside a tag or a `title`, `textarea`,
 *   `script`, `style`, `select`, a table row, before `<body>`) goes out in order instead.
 *
 * A client that goes away mid-stream stops the writing quietly; its remaining holes may finish
 * rendering, and nothing more is written.
 */
@Injectable()
export class HoleStreamer {
  private readonly logger = new Logger('OutputCache');

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly composer: PageComposer,
    protected readonly registry: ComponentRegistry,
  ) {}

  /**
   * How this response's page streams under the route's `mode`, or undefined when it is written
   * whole: no streaming on the route, no holes, not a GET (HEAD keeps its `Content-Length`), or
   * not an HTML page.
   */
  formFor(
    mode: StreamHoles | undefined,
    req: any,
    contentType: unknown,
    page: Pick<ComposedPage, 'holes'>,
  ): StreamForm | undefined {
    if (!mode || page.holes.length === 0) return undefined;
    if (this.platform.method(req) !== 'GET') return undefined;
    const type = Array.isArray(contentType) ? contentType[0] : contentType;
    if (typeof type !== 'string' || !/^\s*text\/html\b/i.test(type)) return undefined;
    if (page.holes.some((hole) => hole.json)) return undefined;
    if (mode === 'in-order') return 'in-order';
    return hasJsCookie(this.platform.headers(req).cookie) ? 'out-of-order' : 'in-order+probe';
  }

  /**
   * Writes the page streamed; resolves once it ended or the client went away (then `aborted`).
   * Rejects only when it failed before the head went out (nothing was written then).
   */
  async stream(job: StreamedPage): Promise<{ aborted: boolean }> {
    const { ctx, res, page } = job;
    const outputs = outputCacheContext.run(ctx, () =>
      this.composer
        .renderHoles(ctx, page, job.live)
        .map((output, i) =>
          typeof output === 'string' ? output : this.settled(ctx, page.holes[i].name, output),
        ),
    );
    // Headers and cookies of holes that set them go out with the head; being done by then,
    // these holes are written in place (no placeholder).
    const early = page.holes.flatMap((hole, i) => {
      const output = outputs[i];
      if (typeof output === 'string' || !this.registry.get(hole.name).setsHeaders) return [];
      return [output.then((html) => void (outputs[i] = html))];
    });
    if (early.length > 0) await Promise.all(early);
    job.beforeHead?.();
    const nonce = this.nonceOf(ctx);
    const stream = this.platform.streamResponse(res, job.status, ...(job.headers ?? []));
    try {
      if (job.form === 'out-of-order') await this.outOfOrder(stream, page, outputs, nonce);
      else await this.inOrder(stream, page, outputs, job.form === 'in-order+probe', nonce);
    } catch (error) {
      // The head is out: nothing else can be said to the client.
      this.logger.error(`streaming the holes of ${ctx.routeId} failed: ${String(error)}`);
    }
    stream.end();
    return { aborted: stream.aborted };
  }

  /** Each hole in its place, written as soon as it and those before it are done. */
  private async inOrder(
    stream: ResponseStream,
    page: ComposedPage,
    outputs: (string | Promise<string>)[],
    probe: boolean,
    nonce: string | undefined,
  ): Promise<void> {
    const out = new Pending(stream);
    const { body, holes } = page;
    let last = 0;
    for (let i = 0; i < holes.length; i++) {
      out.push(body.subarray(last, holes[i].at));
      last = holes[i].at;
      const output = outputs[i];
      if (typeof output === 'string') {
        out.push(output);
        continue;
      }
      out.flush();
      const html = await output;
      if (stream.closed) return;
      out.push(html);
    }
    if (probe) {
      const end = tailStart(body, last);
      out.push(body.subarray(last, end));
      out.push(script(nonce, PROBE_SCRIPT));
      last = end;
    }
    out.push(body.subarray(last));
    out.flush();
  }

  /** The page with placeholders at once; then each hole as it finishes; then the tail. */
  private async outOfOrder(
    stream: ResponseStream,
    page: ComposedPage,
    outputs: (string | Promise<string>)[],
    nonce: string | undefined,
  ): Promise<void> {
    const out = new Pending(stream);
    const { body, holes } = page;
    const placement = new HtmlPlacement(body);
    // Ids no content of the page can know beforehand (page HTML may keep `id`s: sanitised user
    // content could otherwise hold an `oc-h-0` the mover would take for the placeholder).
    const ids = randomBytes(6).toString('base64url');
    const placed: { index: number; html: Promise<string> }[] = [];
    let last = 0;
    for (let i = 0; i < holes.length; i++) {
      const at = holes[i].at;
      out.push(body.subarray(last, at));
      last = at;
      const output = outputs[i];
      if (typeof output === 'string') {
        out.push(output);
      } else if (placement.placeable(at)) {
        out.push(`<oc-hole id="oc-h-${ids}-${i}"></oc-hole>`);
        placed.push({ index: i, html: output });
      } else {
        // Where an element cannot go: this hole is written in its place, in order.
        out.flush();
        const html = await output;
        if (stream.closed) return;
        out.push(html);
      }
    }
    const end = placed.length > 0 ? tailStart(body, last) : body.length;
    out.push(body.subarray(last, end));
    out.flush();
    let moverSent = false;
    const waiting = new Map(
      placed.map(({ index, html }) => [index, html.then((h) => ({ index, html: h }))]),
    );
    while (waiting.size > 0) {
      const done = await Promise.race(waiting.values());
      if (stream.closed) return;
      waiting.delete(done.index);
      if (!moverSent) {
        moverSent = true;
        out.push(script(nonce, MOVER_SCRIPT));
      }
      out.push(`<template id="oc-t-${ids}-${done.index}">${done.html}</template>`);
      out.push(script(nonce, `${MOVER}("${ids}-${done.index}")`));
      out.flush();
    }
    out.push(body.subarray(end));
    out.flush();
  }

  /** A hole's output that never rejects: a failure shows empty (the composer logs its own). */
  private settled(
    ctx: OutputCacheRequestContext,
    name: string,
    output: Promise<string>,
  ): Promise<string> {
    return output.catch((error: unknown) => {
      this.logger.error(`component ${name} failed on ${ctx.routeId}: ${String(error)}`);
      return '';
    });
  }

  private nonceOf(ctx: OutputCacheRequestContext): string | undefined {
    const nonce = this.options.cspNonce?.(ctx.req, ctx.res);
    return typeof nonce === 'string' && nonce !== '' ? nonce : undefined;
  }
}

/** Pieces gathered while holes answer synchronously, written as one. */
class Pending {
  private pieces: (Buffer | string)[] = [];

  constructor(private readonly stream: ResponseStream) {}

  push(piece: Buffer | string): void {
    if (piece.length > 0) this.pieces.push(piece);
  }

  flush(): void {
    if (this.pieces.length === 0) return;
    const chunk =
      this.pieces.length === 1
        ? this.pieces[0]
        : Buffer.concat(this.pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.pieces = [];
    this.stream.write(chunk);
  }
}

/** The mover's name: one global function, defined once per page before the first hole. */
const MOVER = '__ocHole';

/** Moves template `oc-t-N`'s content into placeholder `oc-h-N`. */
const MOVER_SCRIPT =
  `function ${MOVER}(n){var t=document.getElementById("oc-t-"+n),` +
  `h=document.getElementById("oc-h-"+n);if(t&&h){h.replaceWith(t.content);t.remove()}}`;

/** Tells the next requests that this client runs JavaScript (out-of-order from then on). */
const PROBE_SCRIPT = `document.cookie="${JS_COOKIE}=1; path=/; max-age=31536000; SameSite=Lax"`;

function script(nonce: string | undefined, code: string): string {
  return nonce === undefined
    ? `<script>${code}</script>`
    : `<script nonce="${escapeAttribute(nonce)}">${code}</script>`;
}

function escapeAttribute(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Whether the request carries `oc-js=1`. */
export function hasJsCookie(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join('; ') : header;
  return typeof value === 'string' && /(?:^|;)\s*oc-js=1\s*(?:;|$)/.test(value);
}

/**
 * Where the page's tail starts: its last `</body>` after `from`, or its end. Only the bytes after
 * the last hole are looked at.
 */
function tailStart(body: Buffer, from: number): number {
  const lower = body.lastIndexOf('</body', undefined, 'latin1');
  const upper = body.lastIndexOf('</BODY', undefined, 'latin1');
  const at = Math.max(lower, upper);
  return at >= from ? at : body.length;
}
