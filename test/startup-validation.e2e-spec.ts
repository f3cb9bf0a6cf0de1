import 'reflect-metadata';
import { jest } from '@jest/globals';
import {
  Controller,
  Get,
  type INestApplication,
  Injectable,
  Module,
  Param,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  Cacheable,
  type CacheableOptions,
  MemoryOutputCacheStore,
  OutputCacheConfigError,
  OutputCacheModule,
  type OutputCacheModuleOptions,
  RouteModule,
  ViewComponent,
} from '../lib/index.js';
import { RoutePolicyResolver } from '../lib/policy/route-policy.resolver.js';

const varyBy: OutputCacheModuleOptions['varyBy'] = {
  currency: (req) => req.headers['x-currency'] ?? 'EUR',
  language: { header: 'accept-language' },
};

/** A controller whose one route carries `options` (route id `Catalog/category`). */
function catalogWith(options: unknown): Type {
  @Controller('catalog')
  class CatalogController {
    @Cacheable(options as CacheableOptions)
    @Get(':slug')
    category(@Param('slug') slug: string) {
      return `<p>${slug}</p>`;
    }
  }
  return CatalogController;
}

@Controller('home')
class HomeController {
  @Cacheable()
  @Get()
  home() {
    return '<p>home</p>';
  }
}

/**
 * Builds and starts a real Express app; closes whatever was built when the start fails, and
 * rethrows the failure.
 */
async function start(
  options: OutputCacheModuleOptions | unknown,
  controllers: Type[] = [HomeController],
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [OutputCacheModule.forRoot({ varyBy, ...(options as object) })],
    controllers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    await app.listen(0, '127.0.0.1');
    return app;
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
}

/** Expects the start-up to fail with an {@link OutputCacheConfigError} whose message matches. */
async function expectStartToFail(
  options: unknown,
  message: string | RegExp,
  controllers?: Type[],
): Promise<OutputCacheConfigError> {
  let failure: unknown;
  try {
    const app = await start(options, controllers);
    await app.close();
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(OutputCacheConfigError);
  const text = (failure as Error).message;
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
  return failure as OutputCacheConfigError;
}

describe('start-up validation (e2e)', () => {
  describe('module options fail Test.createTestingModule().compile()', () => {
    it('grace: -5 fails start-up instead of answering 500 on every cached route', async () => {
      await expectStartToFail(
        { grace: -5 },
        'OutputCacheModule: option "grace" must be a number of seconds, 0 or more (0 turns it off), got -5. Example: grace: 30',
      );
    });

    it("grace: 'abc' fails start-up instead of answering 500 on every cached route", async () => {
      await expectStartToFail(
        { grace: 'abc' },
        /^OutputCacheModule: option "grace" must be a number of seconds, 0 or more .*got the string 'abc'/,
      );
    });

    it('staleIfError: -1 fails start-up instead of answering 500 on every cached route', async () => {
      await expectStartToFail(
        { staleIfError: -1 },
        /^OutputCacheModule: option "staleIfError" must be a number of seconds, 0 or more .*got -1/,
      );
    });

    it("store: 'redis' fails start-up instead of starting and silently caching nothing", async () => {
      await expectStartToFail(
        { store: 'redis' },
        /^OutputCacheModule: option "store" must be a store instance such as new RedisOutputCacheStore\(\{\.\.\.\}\), got the string 'redis'/,
      );
    });

    it("exclude: '/admin/**' fails start-up instead of crashing requests with options.exclude.map is not a function", async () => {
      await expectStartToFail(
        { exclude: '/admin/**' },
        "OutputCacheModule: option \"exclude\" must be an array of path patterns, got the string '/admin/**'; write exclude: ['/admin/**']",
      );
    });

    it("routes: 'Catalog/category' (a string) fails start-up instead of caching nothing", async () => {
      await expectStartToFail(
        { routes: 'Catalog/category' },
        /option "routes" must be an array of route ids.*write routes: \['Catalog\/category'\]/,
      );
    });

    it('operationTimeout: 0 and shutdownTimeout: -1 fail start-up', async () => {
      await expectStartToFail(
        { operationTimeout: 0 },
        /^OutputCacheModule: option "operationTimeout" must be a positive number of seconds, got 0/,
      );
      await expectStartToFail(
        { shutdownTimeout: -1 },
        /^OutputCacheModule: option "shutdownTimeout" must be a positive number of seconds, got -1/,
      );
    });

    it('circuitBreaker: { failures: 0 } fails start-up', async () => {
      await expectStartToFail(
        { circuitBreaker: { failures: 0 } },
        /option "circuitBreaker.failures" must be a positive whole number, got 0/,
      );
    });

    it('an option name with a typo (gracee) fails start-up with a suggestion', async () => {
      await expectStartToFail(
        { gracee: 30 },
        'OutputCacheModule: unknown option "gracee". Did you mean "grace"?',
      );
    });

    it('the failure comes from compile(), before any app is created', async () => {
      await expect(
        Test.createTestingModule({
          imports: [OutputCacheModule.forRoot({ grace: -5 })],
          controllers: [HomeController],
        }).compile(),
      ).rejects.toThrow(OutputCacheConfigError);
    });

    it('forRootAsync: a factory returning grace: -5 fails compile()', async () => {
      await expect(
        Test.createTestingModule({
          imports: [OutputCacheModule.forRootAsync({ useFactory: async () => ({ grace: -5 }) })],
          controllers: [HomeController],
        }).compile(),
      ).rejects.toThrow('OutputCacheModule: option "grace" must be a number of seconds');
    });

    it('NestFactory.create fails with the same error', async () => {
      @Module({
        imports: [OutputCacheModule.forRoot({ store: 'redis' as never })],
        controllers: [HomeController],
      })
      class AppModule {}
      await expect(
        NestFactory.create(AppModule, { logger: false, abortOnError: false }),
      ).rejects.toThrow(/option "store" must be a store instance/);
    });
  });

  describe('@Cacheable options fail app.init()', () => {
    it('@Cacheable({ grace: -5 }) fails start-up instead of a 500 on its first request', async () => {
      await expectStartToFail(
        {},
        '@Cacheable on Catalog/category: option "grace" must be a number of seconds, 0 or more (0 turns it off), got -5. Example: @Cacheable({ grace: 30 })',
        [catalogWith({ grace: -5 })],
      );
    });

    it("@Cacheable({ grace: 'abc' }) fails start-up instead of a 500 on its first request", async () => {
      await expectStartToFail(
        {},
        /^@Cacheable on Catalog\/category: option "grace" must be a number of seconds.*got the string 'abc'/,
        [catalogWith({ grace: 'abc' })],
      );
    });

    it('@Cacheable({ staleIfError: -1 }) fails start-up instead of a 500 on its first request', async () => {
      await expectStartToFail(
        {},
        /^@Cacheable on Catalog\/category: option "staleIfError" must be a number of seconds, 0 or more.*got -1/,
        [catalogWith({ staleIfError: -1 })],
      );
    });

    it('@Cacheable({ ttl: 0 }) fails start-up instead of a 500 on its first request', async () => {
      await expectStartToFail(
        {},
        /^@Cacheable on Catalog\/category: option "ttl" must be a positive number of seconds, got 0\. Example: @Cacheable\(\{ ttl: 300 \}\)/,
        [catalogWith({ ttl: 0 })],
      );
    });

    it("@Cacheable({ ttl: '60' }) fails start-up and says to drop the quotes", async () => {
      await expectStartToFail(
        {},
        /option "ttl" .*got the string '60'; write the number without quotes: @Cacheable\(\{ ttl: 60 \}\)/,
        [catalogWith({ ttl: '60' })],
      );
    });

    it("@Cacheable({ varyBy: ['curency'] }) (not registered) fails start-up with a suggestion", async () => {
      await expectStartToFail(
        {},
        /^@Cacheable on Catalog\/category: option "varyBy" names "curency", which is not registered\. Did you mean "currency"\? Registered: currency, language\./,
        [catalogWith({ varyBy: ['curency'] })],
      );
    });

    it("@Cacheable({ varyBy: 'currency' }) (a string) fails start-up and shows the array", async () => {
      await expectStartToFail(
        {},
        /option "varyBy" must be an array of vary-by names, got the string 'currency'; write @Cacheable\(\{ varyBy: \['currency'\] \}\)/,
        [catalogWith({ varyBy: 'currency' })],
      );
    });

    it("@Cacheable({ query: 'page' }) (a string) fails start-up", async () => {
      await expectStartToFail(
        {},
        /option "query" must be an array of query keys, got the string 'page'; write @Cacheable\(\{ query: \['page'\] \}\)/,
        [catalogWith({ query: 'page' })],
      );
    });

    it("@Cacheable({ tags: 'catalog' }) and tags: [1] fail start-up", async () => {
      await expectStartToFail({}, /option "tags" must be an array of tags/, [
        catalogWith({ tags: 'catalog' }),
      ]);
      await expectStartToFail({}, /option "tags" must hold non-empty strings, got 1 at index 0/, [
        catalogWith({ tags: [1] }),
      ]);
    });

    it("@Cacheable({ allowAuthenticated: 'yes' }) fails start-up", async () => {
      await expectStartToFail(
        {},
        /option "allowAuthenticated" must be true or false, got the string 'yes'/,
        [catalogWith({ allowAuthenticated: 'yes' })],
      );
    });

    it('@Cacheable({ tll: 60 }) (unknown key) fails start-up with a suggestion', async () => {
      await expectStartToFail(
        {},
        '@Cacheable on Catalog/category: unknown option "tll". Did you mean "ttl"?',
        [catalogWith({ tll: 60 })],
      );
    });

    it('a bad @Cacheable on the controller class names the route and the class', async () => {
      @Cacheable({ grace: -1 })
      @RouteModule('Shop')
      @Controller('catalog')
      class CatalogController {
        @Get(':slug')
        category() {
          return 'x';
        }
      }
      await expectStartToFail(
        {},
        /^@Cacheable on Shop\/Catalog\/category \(set on CatalogController\): option "grace"/,
        [CatalogController],
      );
    });
  });

  describe('bubbling (varyBy: auto, @ViewComponent declarations)', () => {
    it("defaultVaryBy: 'some' fails start-up and names the two values", async () => {
      await expectStartToFail(
        { defaultVaryBy: 'some' },
        /^OutputCacheModule: option "defaultVaryBy" must be 'all' or 'auto', got the string 'some'/,
      );
    });

    it("@Cacheable({ fastLane: true, varyBy: 'auto' }) fails start-up: the fast lane keys in one step", async () => {
      await expectStartToFail(
        {},
        /^@Cacheable on Catalog\/category: options "fastLane" and varyBy: 'auto' cannot be combined/,
        [catalogWith({ fastLane: true, varyBy: 'auto' })],
      );
    });

    it("under defaultVaryBy: 'auto' a fast-lane route keys by every name, and others learn theirs", async () => {
      const Catalog = catalogWith({ fastLane: true });
      const app = await start({ defaultVaryBy: 'auto' }, [Catalog, HomeController]);
      try {
        const policies = app.get(RoutePolicyResolver);
        const catalog = policies.resolve(Catalog, Catalog.prototype.category);
        expect(catalog.varyAuto).toBe(false);
        expect(catalog.varyBy).toEqual(['currency', 'language']);
        const home = policies.resolve(HomeController, HomeController.prototype.home);
        expect(home.varyAuto).toBe(true);
        expect(home.varyBy).toEqual([]);
      } finally {
        await app.close();
      }
    });

    it('@ViewComponent({ varyBy: [unregistered] }) and a negative maxAge fail start-up', async () => {
      for (const [declared, message] of [
        [{ varyBy: ['curency'] }, /option "varyBy" names "curency", which is not registered/],
        [{ maxAge: -1 }, /option "maxAge" must be a number of seconds, 0 or more; got -1/],
        [{ tags: 'menu' }, /option "tags" must be an array of tags/],
      ] as const) {
        @ViewComponent({ name: 'Menu', ...(declared as object) })
        @Injectable()
        class MenuComponent {
          render() {
            return '<nav></nav>';
          }
        }
        const moduleRef = await Test.createTestingModule({
          imports: [OutputCacheModule.forRoot({ varyBy })],
          controllers: [HomeController],
          providers: [MenuComponent],
        }).compile();
        const app = moduleRef.createNestApplication({ logger: false });
        let failure: unknown;
        try {
          await app.init();
        } catch (error) {
          failure = error;
        } finally {
          await app.close().catch(() => undefined);
        }
        expect(failure).toBeInstanceOf(OutputCacheConfigError);
        expect((failure as Error).message).toMatch(/^@ViewComponent Menu: /);
        expect((failure as Error).message).toMatch(message);
      }
    });
  });

  describe('a valid configuration', () => {
    it('starts, serves MISS then HIT, and compiles every policy at start-up, not per request', async () => {
      @Controller('catalog')
      class CatalogController {
        @Cacheable({
          ttl: 300,
          grace: 30,
          staleIfError: 600,
          varyBy: ['currency'],
          query: ['page'],
          tags: (req) => [`slug:${req.params.slug}`],
          allowAuthenticated: false,
        })
        @Get(':slug')
        category(@Param('slug') slug: string) {
          return `<p>${slug}</p>`;
        }
      }
      const app = await start(
        {
          store: new MemoryOutputCacheStore({ maxEntries: 100 }),
          defaultTtl: 60,
          grace: 0,
          staleIfError: 0,
          hitForMiss: 0,
          exclude: ['/admin/**'],
          routes: ['Home/home'],
          sessionCookie: 'sid',
          circuitBreaker: { failures: 3, openFor: 5 },
          operationTimeout: 5,
          shutdownTimeout: 2,
        },
        [CatalogController, HomeController],
      );
      try {
        const resolver = app.get(RoutePolicyResolver);
        const compute = jest.spyOn(resolver as never, 'compute');
        const server = app.getHttpServer();
        const miss = await request(server).get('/catalog/shoes').expect(200);
        expect(miss.headers['x-cache']).toBe('MISS');
        const hit = await request(server).get('/catalog/shoes').expect(200);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.text).toBe('<p>shoes</p>');
        await request(server).get('/home').expect(200);
        expect(compute).not.toHaveBeenCalled();
      } finally {
        await app.close();
      }
    });

    it('an inherited handler keeps one policy per controller instead of the first one resolved', async () => {
      class BasePages {
        @Get('page')
        page() {
          return 'page';
        }
      }
      @Cacheable({ ttl: 10 })
      @Controller('a')
      class AController extends BasePages {}
      @Cacheable({ ttl: 20 })
      @Controller('b')
      class BController extends BasePages {}
      const app = await start({}, [AController, BController]);
      try {
        const resolver = app.get(RoutePolicyResolver);
        const handler = BasePages.prototype.page;
        expect(resolver.resolve(AController, handler)).toMatchObject({
          routeId: 'A/page',
          ttlMs: 10_000,
        });
        expect(resolver.resolve(BController, handler)).toMatchObject({
          routeId: 'B/page',
          ttlMs: 20_000,
        });
      } finally {
        await app.close();
      }
    });
  });
});
