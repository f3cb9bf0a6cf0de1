import 'reflect-metadata';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, Module, Render, type Type, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Cacheable, OutputCacheModule } from '../lib/index.js';
import { PAGE_HTML, PAGE_VIEW, pageViewModel, viewsDir } from './fixtures.js';

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

/** The same uncached routes without the output cache module. */
@Module({ controllers: [PageController] })
class PlainBenchModule {}

/** `@nestjs/cache-manager` with its default in-memory store. */
@Module({
  imports: [CacheModule.register({ ttl: 300_000 })],
  controllers: [CacheManagerController],
})
class CacheManagerBenchModule {}

/** Creates a quiet Express app with the `hbs` views set up as in production (view cache on). */
async function createApp(module: Type): Promise<NestExpressApplication> {
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

/** How to create one benchmarked app. */
export interface BenchApp {
  create: () => Promise<NestExpressApplication>;
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
  plain: { create: () => createApp(PlainBenchModule) },
  'cache-manager': { create: () => createApp(CacheManagerBenchModule) },
} satisfies Record<string, BenchApp>;

export type AppName = keyof typeof APPS;
