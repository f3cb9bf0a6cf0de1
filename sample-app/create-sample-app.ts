import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import hbs from 'hbs';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { registerHandlebarsHelpers } from '../lib/index.js';
import { AppModule } from './app.module.js';
import type { SampleAppOptions } from './sample-app.options.js';
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
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(options),
    options.logger === undefined ? {} : { logger: options.logger },
  );
  // Before the output cache runs: its `varyBy` reads `req.cookies.currency`, the holes read the
  // `cart` and `recent` cookies, csrf-csrf its `x-csrf` cookie. (No middleware here may set a
  // cookie on a page: a response with `Set-Cookie` is never stored.)
  app.use(cookieParser());

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
  app.engine('hbs', views.__express);
  app.setBaseViewsDir(viewsDir);
  app.setViewEngine('hbs');
  app.disable('x-powered-by');
  return app;
}
