/**
 * The soak: `npm run soak` (60 s) or `SOAK_DURATION=30 npm run soak` / `--duration 30`.
 *
 * Starts the sample shop as three processes (A and B on the tiered store, C on plain Redis), all
 * on one PostgreSQL schema made for the run (through a TCP proxy the soak can slow down or cut)
 * and one redis-server the soak starts on a spare port (so that it can kill and pause it). Then
 * it drives anonymous readers, named shoppers with carts (some signed in), an admin editing products
 * and the store name, purges and aborting clients, checks every response against the
 * invariants, injects faults on a schedule, prints the tables and exits 1 on any violation.
 *
 * Env: SOAK_DURATION (s, 60), SOAK_BUS_ALLOWANCE_MS (1000), SOAK_HEAP_MB (192: the bound on each
 * instance's heap; they run with --max-old-space-size=256), DATABASE_URL and REDIS_URL are not
 * used for Redis (the soak's own server); DATABASE_URL names the PostgreSQL (default local).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { POSTGRES_URL, preparePostgresSchema } from '../test/helpers/databases.js';
import { freePort } from '../test/helpers/redis.js';
import { startSample } from '../test/helpers/sample-process.js';
import { EditLedger } from './edit-ledger.js';
import { FaultyTcpProxy } from './faulty-tcp-proxy.js';
import { InvariantChecker } from './invariant-checker.js';
import { SoakHttpClient } from './soak-http-client.js';
import { SoakRedis } from './soak-redis.js';
import { formatSoakReport } from './soak-report.js';
import { ADMIN_HEADERS, ADMIN_TOKEN, type FaultWindow, type SoakInstance } from './soak-types.js';
import { type ShopCatalog, SoakWorkload } from './soak-workload.js';

/** Each instance's output: dist-sample/soak-logs/{A,B,C}.log. */
const LOG_DIR = fileURLToPath(new URL('../soak-logs/', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function option(name: string, env: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} / ${env} must be a positive number, got ${raw}`);
  return value;
}

const DURATION_S = option('duration', 'SOAK_DURATION', 60);
const BUS_ALLOWANCE_MS = option('bus-allowance', 'SOAK_BUS_ALLOWANCE_MS', 1000);
/** Pause of each visitor between its requests: a steady load, not a saturated CPU. */
const THINK_MS = option('think', 'SOAK_THINK_MS', 25);
const HEAP_BOUND = option('heap-mb', 'SOAK_HEAP_MB', 192) * 2 ** 20;
/** Pages live 4 s, then 2 s of grace, then are kept for stale-if-error (600 s, the sample's). */
const TTL_S = 4;
const GRACE_S = 2;
const L1_REVALIDATE_MS = 2000;

async function main(): Promise<number> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server is not installed: the soak starts its own (apt-get install redis-server)',
    );
  }
  mkdirSync(LOG_DIR, { recursive: true });
  const schema = `soak_${process.pid}_${randomBytes(3).toString('hex')}`;
  await preparePostgresSchema(schema);
  const pgUrl = new URL(POSTGRES_URL);
  const proxy = new FaultyTcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
  const proxyPort = await proxy.listen();
  const viaProxy = new URL(POSTGRES_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxyPort);
  const redis = new SoakRedis(await freePort());
  await redis.start();

  const probe = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
  const env = (store: 'tiered' | 'redis') => ({
    DATABASE_URL: viaProxy.toString(),
    DATABASE_SCHEMA: schema,
    REDIS_URL: redis.url,
    OUTPUT_CACHE_STORE: store,
    CSRF_SECRET: 'soak-shared-secret',
    SAMPLE_CACHE_TTL: String(TTL_S),
    SAMPLE_CACHE_GRACE: String(GRACE_S),
    SAMPLE_DB_DELAY_MS: '2',
    SAMPLE_FAULTS: '1',
    SAMPLE_REASON_HEADER: '1',
    ADMIN_TOKEN: ADMIN_TOKEN,
  });
  const nodeArgs = ['--max-old-space-size=256', '--import', probe];
  const instances: SoakInstance[] = [];
  const ledger = new EditLedger();
  let checker: InvariantChecker | undefined;
  let stopping = false;
  const launch = async (name: string, store: 'tiered' | 'redis') => {
    // Three Nest processes starting on a busy machine: minutes, not seconds, before giving up.
    const process = await startSample(env(store), nodeArgs, 300_000);
    const instance: SoakInstance = {
      name,
      store,
      process,
      client: new SoakHttpClient(process.port),
      memory: { heapUsed: 0, rss: 0, heapLimit: 0, samples: 0 },
      incidents: { storeFailures: 0, evictionsQueued: 0, evictionsLost: 0 },
    };
    // The instance's own output (errors, warnings) goes to a log for the post-mortem.
    const log = createWriteStream(join(LOG_DIR, `${name}.log`));
    process.child.stderr!.pipe(log);
    // Nest writes warnings to stdout and errors to stderr: both are counted.
    const countIncidents = (text: string) => {
      instance.incidents.storeFailures += text.split('serving uncached').length - 1;
      instance.incidents.evictionsQueued += text.split('failed twice').length - 1;
      instance.incidents.evictionsLost += text.split('never reached the store').length - 1;
    };
    process.child.stderr!.on('data', (chunk: Buffer) => countIncidents(chunk.toString('utf8')));
    let pending = '';
    process.child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('soak-memory ')) {
          countIncidents(line);
          log.write(`${line}\n`);
          continue;
        }
        const { heapUsed, rss, heapLimit } = JSON.parse(line.slice(12)) as SoakInstance['memory'];
        const m = instance.memory;
        m.heapUsed = Math.max(m.heapUsed, heapUsed);
        m.rss = Math.max(m.rss, rss);
        m.heapLimit = heapLimit;
        m.samples++;
        checker?.checkHeap(instance, heapUsed);
        checker?.pass('instances-alive');
      }
    });
    process.child.once('exit', (code, signal) => {
      if (!stopping) checker?.violation('instances-alive', `${name} exited (${code ?? signal})`);
    });
    instances.push(instance);
    return instance;
  };

  try {
    // The first one creates the tables and seeds them; the others start on them.
    await launch('A', 'tiered');
    await Promise.all([launch('B', 'tiered'), launch('C', 'redis')]);
    instances.sort((a, b) => a.name.localeCompare(b.name));
    const shop = await discoverShop(instances[0]!.client);
    const originalNames = new Map(shop.products.map((p) => [`p${p.id}`, p.name]));
    checker = new InvariantChecker(
      ledger,
      {
        busAllowanceMs: BUS_ALLOWANCE_MS,
        revalidateAllowanceMs: L1_REVALIDATE_MS + BUS_ALLOWANCE_MS,
        redisRecoveryMs: (TTL_S + GRACE_S) * 1000 + L1_REVALIDATE_MS + BUS_ALLOWANCE_MS,
        heapBound: HEAP_BOUND,
      },
      originalNames,
    );
    const workload = new SoakWorkload(instances, shop, checker, ledger);
    await workload.versionEverything();
    const busDelays = await workload.measureBus(5);

    console.log(
      `soak: ${DURATION_S} s on A, B (tiered) and C (redis), PostgreSQL schema ${schema} via ` +
        `proxy :${proxyPort}, redis-server :${redis.port}`,
    );
    const origin = performance.now();
    checker.origin = origin;
    const load = workload.run({ anonymous: 4, shoppers: 4, signedIn: 2, thinkMs: THINK_MS });
    await runFaults(DURATION_S * 1000, { origin, checker, workload, proxy, redis, instances });
    workload.stop();
    await load;
    const seconds = (performance.now() - origin) / 1000;

    console.log(
      '\n' +
        formatSoakReport({
          seconds,
          instances,
          stats: workload.stats,
          checker,
          busDelays,
          busAllowanceMs: BUS_ALLOWANCE_MS,
          revalidateAllowanceMs: L1_REVALIDATE_MS + BUS_ALLOWANCE_MS,
          heapBound: HEAP_BOUND,
          origin,
        }),
    );
    const retries = instances.reduce((n, i) => n + i.client.retries, 0);
    console.log(`(${retries} requests sent again after a keep-alive race: not counted as errors)`);
    const violations = [...checker.violations.values()].reduce((a, b) => a + b, 0);
    console.log(
      violations === 0 ? '\nsoak: every invariant held' : `\nsoak: ${violations} violations`,
    );
    return violations === 0 ? 0 : 1;
  } finally {
    stopping = true;
    for (const i of instances) {
      i.client.close();
      i.process.child.kill('SIGTERM');
    }
    await Promise.all(
      instances.map(
        (i) =>
          i.process.child.exitCode === null &&
          new Promise((r) => {
            const t = setTimeout(() => (i.process.child.kill('SIGKILL'), r(undefined)), 5000);
            i.process.child.once('exit', () => (clearTimeout(t), r(undefined)));
          }),
      ),
    );
    const lost = instances.map((i) => `${i.name} ${i.incidents.evictionsLost}`).join(', ');
    console.log(`(evictions still queued when the instances stopped: ${lost})`);
    await redis.kill();
    await proxy.close();
    await dropSchema(schema);
  }
}

/** The fault schedule, as fractions of the run; the last sixth is quiet, to show recovery. */
async function runFaults(
  durationMs: number,
  ctx: {
    origin: number;
    checker: InvariantChecker;
    workload: SoakWorkload;
    proxy: FaultyTcpProxy;
    redis: SoakRedis;
    instances: SoakInstance[];
  },
): Promise<void> {
  const { origin, checker, workload, proxy, redis } = ctx;
  const recoveries: Promise<void>[] = [];
  let probeSeq = 0;
  /** The instance's store answers its back office (a store call through its circuit breaker). */
  const storeAnswers = async (instance: SoakInstance) =>
    (await instance.client.send({ path: '/admin/cache', headers: ADMIN_HEADERS })).status === 200;
  /** The instance renders a page from the database (a search never asked before: a MISS). */
  const databaseAnswers = async (instance: SoakInstance) =>
    (await instance.client.send({ path: `/search?q=recovery${++probeSeq}` })).status === 200;
  /**
   * After a fault, measures when each instance answers again through what it broke, instead of
   * assuming a delay (pools reconnecting, a breaker still open, a loaded CPU): until then the
   * fault explains its failures. These probes are the soak's instrument, not checked traffic.
   */
  const measureRecovery = (w: FaultWindow, answers: (i: SoakInstance) => Promise<boolean>) => {
    const recovery = { at: new Map<string, number>(), done: false };
    w.recovery = recovery;
    const limitMs = 120_000;
    const each = ctx.instances.map(async (instance) => {
      for (;;) {
        if (await answers(instance)) {
          recovery.at.set(instance.name, performance.now());
          return;
        }
        if (performance.now() - w.end > limitMs) {
          checker.violation(
            'no-5xx',
            `${instance.name} still failing ${limitMs / 1000} s after the end of: ${w.name}`,
          );
          return;
        }
        await sleep(100);
      }
    });
    recoveries.push(
      Promise.all(each).then(() => {
        recovery.done = true;
        w.notes.push(
          'answered again after its end: ' +
            [...recovery.at]
              .map(([name, at]) => `${name} ${((at - w.end) / 1000).toFixed(1)} s`)
              .join(', '),
        );
      }),
    );
  };
  const at = async (fraction: number) => {
    const wait = origin + fraction * durationMs - performance.now();
    if (wait > 0) await sleep(wait);
  };
  // On a loaded machine the schedule may run late: every window still lasts its share, at least.
  const minimum = (from: number, to: number) => Math.max(2000, (to - from) * durationMs);
  const window = async (
    name: string,
    from: number,
    to: number,
    start: () => unknown,
    end: () => unknown,
    recover?: (instance: SoakInstance) => Promise<boolean>,
  ) => {
    await at(from);
    const w = checker.openWindow(name, performance.now());
    console.log(`  ${((performance.now() - origin) / 1000).toFixed(1)} s: ${name}`);
    await start();
    await at(to);
    const left = w.start + minimum(from, to) - performance.now();
    if (left > 0) await sleep(left);
    await end();
    checker.closeWindow(w, performance.now());
    if (recover) measureRecovery(w, recover);
    return w;
  };

  await window(
    'database slow (+40 ms a packet each way)',
    0.08,
    0.18,
    () => proxy.setMode({ kind: 'slow', delayMs: 40 }),
    () => proxy.setMode({ kind: 'pass' }),
  );
  await window(
    'redis paused (SIGSTOP)',
    0.22,
    0.3,
    () => redis.pause(),
    () => redis.resume(),
    storeAnswers,
  );
  await window(
    'redis killed (SIGKILL), then restarted empty',
    0.36,
    0.46,
    () => redis.kill(),
    () => redis.start(),
    storeAnswers,
  );

  // Pages that must survive the database outage from a kept copy: warmed on every instance
  // just before it, with purges and store-name edits (which evict everything) held meanwhile.
  await at(0.49);
  workload.switches.holdEvictAll = true;
  await sleep(500);
  // Evictions the store refused during the Redis faults (purges, store-name edits: everything)
  // are queued and made again once it answers, with a growing pause: one made during the
  // database outage would evict the kept copies, as it should. So they are waited for (until
  // every instance reports none pending), not assumed done.
  const drainStart = performance.now();
  const drained = await Promise.all(
    ctx.instances.map(async (instance) => {
      for (;;) {
        const res = await instance.client.send({ path: '/admin/cache', headers: ADMIN_HEADERS });
        const pending =
          res.status === 200 ? (JSON.parse(res.body) as { pendingEvictions: number }) : undefined;
        if (pending?.pendingEvictions === 0)
          return `${instance.name} ${((performance.now() - drainStart) / 1000).toFixed(1)} s`;
        if (performance.now() - drainStart > 120_000) {
          checker.violation(
            'no-stale-after-edit',
            `${instance.name}: evictions still queued 120 s after the Redis faults`,
          );
          return `${instance.name} never`;
        }
        await sleep(200);
      }
    }),
  );
  // The last of those evictions may have been made by C (plain Redis: it marks the shared clock
  // but publishes nothing on the tiered instances' bus), so an L1 copy on A or B can still answer
  // for up to `l1Revalidate` after it, then find the shared copy gone (by design: that is the
  // bound on an eviction the bus did not carry). Warming only after that bound has passed, every
  // hit below is of a copy the shared store held after the last eviction.
  await sleep(L1_REVALIDATE_MS + 500);
  const paths = ['/blog', `/blog/${(await firstBlogSlug(ctx.instances[0]!.client)) ?? ''}`];
  const probes: { instance: SoakInstance; path: string }[] = [];
  const unconfirmed: string[] = [];
  // All pairs at once, each until its instance answers it from its cache (stored for sure).
  const deadline = performance.now() + 6000;
  await Promise.all(
    ctx.instances.flatMap((instance) =>
      paths.map(async (path) => {
        for (;;) {
          const res = await workload.send(
            instance,
            { path },
            { visitor: { cartCount: 0, label: 'kept-copy warm-up' }, path, page: true },
          );
          // A hit read from the store: not `collapsed` (a render shared with a waiter is a
          // HIT too, and reaches it even when its write to the store failed).
          if (res.headers['x-cache'] === 'HIT' && res.headers['x-cache-reason'] === 'hit') {
            return probes.push({ instance, path });
          }
          if (performance.now() > deadline) return unconfirmed.push(`${instance.name} ${path}`);
          await sleep(100);
        }
      }),
    ),
  );
  const down = await window(
    'database unreachable (connections reset)',
    0.52,
    0.68,
    () => {
      proxy.setMode({ kind: 'down' });
      workload.switches.keptProbes = probes;
    },
    () => {
      workload.switches.keptProbes = [];
      proxy.setMode({ kind: 'pass' });
    },
    databaseAnswers,
  );
  down.notes.push(
    `before it, queued evictions made (waited): ${drained.join(', ')}`,
    `${proxy.refused} connections refused`,
    `kept-copy probes (${paths.join(', ')}) on ${probes.map((p) => p.instance.name).join('')}` +
      (unconfirmed.length ? `; never cached before it, not probed: ${unconfirmed.join(', ')}` : ''),
  );
  down.notes.push(
    `probes answered: ${[...workload.keptProbeOutcomes].map(([o, n]) => `${o} ×${n}`).join(', ')}`,
  );
  await sleep(1000);
  workload.switches.holdEvictAll = false;

  await window(
    "component throws (MiniCart, half of the shoppers' requests)",
    0.74,
    0.84,
    () => (workload.switches.componentFault = true),
    () => (workload.switches.componentFault = false),
  );
  const aborts = checker.openWindow(
    'clients abort mid-render and mid-response (whole run)',
    origin,
  );
  await at(1);
  await Promise.all(recoveries);
  checker.closeWindow(aborts, performance.now());
  const { aborted, collapseFollowers } = workload.stats;
  aborts.notes.push(
    `${aborted['mid-render']} mid-render (each with 2 waiters on its key: ${collapseFollowers} checked), ` +
      `${aborted['mid-response']} mid-response`,
  );
}

/** Reads the shop's categories, products (slug, id, name), blog posts and store name. */
async function discoverShop(client: SoakHttpClient): Promise<ShopCatalog> {
  const get = async (path: string) => {
    const res = await client.send({ path });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.error ?? ''}`);
    return res.body;
  };
  const home = await get('/');
  const categories = unique(home, /href="\/category\/([a-z0-9-]+)"/g);
  const slugs = new Set<string>();
  for (const category of categories) {
    for (let page = 1; page <= 5; page++) {
      for (const slug of unique(
        await get(`/category/${category}?page=${page}`),
        /href="\/product\/([a-z0-9-]+)"/g,
      )) {
        slugs.add(slug);
      }
    }
  }
  const products = [];
  for (const slug of slugs) {
    const body = await get(`/product/${slug}`);
    const id = Number(/action="\/cart\/(\d+)"/.exec(body)?.[1]);
    const name = unescapeHtml(/<h1>([^<]*)<\/h1>/.exec(body)?.[1] ?? '');
    products.push({ slug, id, name });
  }
  const blog = unique(await get('/blog'), /href="\/blog\/([a-z0-9-]+)"/g);
  const storeName = unescapeHtml(
    /<a class="brand" href="\/">([^<]*)<\/a>/.exec(home)?.[1] ?? 'Shop',
  );
  if (products.length < 5 || blog.length === 0)
    throw new Error('the sample shop has no catalog to soak');
  return { categories, products, blog, storeName };
}

async function firstBlogSlug(client: SoakHttpClient): Promise<string | undefined> {
  const res = await client.send({ path: '/blog' });
  return unique(res.body, /href="\/blog\/([a-z0-9-]+)"/g)[0];
}

function unique(body: string, pattern: RegExp): string[] {
  return [...new Set([...body.matchAll(pattern)].map((m) => m[1]!))];
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('soak failed to run:', error);
    process.exit(2);
  },
);
