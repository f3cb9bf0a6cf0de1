import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
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

export interface TestApp {
  app: NestExpressApplication;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/**
 * A real Nest app on Express, listening on a loopback port (the cache key includes the host
 * and port, so every request must reach the same address).
 */
export async function createTestApp(
  metadata: ModuleMetadata,
  configure?: (app: NestExpressApplication) => void,
): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    logger: process.env.TEST_LOG ? ['error', 'warn', 'debug', 'log'] : false,
  });
  app.setBaseViewsDir(viewsDir);
  app.setViewEngine('hbs');
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer();
  return {
    app,
    http: () => request(server),
    close: () => (app as INestApplication).close(),
  };
}
