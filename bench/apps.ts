import 'reflect-metadata';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import {
  Controller,
  type DynamicModule,
  Get,
  Injectable,
  Module,
  Query,
  Render,
  type Type,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import compression from 'compression';
import type { NestExpressApplication } from '@nestjs/platform-express';
import hbs from 'hbs';
import {
  Cacheable,
  OutputCacheModule,
  registerHandlebarsHelpers,
  ViewComponent,
  type ViewComponentRenderer,
} from '../lib/index.js';
import { OutputCacheMetricsModule } from '../lib/prometheus.js';
import {
  AVAILABILITY,
  HOLES,
  HOLES_VIEW,
  PAGE_HTML,
  PAGE_VIEW,
  pageViewModel,
  viewsDir,
} from './fixtures.js';
import { createBenchStore, type StoreKind } from './stores.js';
import {
  createFastLaneApp,
  createFastLaneFastifyApp,
  createRawNodeApp,
  createVarnishApp,
} from './fast-lane-apps.js';

/** The uncached routes: the page as a constant string, and the page rendered from its view. */
@Controller()
class PageController {
  /** (a) baseline: no render, no cache; what serving the finished HTML costs in Nest. */
  @Get('baseline')
  baseline(): string {
    return PAGE_HTML;
  }

  /** (b) the page rendered on every request. */
  @Get('render')
  @Render(PAGE_VIEW)
  render() {
    return pageViewModel();
  }
}

/** The same `@Render()` page, cached by this library. */
@Controller()
class OutputCachedController {
  @Cacheable()
  @Get('cached')
  @Render(PAGE_VIEW)
  cached() {
    return pageViewModel();
  }
}

/**
 * `@nestjs/cache-manager` caches the handler's return value. With `@Render()` that is the view
 * model, and the view is rendered again on every hit; it cannot cache the HTML of a rendered
 * page. So it is measured on a route that returns the finished HTML string.
 */
@Controller()
@UseInterceptors(CacheInterceptor)
class CacheManagerController {
  @Get('cm-string')
  page(): string {
    return PAGE_HTML;
  }
}

/** Baseline, render, and the cacheable render, behind this library's global interceptor. */
@Module({
  imports: [
    OutputCacheModule.forRoot({
      // The miss scenario stores one entry per request: the byte bound (100 MiB by default)
      // evicts, not the entry count, and the runner clears the store after it.
      maxEntries: 100_000,
      defaultTtl: 300,
    }),
  ],
  controllers: [PageController, OutputCachedController],
})
class OutputCacheBenchModule {}

/**
 * The same, with Prometheus metrics on (prom-client's default registry: one app a process) and
 * the decision log off (the app's logger is off, as debug is in production).
 */
@Module({
  imports: [
    OutputCacheModule.forRoot({ maxEntries: 100_000, defaultTtl: 300 }),
    OutputCacheMetricsModule.forRoot(),
  ],
  controllers: [PageController, OutputCachedController],
})
class MetricsBenchModule {}

/** The same uncached routes without the output cache module. */
@Module({ controllers: [PageController] })
class PlainBenchModule {}

/** `@nestjs/cache-manager` with its default in-memory store. */
@Module({
  imports: [CacheModule.register({ ttl: 300_000 })],
  controllers: [CacheManagerController],
})
class CacheManagerBenchModule {}

/**
 * The holes: trivial view components, each rendering a short constant, rendered on every
 * response (hits included) since none is `@CacheableComponent()`.
 */
@ViewComponent(HOLES[0].name)
@Injectable()
class Hole1Component implements ViewComponentRenderer {
  render(): string {
    return HOLES[0].text;
  }
}

@ViewComponent(HOLES[1].name)
@Injectable()
class Hole2Component implements ViewComponentRenderer {
  render(): string {
    return HOLES[1].text;
  }
}

@ViewComponent(HOLES[2].name)
@Injectable()
class Hole3Component implements ViewComponentRenderer {
  render(): string {
    return HOLES[2].text;
  }
}

/** The page with three holes, cached and not, and the page without holes, cached. */
@Controller('holes')
class HolesController {
  /** (f) a hit: the stored page, its three holes rendered into it. */
  @Cacheable()
  @Get('cached')
  @Render(HOLES_VIEW)
  cached() {
    return pageViewModel();
  }

  /** (fb) the same page and holes, rendered on every request. */
  @Get('render')
  @Render(HOLES_VIEW)
  render() {
    return pageViewModel();
  }

  /** (f0) a hit of the page without holes, in the same app. */
  @Cacheable()
  @Get('plain')
  @Render(PAGE_VIEW)
  plain() {
    return pageViewModel();
  }
}

/** The holes app: the output cache with three view components. */
@Module({
  imports: [OutputCacheModule.forRoot({ defaultTtl: 3600 })],
  controllers: [HolesController],
  providers: [Hole1Component, Hole2Component, Hole3Component],
})
class HolesBenchModule {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How many times each availability route rendered in this process (read at `/av/renders`). */
const availabilityRenders = { swr: 0, page: 0, slow: 0, slowByKey: new Map<string, number>() };

/** Issue 6: grace (stale-while-revalidate), precompressed hits, 304s and collapsed renders. */
@Controller('av')
class AvailabilityController {
  /** The page with a 1 s TTL and 60 s grace, rendered in 500 ms (a slow backend). */
  @Cacheable({ ttl: AVAILABILITY.swrTtl, grace: AVAILABILITY.swrGrace })
  @Get('swr')
  @Render(PAGE_VIEW)
  async swr() {
    availabilityRenders.swr++;
    await sleep(AVAILABILITY.swrRenderMs);
    return pageViewModel();
  }

  /** The same page with a long TTL: plain hits, identity, gzip, br and 304. */
  @Cacheable({ ttl: 3600 })
  @Get('page')
  @Render(PAGE_VIEW)
  page() {
    availabilityRenders.page++;
    return pageViewModel();
  }

  /** The page rendered in 200 ms, one key per `?k=`: concurrent cold requests collapse. */
  @Cacheable({ ttl: 3600 })
  @Get('slow')
  @Render(PAGE_VIEW)
  async slow(@Query('k') key: string) {
    availabilityRenders.slow++;
    availabilityRenders.slowByKey.set(key, (availabilityRenders.slowByKey.get(key) ?? 0) + 1);
    await sleep(AVAILABILITY.collapseRenderMs);
    return pageViewModel();
  }

  /** Debug (not cacheable): the render counters; with `?k=`, also that key's as `key`. */
  @Get('renders')
  renders(@Query('k') key?: string): Record<string, number> {
    const { swr, page, slow, slowByKey } = availabilityRenders;
    return { swr, page, slow, ...(key ? { key: slowByKey.get(key) ?? 0 } : {}) };
  }
}

/** The availability app: the output cache (memory store, precompression on by default). */
@Module({
  imports: [OutputCacheModule.forRoot({ defaultTtl: 3600 })],
  controllers: [AvailabilityController],
})
class AvailabilityBenchModule {}

/** The same, plus the uncached page as a string, for the app behind `compression()`. */
@Module({
  imports: [OutputCacheModule.forRoot({ defaultTtl: 3600 })],
  controllers: [PageController, AvailabilityController],
})
class CompressionBenchModule {}

/** Creates a quiet Express app with the `hbs` views set up as in production (view cache on). */
async function createApp(module: Type | DynamicModule): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    logger: false,
    abortOnError: false,
  });
  app.setBaseViewsDir(viewsDir());
  app.setViewEngine('hbs');
  // Express only caches compiled views when NODE_ENV=production; a real deployment has it on.
  app.set('view cache', true);
  // No layout: without this hbs looks for views/layout.hbs, and fails to open it, on every render.
  app.set('view options', { layout: false });
  return app;
}

/**
 * The holes app. It renders with the `hbs` module itself, as the other apps do (Express loads
 * it for the `hbs` view engine); the `component` helper is registered on it, in this app's
 * process only.
 */
async function createHolesApp(): Promise<NestExpressApplication> {
  registerHandlebarsHelpers(hbs);
  return createApp(HolesBenchModule);
}

/**
 * An app behind the `compression` middleware (defaults: gzip level 6, 1 KB threshold), as an
 * application without precompressed entries would compress its pages.
 */
async function createCompressionApp(): Promise<NestExpressApplication> {
  const app = await createApp(CompressionBenchModule);
  app.use(compression());
  return app;
}

/** Cleanups of the store apps of this process, run when the app closes. */
const storeCleanups = new Map<StoreKind, () => Promise<void>>();

/**
 * An app serving the cached `@Render()` page of (d) from a store of the given kind. Rejects with
 * a one-line error when the store's server is not reachable.
 */
async function createStoreApp(kind: StoreKind): Promise<NestExpressApplication> {
  const { store, cleanup } = await createBenchStore(kind);
  storeCleanups.set(kind, cleanup);
  try {
    return await createApp({
      module: class StoreBenchModule {},
      imports: [OutputCacheModule.forRoot({ store, defaultTtl: 3600 })],
      controllers: [OutputCachedController],
    });
  } catch (error) {
    storeCleanups.delete(kind);
    await cleanup().catch(() => undefined);
    throw error;
  }
}

/**
 * Removes the store's keys, tables or file and closes the store, then the app (which closes the
 * store again: a no-op). The runner sends no more requests by then.
 */
async function closeStoreApp(kind: StoreKind, app: NestExpressApplication): Promise<void> {
  const cleanup = storeCleanups.get(kind);
  storeCleanups.delete(kind);
  try {
    await cleanup?.();
  } finally {
    await app.close();
  }
}

/** The app of one store row. */
function storeApp(kind: StoreKind): BenchApp {
  return {
    create: () => createStoreApp(kind),
    prime: ['/cached'],
    close: (app) => closeStoreApp(kind, app),
  };
}

/** How to create one benchmarked app. */
export interface BenchApp {
  create: () => Promise<NestExpressApplication>;
  /** Closes the app and removes what it left behind; default `app.close()`. */
  close?: (app: NestExpressApplication) => Promise<void>;
  /**
   * Paths requested once right after the app listens, so that lazily enabled machinery is on
   * from the first round, as in an app that has served traffic: here the cache's first render
   * turns on its AsyncLocalStorage (on Node 20 a process-wide async hook).
   */
  prime?: string[];
}

/**
 * The apps scenarios run against, by name. Each runs in its own server process (see
 * `server.ts`), created on first use. Add an entry to benchmark another setup.
 */
export const APPS = {
  'output-cache': { create: () => createApp(OutputCacheBenchModule), prime: ['/cached'] },
  'output-cache-metrics': { create: () => createApp(MetricsBenchModule), prime: ['/cached'] },
  plain: { create: () => createApp(PlainBenchModule) },
  'cache-manager': { create: () => createApp(CacheManagerBenchModule) },
  holes: { create: createHolesApp, prime: ['/holes/cached', '/holes/plain'] },
  'store-memory': storeApp('memory'),
  'store-tiered': storeApp('tiered'),
  'store-redis': storeApp('redis'),
  'store-sqlite': storeApp('sqlite'),
  'store-postgres': storeApp('postgres'),
  availability: {
    create: () => createApp(AvailabilityBenchModule),
    prime: ['/av/page', '/av/swr'],
  },
  compression: { create: createCompressionApp, prime: ['/av/page'] },
  // Issue 11: the fast lane against the constant route, raw node:http and Varnish.
  'fast-lane': { create: createFastLaneApp, prime: ['/cached', '/fast'] },
  'fast-lane-fastify': { create: createFastLaneFastifyApp, prime: ['/cached', '/fast'] },
  'raw-node': { create: createRawNodeApp },
  varnish: { create: createVarnishApp, prime: ['/cached'] },
} satisfies Record<string, BenchApp>;

export type AppName = keyof typeof APPS;
