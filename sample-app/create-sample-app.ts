import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import cookieParser from 'cookie-parser';
import hbs from 'hbs';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { registerHandlebarsHelpers } from '../lib/index.js';
import { AppModule } from './app.module.js';
import type { SampleAppOptions, SamplePlatform } from './sample-app.options.js';
import { findViewsDir } from './views-dir.js';

/**
 * Creates the sample shop, ready to `listen` (it does not listen itself, so that tests and the
 * benchmark choose the port).
 *
 * @example
 * ```ts
 * const app = await createSampleApp({ database: ':memory:', dbDelayMs: 0 });
 * await app.listen(3000);
 * ```
 */
export async function createSampleApp(
  options: SampleAppOptions = {},
): Promise<NestExpressApplication> {
  const platform = samplePlatform(options.platform ?? process.env.SAMPLE_PLATFORM);
  const views = sampleViews();
  if (platform === 'fastify') return createOnFastify(options, views);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(options),
    options.logger === undefined ? {} : { logger: options.logger },
  );
  // Before the output cache runs: its `varyBy` reads `req.cookies.currency`, the holes read the
  // `cart` and `recent` cookies, csrf-csrf its `x-csrf` cookie. (No middleware here may set a
  // cookie on a page: a response with `Set-Cookie` is never stored.)
  app.use(cookieParser());
  app.engine('hbs', views.engine.__express);
  app.setBaseViewsDir(views.dir);
  app.setViewEngine('hbs');
  app.disable('x-powered-by');
  return app;
}

/**
 * The shop on `@nestjs/platform-fastify` (`SAMPLE_PLATFORM=fastify`): `@fastify/cookie` for
 * `req.cookies` and `reply.cookie()` (what cookie-parser and Express's `res.cookie` give the
 * Express app), the same handlebars instance through `@fastify/view`, `layout.hbs` as the
 * layout. Returned under Express's type so that callers need not care; the platform-specific
 * calls (`app.use`, `app.set`) are the caller's to avoid.
 */
async function createOnFastify(
  options: SampleAppOptions,
  views: { engine: ReturnType<typeof hbs.create>; dir: string },
): Promise<NestExpressApplication> {
  // Loaded only here: an Express run of the sample needs no Fastify package.
  const [{ FastifyAdapter }, { default: fastifyCookie }] = await Promise.all([
    import('@nestjs/platform-fastify'),
    import('@fastify/cookie'),
  ]);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(options),
    // `/product/x/` reaches `/product/x`, as on Express's non-strict router.
    new FastifyAdapter({ routerOptions: { ignoreTrailingSlash: true } }),
    options.logger === undefined ? {} : { logger: options.logger },
  );
  await app.register(fastifyCookie as never);
  await app.setViewEngine({
    engine: { handlebars: views.engine.handlebars },
    templates: views.dir,
    layout: 'layout.hbs',
  } as never);
  return app as unknown as NestExpressApplication;
}

/** The sample's platform: `SAMPLE_PLATFORM` (`express`, the default, or `fastify`). */
export function samplePlatform(value: string | undefined): SamplePlatform {
  if (value === undefined || value === '' || value === 'express') return 'express';
  if (value === 'fastify') return 'fastify';
  throw new Error(`SAMPLE_PLATFORM must be "express" or "fastify", not "${value}"`);
}

/** The handlebars instance of the shop's views, with the library's helpers and the partials. */
function sampleViews(): { engine: ReturnType<typeof hbs.create>; dir: string } {
  const viewsDir = findViewsDir();
  const views = hbs.create();
  // `{{{component "MiniCart"}}}` and `{{{antiforgeryField}}}`.
  registerHandlebarsHelpers(views);
  // `{{> product-card}}` is views/partials/product-card.hbs (hbs's own registerPartials would
  // rename it product_card).
  const partialsDir = join(viewsDir, 'partials');
  for (const file of readdirSync(partialsDir).filter((f) => f.endsWith('.hbs'))) {
    views.registerPartial(basename(file, '.hbs'), readFileSync(join(partialsDir, file), 'utf8'));
  }
  return { engine: views, dir: viewsDir };
}
