import { randomBytes } from 'node:crypto';
import type { EditLedger } from './edit-ledger.js';
import type { CheckContext, InvariantChecker, Visitor } from './invariant-checker.js';
import type { SoakRequest, SoakResponse } from './soak-http-client.js';
import { ADMIN_HEADERS, type SoakInstance } from './soak-types.js';

/** The shop as the soak found it at start. */
export interface ShopCatalog {
  categories: string[];
  /** Product slug → id, and original name. */
  products: { slug: string; id: number; name: string }[];
  blog: string[];
  storeName: string;
}

/** Counters for the report. */
export interface WorkloadStats {
  responses: number;
  latencies: number[];
  /** By instance: hits (HIT, STALE), misses (MISS), bypasses, latencies. */
  byInstance: Map<
    string,
    { responses: number; hits: number; misses: number; bypass: number; latencies: number[] }
  >;
  edits: number;
  editFailures: number;
  settingEdits: number;
  purges: number;
  /** Purges answered 503 (the store away; the eviction queued by the provider). */
  purgesRefused: number;
  aborted: { 'mid-render': number; 'mid-response': number };
  collapseFollowers: number;
}

/** Switches the fault schedule flips while the workers run. */
export interface WorkloadSwitches {
  /** The MiniCart throws for shoppers' requests (half of them). */
  componentFault: boolean;
  /** No purge nor store-name edit: pages warmed for the database outage must stay cached. */
  holdEvictAll: boolean;
  /** Pages (by instance) that must answer 200 from a kept copy while the database is away. */
  keptProbes: { instance: SoakInstance; path: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * The soak's visitors: anonymous readers, shoppers with carts and names (some signed in), an admin who
 * edits products and the store name, a purger, and clients that abort. Every response goes
 * through the {@link InvariantChecker}.
 */
export class SoakWorkload {
  readonly stats: WorkloadStats = {
    responses: 0,
    latencies: [],
    byInstance: new Map(),
    edits: 0,
    editFailures: 0,
    settingEdits: 0,
    purges: 0,
    purgesRefused: 0,
    aborted: { 'mid-render': 0, 'mid-response': 0 },
    collapseFollowers: 0,
  };
  readonly switches: WorkloadSwitches = {
    componentFault: false,
    holdEvictAll: false,
    keptProbes: [],
  };
  /** How the kept-copy probes were answered (`200 HIT`, `200 STALE`, `500`...). */
  readonly keptProbeOutcomes = new Map<string, number>();
  private running = true;
  private thinkMs = 0;
  private version = 1;
  private storeVersion = 1;
  private searchSeq = 0;

  constructor(
    private readonly instances: SoakInstance[],
    private readonly shop: ShopCatalog,
    private readonly checker: InvariantChecker,
    private readonly ledger: EditLedger,
  ) {
    for (const i of instances) {
      this.stats.byInstance.set(i.name, {
        responses: 0,
        hits: 0,
        misses: 0,
        bypass: 0,
        latencies: [],
      });
    }
  }

  /** Runs every worker until {@link stop}. */
  async run(shape: {
    anonymous: number;
    shoppers: number;
    signedIn: number;
    thinkMs: number;
  }): Promise<void> {
    this.thinkMs = shape.thinkMs;
    const workers: Promise<void>[] = [];
    for (let i = 0; i < shape.anonymous; i++) {
      workers.push(this.browse({ cartCount: 0, label: `anonymous ${i}` }, {}));
    }
    // Each shopper's cart holds a count of items no other shopper has: the MiniCart hole shows it.
    // Each one also has a name of their own, with characters to escape and a unique marker,
    // set through `POST /account/name`: the Greeting hole shows it.
    const shoppers: { visitor: Visitor; cookies: string[] }[] = [];
    for (let i = 0; i < shape.shoppers + shape.signedIn; i++) {
      const signedIn = i >= shape.shoppers;
      const cartCount = 2 + i;
      const ids = Array.from(
        { length: cartCount },
        (_, n) => this.shop.products[(i + n) % this.shop.products.length]!.id,
      );
      const cookies = [`cart=${ids.join('%2C')}`, `recent=${ids.slice(0, 3).join('%2C')}`];
      if (signedIn) cookies.push(`sid=soak-shopper-${i}`);
      if (i % 3 === 1) cookies.push('currency=EUR');
      const label = `${signedIn ? 'signed-in ' : ''}shopper ${i} (cart ${cartCount})`;
      const marker = `N${i}-${randomBytes(4).toString('hex')}`;
      const name = `O'Hara & <${marker}>`;
      this.checker.registerName(name, marker);
      cookies.push(await this.nameCookie(name, label));
      shoppers.push({ visitor: { cartCount, label, name }, cookies });
    }
    for (const { visitor, cookies } of shoppers) {
      workers.push(this.browse(visitor, { cookie: cookies.join('; ') }, true));
    }
    workers.push(this.admin(), this.purger(), this.aborter(), this.keptProber());
    await Promise.all(workers);
  }

  stop(): void {
    this.running = false;
  }

  /** Sets a shopper's name as the shop's form does, and returns the `shopper` cookie it set. */
  private async nameCookie(name: string, label: string): Promise<string> {
    const path = '/account/name';
    const instance = pick(this.instances);
    const res = await this.send(
      instance,
      { method: 'POST', path, body: JSON.stringify({ name }) },
      { visitor: { cartCount: 0, label }, path, page: false },
    );
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('shopper='));
    if (res.status !== 200 || !cookie) {
      throw new Error(
        `POST ${path} on ${instance.name}: ${res.status || res.error} without a shopper cookie`,
      );
    }
    return cookie.split(';')[0]!;
  }

  /** Sends one request to an instance and checks its response. */
  async send(
    instance: SoakInstance,
    req: SoakRequest,
    ctx: Omit<CheckContext, 'instance'>,
  ): Promise<SoakResponse> {
    const res = await instance.client.send(req);
    if (res.aborted) this.stats.aborted[res.aborted as 'mid-render' | 'mid-response']++;
    else this.record(instance, res, ctx.page);
    this.checker.check(res, { ...ctx, instance });
    return res;
  }

  /** The initial edits (version 1 of every product and of the store name), before the load. */
  async versionEverything(): Promise<void> {
    for (const product of this.shop.products) {
      await this.editProduct(this.instances[0]!, product, 1);
    }
    await this.editStoreName(this.instances[0]!, 1);
  }

  /** Measures the bus: an edit on one tiered instance, polled on the other until it shows. */
  async measureBus(rounds: number): Promise<number[]> {
    const [a, b] = this.instances.filter((i) => i.store === 'tiered');
    const delays: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const product = this.shop.products[r % this.shop.products.length]!;
      const path = `/product/${product.slug}`;
      const visitor = { cartCount: 0, label: 'bus probe' };
      await this.send(b!, { path }, { visitor, path, page: true }); // in B's L1
      await this.send(b!, { path }, { visitor, path, page: true });
      const version = ++this.version;
      const edited = await this.editProduct(a!, product, version);
      if (!edited) continue;
      for (;;) {
        const res = await this.send(b!, { path }, { visitor, path, page: true });
        if (res.body.includes(`[p${product.id}v${version}]`) || performance.now() - edited > 5000) {
          delays.push(res.end - edited);
          break;
        }
      }
    }
    return delays;
  }

  private record(instance: SoakInstance, res: SoakResponse, page: boolean): void {
    const s = this.stats.byInstance.get(instance.name)!;
    const latency = res.end - res.start;
    this.stats.responses++;
    this.stats.latencies.push(latency);
    s.responses++;
    s.latencies.push(latency);
    if (!page) return;
    const xCache = res.headers['x-cache'];
    if (xCache === 'HIT' || xCache === 'STALE') s.hits++;
    else if (xCache === 'MISS') s.misses++;
    else if (xCache === 'BYPASS') s.bypass++;
  }

  private randomPage(): string {
    const r = Math.random();
    if (r < 0.15) return '/';
    if (r < 0.4) {
      const page = Math.random() < 0.3 ? `?page=2` : Math.random() < 0.2 ? '?sort=price-asc' : '';
      return `/category/${pick(this.shop.categories)}${page}`;
    }
    if (r < 0.8) return `/product/${pick(this.shop.products).slug}`;
    if (r < 0.9) return Math.random() < 0.5 ? '/blog' : `/blog/${pick(this.shop.blog)}`;
    return `/search?q=${pick(['tent', 'pack', 'boot', 'stove', 'mug'])}`;
  }

  private async browse(
    visitor: Visitor,
    headers: Record<string, string>,
    shopper = false,
  ): Promise<void> {
    while (this.running) {
      const path = this.randomPage();
      const componentFault = shopper && this.switches.componentFault && Math.random() < 0.5;
      const req = {
        path,
        headers: componentFault ? { ...headers, 'x-sample-fault': 'component' } : headers,
      };
      await this.send(pick(this.instances), req, { visitor, path, page: true, componentFault });
      await sleep(this.thinkMs);
    }
  }

  /** Product edits all along (every ~150 ms, rotating instances), the store name every ~6 s. */
  private async admin(): Promise<void> {
    let n = 0;
    let lastStoreEdit = performance.now();
    while (this.running) {
      const instance = this.instances[n++ % this.instances.length]!;
      if (!this.switches.holdEvictAll && performance.now() - lastStoreEdit > 6000) {
        lastStoreEdit = performance.now();
        await this.editStoreName(instance, ++this.storeVersion);
      } else {
        const product = pick(this.shop.products);
        await this.editProduct(instance, product, ++this.version);
      }
      await sleep(150);
    }
  }

  /** `PATCH /admin/products/:id` with the version in the name; the ledger gets it once it returned. */
  private async editProduct(
    instance: SoakInstance,
    product: ShopCatalog['products'][number],
    version: number,
  ): Promise<number | undefined> {
    const path = `/admin/products/${product.id}`;
    const body = JSON.stringify({ name: `${product.name} [p${product.id}v${version}]` });
    const res = await this.send(
      instance,
      { method: 'PATCH', path, body, headers: ADMIN_HEADERS },
      { visitor: { cartCount: 0, label: 'admin' }, path, page: false, admin: true },
    );
    if (res.status !== 200) {
      this.stats.editFailures++;
      return undefined;
    }
    this.stats.edits++;
    const at = performance.now();
    this.ledger.record({
      subject: `p${product.id}`,
      version,
      at,
      instance: instance.name,
      store: instance.store,
    });
    return at;
  }

  private async editStoreName(instance: SoakInstance, version: number): Promise<void> {
    const path = '/admin/settings/StoreSettings.Name';
    const body = JSON.stringify({ value: `${this.shop.storeName} [s${version}]` });
    const res = await this.send(
      instance,
      { method: 'PATCH', path, body, headers: ADMIN_HEADERS },
      { visitor: { cartCount: 0, label: 'admin' }, path, page: false, admin: true },
    );
    if (res.status !== 200) {
      this.stats.editFailures++;
      return;
    }
    this.stats.settingEdits++;
    this.ledger.record({
      subject: 's',
      version,
      at: performance.now(),
      instance: instance.name,
      store: instance.store,
    });
  }

  /** `DELETE /admin/cache` on one instance every ~4 s. */
  private async purger(): Promise<void> {
    while (this.running) {
      await sleep(4000);
      if (!this.running || this.switches.holdEvictAll) continue;
      const path = '/admin/cache';
      const res = await this.send(
        pick(this.instances),
        { method: 'DELETE', path, headers: ADMIN_HEADERS },
        { visitor: { cartCount: 0, label: 'purger' }, path, page: false, admin: true, purge: true },
      );
      if (res.status === 200) this.stats.purges++;
      if (res.status === 503) this.stats.purgesRefused++;
    }
  }

  /**
   * Clients that give up: a leader that aborts its cold render while two others wait for the
   * same key (they must still get the page), and a reader that drops a page mid-response.
   */
  private async aborter(): Promise<void> {
    const visitor = { cartCount: 0, label: 'aborter' };
    while (this.running) {
      const instance = pick(this.instances);
      const path = `/search?q=abort${++this.searchSeq}`;
      const leader = this.send(
        instance,
        { path, abort: 'mid-render', abortAfterMs: 2 },
        { visitor, path, page: true },
      );
      await sleep(1);
      const followers = [1, 2].map(() =>
        this.send(instance, { path }, { visitor, path, page: true }),
      );
      this.stats.collapseFollowers += 2;
      await Promise.all([leader, ...followers]);
      const page = `${this.randomPage()}`;
      await this.send(
        pick(this.instances),
        { path: page, abort: 'mid-response' },
        { visitor, path: page, page: true },
      );
      await sleep(20);
    }
  }

  /** While `keptProbes` is set (the database is away), every probe page on every instance. */
  private async keptProber(): Promise<void> {
    const visitor = { cartCount: 0, label: 'kept-copy probe' };
    while (this.running) {
      const probes = this.switches.keptProbes;
      if (probes.length === 0) {
        await sleep(50);
        continue;
      }
      for (const { instance, path } of probes) {
        const res = await this.send(
          instance,
          { path },
          { visitor, path, page: true, keptProbe: true },
        );
        const outcome =
          res.status === 200
            ? `200 ${String(res.headers['x-cache'])}`
            : `${res.status || res.error}`;
        this.keptProbeOutcomes.set(outcome, (this.keptProbeOutcomes.get(outcome) ?? 0) + 1);
      }
    }
  }
}
