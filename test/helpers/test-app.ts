import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyCookie from '@fastify/cookie';
import { Test } from '@nestjs/testing';
import hbs from 'hbs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { registerHandlebarsHelpers } from '../../lib/index.js';

export const viewsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'views');

registerHandlebarsHelpers(hbs);

/** Counts real hbs renders of the fixture views (the `{{countRender}}` helper). */
export const viewRenders = { count: 0 };
hbs.registerHelper('countRender', () => {
  viewRenders.count++;
  return '';
});

/** The platform the e2e tests run on: `TEST_PLATFORM` (`express`, the default, or `fastify`). */
export type TestPlatform = 'express' | 'fastify';

export const testPlatform: TestPlatform =
  process.env.TEST_PLATFORM === 'fastify' ? 'fastify' : 'express';

if (process.env.TEST_PLATFORM && !['express', 'fastify'].includes(process.env.TEST_PLATFORM)) {
  throw new Error(
    `TEST_PLATFORM must be "express" or "fastify", not "${process.env.TEST_PLATFORM}"`,
  );
}

/** What is set on each platform in its own way. */
export interface TestPlatformOptions {
  /** Express's `trust proxy` setting, Fastify's `trustProxy` option (same values). */
  trustProxy?: string | boolean | number;
}

export interface TestApp {
  /**
   * Typed as Express's for the tests' `configure` callbacks; on Fastify it is a
   * `NestFastifyApplication` (`app.use` mounts middleware through `@fastify/middie`).
   */
  app: NestExpressApplication;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/**
 * A real Nest app on Express or Fastify (`TEST_PLATFORM`), listening on a loopback port (the
 * cache key includes the host and port, so every request must reach the same address). On
 * Fastify, the fixture views render through `@fastify/view` with the same handlebars instance
 * (helpers included), and `@fastify/cookie` gives replies `setCookie` (see {@link setCookie}).
 */
export async function createTestApp(
  metadata: ModuleMetadata,
  configure?: (app: NestExpressApplication) => void,
  platformOptions: TestPlatformOptions = {},
): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const logger = process.env.TEST_LOG ? (['error', 'warn', 'debug', 'log'] as const) : false;
  let app: NestExpressApplication;
  if (testPlatform === 'fastify') {
    const fastifyApp = moduleRef.createNestApplication<NestFastifyApplication>(
      // Express's router is not strict: `/page/` is `/page`. The same routes on Fastify.
      new FastifyAdapter({
        routerOptions: { ignoreTrailingSlash: true },
        ...(platformOptions.trustProxy === undefined
          ? {}
          : { trustProxy: platformOptions.trustProxy as string }),
      }),
      { logger: logger ? [...logger] : false },
    );
    await fastifyApp.register(fastifyCookie as never);
    fastifyApp.setViewEngine({
      engine: { handlebars: hbs.handlebars },
      templates: viewsDir,
    } as never);
    app = fastifyApp as unknown as NestExpressApplication;
  } else {
    app = moduleRef.createNestApplication<NestExpressApplication>({
      logger: logger ? [...logger] : false,
    });
    app.setBaseViewsDir(viewsDir);
    app.setViewEngine('hbs');
    if (platformOptions.trustProxy !== undefined)
      app.set('trust proxy', platformOptions.trustProxy);
  }
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer();
  return {
    app,
    http: () => request(server),
    close: () => (app as INestApplication).close(),
  };
}

/**
 * A wildcard path segment named `name`: `*name` on Express 5 (path-to-regexp 8), `*` on Fastify
 * (its only wildcard, last, read as the `*` param: see {@link wildcardParam}).
 *
 * @example
 * \@Get(`account/${wildcard('rest')}`)
 */
export function wildcard(name: string): string {
  return testPlatform === 'fastify' ? '*' : `*${name}`;
}

/**
 * Sets a cookie on a route's response, on either platform: Express's `res.cookie`, or
 * `reply.setCookie` of `@fastify/cookie` (path `/`, as Express's default).
 */
export function setHeader(res: any, name: string, value: string): void {
  if (typeof res.setHeader === 'function') res.setHeader(name, value);
  else res.header(name, value);
}

/** Sets a cookie on a route's response, on either platform (see {@link setHeader}). */
export function setCookie(res: any, name: string, value: string): void {
  if (typeof res.cookie === 'function') res.cookie(name, value);
  else res.setCookie(name, value, { path: '/' });
}
