/**
 * The invalidation group's measurements, in a process of their own (forked by `invalidation.ts`
 * with `--expose-gc`; the result goes back over IPC):
 *
 * (i) evicting one tag shared by many entries: the memory store, the same through
 *     `OutputCacheProvider.invalidateByTag`, the Redis store;
 * (ii) what the output cache adds to a TypeORM write: `repository.save()` of one product on
 *     SQLite without the module, and with it (its invalidation observer evicting the product's
 *     page), while 1,000 product pages are cached.
 */
import 'reflect-metadata';
import { Controller, Get, Module, Param, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getRepositoryToken, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Column, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import {
  Cacheable,
  type CacheEntry,
  DisplayControl,
  MemoryOutputCacheStore,
  OutputCacheModule,
  OutputCacheProvider,
  type OutputCacheStore,
} from '../lib/index.js';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { PAGE_HTML } from './fixtures.js';
import type {
  EvictionResult,
  InvalidationChildMessage,
  InvalidationOptions,
  InvalidationResults,
  LatencyStats,
  WriteLatencyResult,
  WriteResult,
} from './invalidation.js';
import { checkRedis, REDIS_URL, redisPrefix } from './services.js';

// ---------------------------------------------------------------------------------------------
// (i) evicting one shared tag

/** About 2 KB of the page: the body of every entry. */
const ENTRY_BODY = PAGE_HTML.slice(0, 2048);

function entryOf(i: number): CacheEntry {
  const now = Date.now();
  const body = Buffer.from(ENTRY_BODY, 'utf8');
  return {
    key: `http://bench.local/x/${i}#X%2Fx`,
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) },
    body,
    tags: ['shared', 'route:X/x', `Product:${i}`],
    path: `/x/${i}`,
    routeId: 'X/x',
    createdAt: now,
    expiresAt: now + 3_600_000,
  };
}

/** Stores `count` entries, `concurrency` writes in flight. */
async function fill(store: OutputCacheStore, count: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await store.set(entryOf(next++));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function gc(): void {
  globalThis.gc?.();
}

/**
 * Fills the store with `entries` entries tagged `shared`, times `evict()`, `repeats` times
 * (the store is filled again before each).
 */
/** A result with nothing measured yet. */
function emptyResult(label: string, options: InvalidationOptions): EvictionResult {
  return {
    label,
    entries: options.evictEntries,
    timesMs: [],
    removed: [],
    fillMs: [],
    problems: [],
  };
}

async function timeEviction(
  label: string,
  store: OutputCacheStore,
  evict: () => Promise<number>,
  options: InvalidationOptions,
  concurrency: number,
  /** Awaited after the timed call, before counting what is left (a background sweep). */
  settle?: () => Promise<void>,
): Promise<EvictionResult> {
  const result = emptyResult(label, options);
  for (let repeat = 0; repeat < options.evictRepeats; repeat++) {
    const filling = performance.now();
    await fill(store, options.evictEntries, concurrency);
    result.fillMs.push(performance.now() - filling);
    const stored = await store.count();
    if (stored !== options.evictEntries) {
      result.problems.push(
        `repeat ${repeat + 1}: ${stored} entries stored, expected ${options.evictEntries}`,
      );
    }
    gc();
    const start = performance.now();
    const removed = await evict();
    result.timesMs.push(performance.now() - start);
    result.removed.push(removed);
    await settle?.();
    const left = await store.count();
    if (removed !== options.evictEntries || left !== 0) {
      result.problems.push(`repeat ${repeat + 1}: ${removed} removed, ${left} left`);
    }
  }
  return result;
}

/** Evicting a tag of the Redis store, deleting inline or in the background (then settled). */
async function redisEviction(
  label: string,
  sweep: 'inline' | 'background',
  options: InvalidationOptions,
): Promise<EvictionResult> {
  try {
    await checkRedis();
    const redis = new RedisOutputCacheStore({
      url: REDIS_URL,
      prefix: redisPrefix(`evict-${sweep}`),
      // Filling the entries queues many commands: fail-fast timeouts are for requests.
      redis: { commandTimeout: 10_000 },
      cleanupInterval: 0,
      sweep,
    });
    try {
      return await timeEviction(
        label,
        redis,
        () => redis.evictTags(['shared']),
        options,
        64,
        () => redis.sweeping(),
      );
    } finally {
      await redis.clear().catch(() => undefined);
      await redis.close();
    }
  } catch (error) {
    return {
      ...emptyResult(label, options),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

async function evictionResults(options: InvalidationOptions): Promise<EvictionResult[]> {
  const results: EvictionResult[] = [];
  const memoryOptions = { maxEntries: options.evictEntries * 2, maxBytes: 1024 * 1024 * 1024 };

  log(`  evicting: memory store, ${options.evictEntries} entries`);
  const memory = new MemoryOutputCacheStore(memoryOptions);
  results.push(
    await timeEviction(
      'memory store: evictTags([shared])',
      memory,
      () => memory.evictTags(['shared']),
      options,
      1,
    ),
  );
  await memory.clear();

  log('  evicting: memory store through OutputCacheProvider');
  const viaProvider = new MemoryOutputCacheStore(memoryOptions);
  @Module({ imports: [OutputCacheModule.forRoot({ store: viaProvider })] })
  class ProviderBenchModule {}
  const context = await NestFactory.createApplicationContext(ProviderBenchModule, {
    logger: false,
  });
  try {
    const provider = context.get(OutputCacheProvider);
    results.push(
      await timeEviction(
        'memory store: OutputCacheProvider.invalidateByTag(shared)',
        viaProvider,
        () => provider.invalidateByTag('shared'),
        options,
        1,
      ),
    );
  } finally {
    await viaProvider.clear();
    await context.close();
  }

  log('  evicting: Redis store');
  results.push(await redisEviction('Redis store: evictTags([shared])', 'inline', options));
  log('  evicting: Redis store, deletions in the background');
  results.push(
    await redisEviction(
      "Redis store, sweep: 'background': evictTags([shared]) resolves",
      'background',
      options,
    ),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------
// (ii) the cost the output cache adds to a write

@Entity('bench_product')
class Product {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;

  @Column('integer')
  priceCents!: number;

  @Column('text')
  description!: string;
}

/** One cacheable page per product, announcing it: saving the product evicts its page. */
@Controller('product')
class ProductPageController {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    private readonly display: DisplayControl,
  ) {}

  @Cacheable()
  @Get(':id')
  async page(@Param('id') id: string): Promise<string> {
    const product = await this.products.findOneByOrFail({ id: Number(id) });
    this.display.announce(product);
    return (
      `<!doctype html><html><head><title>${product.name}</title></head><body>` +
      `<h1>${product.name}</h1><p>${product.description}</p>` +
      `<p class="price">${(product.priceCents / 100).toFixed(2)}</p></body></html>`
    );
  }
}

/** A SQLite database in memory; `name` keeps (A)'s DataSource apart from the default one. */
const database = (name?: string) =>
  TypeOrmModule.forRoot({
    name,
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [Product],
    synchronize: true,
  });

/** The DataSource name of (A). */
const WITHOUT_CACHE = 'without-cache';

/** (A) TypeORM alone. */
@Module({ imports: [database(WITHOUT_CACHE), TypeOrmModule.forFeature([Product], WITHOUT_CACHE)] })
class WithoutCacheModule {}

/** (B) TypeORM and the output cache (its observer hooks into the DataSource by itself). */
@Module({
  imports: [
    database(),
    TypeOrmModule.forFeature([Product]),
    OutputCacheModule.forRoot({ defaultTtl: 3600 }),
  ],
  controllers: [ProductPageController],
})
class WithCacheModule {}

/** One setup whose saves are timed. */
interface WriteSetup {
  label: string;
  app: NestExpressApplication;
  products: Product[];
  repository: Repository<Product>;
  /** Pages to keep cached (0: none). */
  pages: number;
  base?: string;
  provider?: OutputCacheProvider;
  timesMs: number[];
  evicted: number[];
  problems: string[];
}

async function createSetup(
  label: string,
  module: Type,
  pages: number,
  dataSourceName?: string,
): Promise<WriteSetup> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: false,
    abortOnError: false,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const repository = app.get<Repository<Product>>(getRepositoryToken(Product, dataSourceName), {
    strict: false,
  });
  return {
    label,
    app,
    products: [],
    repository,
    pages,
    base: `http://127.0.0.1:${port}`,
    provider: optionalProvider(app),
    timesMs: [],
    evicted: [],
    problems: [],
  };
}

function optionalProvider(app: NestExpressApplication): OutputCacheProvider | undefined {
  try {
    return app.get(OutputCacheProvider, { strict: false });
  } catch {
    return undefined;
  }
}

/** GET on a kept-alive connection; resolves the X-Cache header. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function get(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
          else resolve(res.headers['x-cache'] as string | undefined);
        });
      })
      .on('error', reject);
  });
}

async function seed(setup: WriteSetup, count: number): Promise<void> {
  const rows: Partial<Product>[] = [];
  for (let i = 1; i <= count; i++) {
    rows.push({
      name: `Product ${i}`,
      priceCents: 1000 + i,
      description: `A product to save: number ${i}, with a description of some length.`,
    });
  }
  for (let i = 0; i < rows.length; i += 200) await setup.repository.insert(rows.slice(i, i + 200));
  setup.products = await setup.repository.find({ order: { id: 'ASC' } });
}

/** Requests the pages of the first `setup.pages` products, `16` at a time. */
async function fillPages(setup: WriteSetup): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < setup.pages) await get(`${setup.base}/product/${setup.products[next++].id}`);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const cached = await setup.provider!.count();
  if (cached !== setup.pages) {
    setup.problems.push(`${cached} pages cached after the fill, expected ${setup.pages}`);
  }
}

/**
 * Saves (updates) product `n` of the setup, timed; with cached pages, checks that the save
 * evicted its page (the caller caches it again between saves, untimed).
 */
async function save(setup: WriteSetup, n: number, record: boolean): Promise<void> {
  const product = setup.products[n % setup.products.length];
  product.priceCents += 1;
  const before = setup.pages > 0 ? await setup.provider!.count() : 0;
  const start = performance.now();
  await setup.repository.save(product);
  const ms = performance.now() - start;
  if (!record) return;
  setup.timesMs.push(ms);
  if (setup.pages > 0) setup.evicted.push(before - (await setup.provider!.count()));
}

/** Caches the page of product `n` again after its save evicted it (it must be a miss). */
async function refill(setup: WriteSetup, n: number): Promise<void> {
  if (setup.pages === 0) return;
  const product = setup.products[n % setup.products.length];
  const label = await get(`${setup.base}/product/${product.id}`);
  if (label !== 'MISS' && setup.problems.length < 5) {
    setup.problems.push(`page of product ${product.id} after its save: X-Cache ${label}`);
  }
}

function stats(values: number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0
      ? NaN
      : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    count: sorted.length,
    mean: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

async function writeLatency(options: InvalidationOptions): Promise<WriteLatencyResult> {
  const pages = options.pages;
  const setups = [
    await createSetup('(A) TypeORM, no OutputCacheModule', WithoutCacheModule, 0, WITHOUT_CACHE),
    await createSetup('(B0) with OutputCacheModule, no page cached', WithCacheModule, 0),
    await createSetup(`(B) with OutputCacheModule, ${pages} pages cached`, WithCacheModule, pages),
  ];
  try {
    for (const setup of setups) await seed(setup, Math.max(pages, 1));
    const cached = setups[2];
    log(`  writes: caching ${pages} product pages`);
    await fillPages(cached);
    if (setups[0].provider) setups[0].problems.push('the app without the module has a cache');

    // Warm-up (JIT, statement caches), then the timed saves, interleaved and in turns so that
    // drift and GC weigh on every setup alike. The evicted page is cached again after each
    // turn, so that whichever setup comes next follows the same untimed work.
    const turn = async (n: number, record: boolean) => {
      for (let j = 0; j < setups.length; j++) {
        await save(setups[(n + j) % setups.length], n, record);
      }
      for (const s of setups) await refill(s, n);
    };
    for (let n = 0; n < options.saveWarmup; n++) await turn(n, false);
    gc();
    log(`  writes: ${options.saves} timed saves per setup`);
    for (let n = options.saveWarmup; n < options.saveWarmup + options.saves; n++) {
      await turn(n, true);
    }
    const results: WriteResult[] = setups.map((s) => ({
      label: s.label,
      pagesCached: s.pages,
      latencyMs: stats(s.timesMs),
      evictedPerSave:
        s.evicted.length === 0 ? 0 : s.evicted.reduce((x, y) => x + y, 0) / s.evicted.length,
      problems: s.problems,
    }));
    const base = results[0].latencyMs;
    for (const r of results) {
      r.addedMs = { p50: r.latencyMs.p50 - base.p50, p99: r.latencyMs.p99 - base.p99 };
    }
    return { pages, saves: options.saves, results };
  } finally {
    agent.destroy();
    for (const s of setups) await s.app.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

function log(line: string): void {
  console.log(line);
}

async function main(options: InvalidationOptions): Promise<InvalidationResults> {
  const eviction = await evictionResults(options);
  let writes: WriteLatencyResult | { error: string };
  try {
    writes = await writeLatency(options);
  } catch (error) {
    writes = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  return { eviction, writes };
}

process.once('message', (message: { options: InvalidationOptions }) => {
  main(message.options).then(
    (result) => send({ ok: true, result }),
    (error: unknown) =>
      send({
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  );
});

function send(message: InvalidationChildMessage): void {
  process.send?.(message, undefined, {}, () => process.disconnect());
}
