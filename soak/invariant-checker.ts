import type { EditLedger } from './edit-ledger.js';
import type { SoakResponse } from './soak-http-client.js';
import {
  type FaultWindow,
  type InvariantName,
  INVARIANTS,
  type SoakInstance,
} from './soak-types.js';

/** Who sent a request, as far as the checks are concerned. */
export interface Visitor {
  /** The cart count this visitor's pages must show (0: no cart). */
  cartCount: number;
  label: string;
  /** The shopper's name (the `shopper` cookie), which their pages' `Greeting` hole must show. */
  name?: string;
}

/** What the soak knows about one response before checking it. */
export interface CheckContext {
  instance: SoakInstance;
  visitor: Visitor;
  path: string;
  /** An HTML page of the shop (layout with MiniCart and the store name). */
  page: boolean;
  /** The request asked the MiniCart to throw (`x-sample-fault: component`). */
  componentFault?: boolean;
  /** A back-office call (edit, purge). */
  admin?: boolean;
  /** A purge (`DELETE /admin/cache`): a 503 while the store is away is its documented answer. */
  purge?: boolean;
  /** A page warmed before the database went away: it must answer 200 while it is away. */
  keptProbe?: boolean;
}

/** Allowances, all stated in the report. */
export interface CheckerOptions {
  /** A tiered instance may serve a page this long after another tiered instance's edit returned. */
  busAllowanceMs: number;
  /** ... and this long after an edit on the plain-Redis instance (no bus: `l1Revalidate`). */
  revalidateAllowanceMs: number;
  /**
   * After a Redis fault, how long stale pages may still show (TTL + grace + l1Revalidate + bus).
   * How long the instances take to reach the store and the database again after a fault is not
   * assumed: it is measured ({@link FaultWindow.recovery}).
   */
  redisRecoveryMs: number;
  /** Highest heap used an instance may reach, in bytes. */
  heapBound: number;
}

const CART_COUNT = /<span class="cart-count">(\d+)<\/span>/g;
const CART_FALLBACK = '<a class="cart" href="/cart">Cart</a>';
const SHOPPER_NAME = /<span class="shopper-name">([^<]*)<\/span>/g;

/**
 * Checks every response the soak receives, not a sample, against the invariants, and keeps
 * what was tolerated during each fault window.
 */
export class InvariantChecker {
  readonly checked = new Map<InvariantName, number>(INVARIANTS.map((n) => [n, 0]));
  readonly violations = new Map<InvariantName, number>(INVARIANTS.map((n) => [n, 0]));
  readonly examples: string[] = [];
  /** Stale reads on tiered instances within the bus allowance: lag after the edit (ms). */
  readonly busLags: number[] = [];
  readonly windows: FaultWindow[] = [];
  private readonly unmarked: [string, string][];
  /** Every named shopper's unique marker (part of the name): no other visitor's page shows it. */
  private readonly nameMarkers = new Map<string, string>();

  constructor(
    private readonly ledger: EditLedger,
    private readonly options: CheckerOptions,
    /** Original (pre-soak) names by subject, to catch a page older than the first edit. */
    originalNames: Map<string, string>,
  ) {
    this.unmarked = [...originalNames].map(([subject, name]) => [subject, `>${escapeHtml(name)}<`]);
  }

  /** A shopper's name and its unique marker, to find it on other visitors' pages. */
  registerName(name: string, marker: string): void {
    this.nameMarkers.set(name, marker);
  }

  /** Opens a fault window now; close it with {@link closeWindow}. */
  openWindow(name: string, now: number): FaultWindow {
    const window: FaultWindow = {
      name,
      start: now,
      end: Infinity,
      tolerated: new Map(),
      notes: [],
    };
    this.windows.push(window);
    return window;
  }

  closeWindow(window: FaultWindow, now: number): void {
    window.end = now;
  }

  /** The soak's start, for the times in messages. */
  origin = performance.now();

  violation(invariant: InvariantName, message: string): void {
    this.violations.set(invariant, this.violations.get(invariant)! + 1);
    const t = ((performance.now() - this.origin) / 1000).toFixed(1);
    if (this.examples.length < 40) this.examples.push(`${invariant} at ${t} s: ${message}`);
  }

  pass(invariant: InvariantName): void {
    this.checked.set(invariant, this.checked.get(invariant)! + 1);
  }

  /** Checks one response; every response goes through here. */
  check(res: SoakResponse, ctx: CheckContext): void {
    const where = `${ctx.instance.name} ${ctx.path} (${ctx.visitor.label})`;
    if (res.aborted) return; // the soak cut it itself: nothing came back to check
    this.pass('no-5xx');
    if (res.error || res.status >= 500) {
      const what = res.error ?? `status ${res.status}`;
      const window = this.expected5xx(res, ctx);
      if (window) this.tolerate(window, ctx.admin ? `back office ${what}` : `page ${what}`);
      else this.violation('no-5xx', `${where}: ${what}`);
      if (ctx.keptProbe)
        this.violation(
          'kept-copy-200',
          `${where}: ${what} with a kept copy [${String(res.headers?.['x-cache'])} ${String(res.headers?.['x-cache-reason'])}]`,
        );
      return;
    }
    if (ctx.keptProbe) {
      this.pass('kept-copy-200');
      if (res.status !== 200) this.violation('kept-copy-200', `${where}: status ${res.status}`);
    }
    if (!ctx.page || res.status !== 200) return;
    this.checkShopper(res, ctx, where);
    this.checkVersions(res, ctx, where);
  }

  /** Reads a memory sample of an instance against the bound. */
  checkHeap(instance: SoakInstance, heapUsed: number): void {
    this.pass('heap-bound');
    if (heapUsed > this.options.heapBound) {
      this.violation(
        'heap-bound',
        `${instance.name}: heap ${(heapUsed / 2 ** 20).toFixed(0)} MB over ` +
          `${(this.options.heapBound / 2 ** 20).toFixed(0)} MB`,
      );
    }
  }

  private checkShopper(res: SoakResponse, ctx: CheckContext, where: string): void {
    this.pass('shopper-isolation');
    this.checkName(res, ctx, where);
    const counts = [...res.body.matchAll(CART_COUNT)].map((m) => Number(m[1]));
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    if (setCookie.some((c) => c.startsWith('cart='))) {
      this.violation('shopper-isolation', `${where}: a GET page set a cart cookie`);
    }
    if (ctx.componentFault) {
      this.pass('component-fallback');
      if (counts.length > 0 || !res.body.includes(CART_FALLBACK)) {
        this.violation(
          'component-fallback',
          `${where}: the throwing MiniCart's fallback is missing`,
        );
      } else this.tolerate(this.windowAt(res.start, 'component'), 'MiniCart threw: fallback shown');
      return;
    }
    // The MiniCart reads the cart's products from the database: while it is away, its fallback.
    const databaseDown = this.windows.find(
      (w) =>
        w.name.startsWith('database unreachable') &&
        res.end >= w.start &&
        res.start <= this.recoveredAt(w, ctx.instance.name),
    );
    if (counts.length === 0 && res.body.includes(CART_FALLBACK) && databaseDown) {
      this.tolerate(databaseDown, 'MiniCart fallback (its data unreachable)');
      return;
    }
    if (counts.length !== 1 || counts[0] !== ctx.visitor.cartCount) {
      this.violation(
        'shopper-isolation',
        `${where}: cart count ${counts.join(',') || 'missing'}, expected ${ctx.visitor.cartCount}` +
          ` (X-Cache ${String(res.headers['x-cache'])})`,
      );
    }
  }

  /**
   * The `Greeting` hole: a named shopper's page shows their name, escaped, once; no page shows
   * another shopper's name (its marker, escaped or not); an unnamed visitor's shows none. The
   * hole reads no data, so this holds during every fault, the component fault included.
   */
  private checkName(res: SoakResponse, ctx: CheckContext, where: string): void {
    const shown = [...res.body.matchAll(SHOPPER_NAME)].map((m) => m[1]!);
    const own = ctx.visitor.name;
    const expected = own === undefined ? [] : [escapeHtml(own)];
    if (shown.length !== expected.length || shown.some((n, i) => n !== expected[i])) {
      this.violation(
        'shopper-isolation',
        `${where}: name hole shows ${JSON.stringify(shown)}, expected ${JSON.stringify(expected)}` +
          ` (X-Cache ${String(res.headers['x-cache'])})`,
      );
    }
    for (const [name, marker] of this.nameMarkers) {
      if (name !== own && res.body.includes(marker)) {
        this.violation(
          'shopper-isolation',
          `${where}: shows another shopper's name (${name}) (X-Cache ${String(res.headers['x-cache'])})`,
        );
      }
    }
    if (own !== undefined && own !== escapeHtml(own) && res.body.includes(own)) {
      this.violation('shopper-isolation', `${where}: the shopper's name is not escaped`);
    }
  }

  private checkVersions(res: SoakResponse, ctx: CheckContext, where: string): void {
    this.pass('no-stale-after-edit');
    let body = res.body;
    // A page from before the soak's first edits: its names carry no marker (version 0).
    if (!/\[s\d+\]/.test(body)) body += '[s0]';
    for (const [subject, needle] of this.unmarked) {
      if (subject !== 's' && body.includes(needle)) body += `[${subject}v0]`;
    }
    for (const stale of this.ledger.stale(body, res.start)) {
      const lag = res.start - stale.missed.at;
      const { instance } = ctx;
      const detail =
        `${where}: shows ${stale.subject} v${stale.seen}, v${stale.required} committed ` +
        `${lag.toFixed(0)} ms before on ${stale.missed.instance} (X-Cache ${String(res.headers['x-cache'])})`;
      // Plain Redis and the editing instance itself allow no delay at all.
      if (instance.store === 'tiered' && stale.missed.instance !== instance.name) {
        const allowance =
          stale.missed.store === 'tiered'
            ? this.options.busAllowanceMs
            : this.options.revalidateAllowanceMs;
        if (lag <= allowance) {
          if (stale.missed.store === 'tiered') this.busLags.push(lag);
          continue;
        }
      }
      const redisFault = this.redisFaultCovering(stale.missed, res.start, instance.store);
      if (redisFault) {
        this.tolerate(
          redisFault,
          `stale page after an edit during the Redis fault (${instance.name})`,
        );
        continue;
      }
      this.violation('no-stale-after-edit', detail);
    }
  }

  /**
   * A Redis fault explains a stale page when the edit returned during it, or after it but before
   * the editing instance answered its store again (its breaker still open: the eviction was
   * queued, to be made again on recovery, and until then no instance's store knows of it), or,
   * on a tiered instance, while its bus was down; either way only until the recovery bound after
   * the editing instance answered again.
   */
  private redisFaultCovering(
    edit: { at: number; instance: string },
    sentAt: number,
    store: 'tiered' | 'redis',
  ): FaultWindow | undefined {
    return this.windows.find((w) => {
      if (!w.name.startsWith('redis')) return false;
      const editorBack = Math.max(w.end, this.recoveredAt(w, edit.instance));
      return (
        sentAt <= editorBack + this.options.redisRecoveryMs &&
        ((edit.at >= w.start && edit.at <= editorBack) || (store === 'tiered' && sentAt >= w.start))
      );
    });
  }

  /**
   * The fault window that makes a 5xx expected, if any: from the fault's start until the
   * instance was measured answering again after it.
   */
  private expected5xx(res: SoakResponse, ctx: CheckContext): FaultWindow | undefined {
    return this.windows.find((w) => {
      const overlaps = res.end >= w.start && res.start <= this.recoveredAt(w, ctx.instance.name);
      if (!overlaps) return false;
      // The database unreachable: a page without a kept copy cannot be rendered, nor an edit saved.
      if (w.name.startsWith('database unreachable')) return true;
      // A store that cannot be reached cannot be purged: the back office answers 503 and says
      // the eviction is queued. Nothing else may fail for it: edits still save, pages render.
      if (w.name.startsWith('redis')) return ctx.purge === true && res.status === 503;
      return false;
    });
  }

  /**
   * Until when a fault explains failures on an instance: the time it was measured answering
   * again after the fault, or, while that is still being measured, any time; the fault's end
   * for a fault without an aftermath (or when the instance never came back: that is reported).
   */
  private recoveredAt(w: FaultWindow, instance: string): number {
    if (!w.recovery) return w.end;
    return w.recovery.at.get(instance) ?? (w.recovery.done ? w.end : Infinity);
  }

  private windowAt(at: number, prefix: string): FaultWindow | undefined {
    return this.windows.find((w) => w.name.startsWith(prefix) && at >= w.start && at <= w.end);
  }

  private tolerate(window: FaultWindow | undefined, reason: string): void {
    if (!window) return;
    window.tolerated.set(reason, (window.tolerated.get(reason) ?? 0) + 1);
  }
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
