import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutputCacheModule, VarnishBanPurger } from '../lib/index.js';
import { AccountModule } from './account/account.module.js';
import { AdminModule } from './admin/admin.module.js';
import { BlogModule } from './blog/blog.module.js';
import { createCacheStore } from './cache/cache-store.factory.js';
import { CacheRulesModule } from './cache/cache-rules.module.js';
import { CartModule } from './cart/cart.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { CommonModule } from './common/common.module.js';
import { currencyOf } from './common/currency.js';
import { ComponentsModule } from './components/components.module.js';
import { databaseOptions, preparePostgres } from './database.config.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { Setting } from './entities/setting.entity.js';
import {
  resolveSampleAppOptions,
  SAMPLE_APP_OPTIONS,
  type SampleAppOptions,
} from './sample-app.options.js';
import { CSRF_FIELD, CsrfService } from './security/csrf.service.js';
import { SeedModule } from './seed/seed.module.js';

@Module({})
export class AppModule {
  static forRoot(options: SampleAppOptions = {}): DynamicModule {
    const resolved = resolveSampleAppOptions(options);
    const csrf = new CsrfService(resolved.csrfSecret);
    return {
      module: AppModule,
      global: true,
      imports: [
        // On PostgreSQL, DATABASE_SCHEMA is created when missing before TypeORM synchronizes.
        TypeOrmModule.forRootAsync({
          useFactory: async () => {
            await preparePostgres(resolved);
            return databaseOptions(resolved);
          },
        }),
        OutputCacheModule.forRootAsync({
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => ({
            // memory (default), redis, typeorm or tiered: OUTPUT_CACHE_STORE.
            store: createCacheStore(resolved.store, dataSource),
            // With a shared store, a cold page is rendered once across all instances.
            distributedLock: resolved.store === 'redis' || resolved.store === 'tiered',
            // Every page lives `cacheTtl` seconds (60 by default; the routes set no ttl of their
            // own). Edits evict the pages that show them at once: the TTL is only a safety net.
            defaultTtl: resolved.cacheTtl,
            // Grace: an expired page is still served (X-Cache: STALE) for this long while one
            // background render refreshes it, so no visitor waits for a render.
            grace: resolved.cacheGrace,
            // Stale-if-error: for ten minutes after the TTL, a page whose render fails (the
            // database is down: POST /admin/outage) is answered with the old copy, not a 503.
            staleIfError: 600,
            // One entry per currency: the routes list no vary-by names, so every page is keyed
            // by every registered one (`defaultVaryBy: 'all'`, the default). The pages that
            // show prices or the currency selector also say they read it (`@Currency()`, the
            // selector's `varyBy`): with `defaultVaryBy: 'auto'` (SAMPLE_VARY_AUTO=1) each URL
            // learns its names from them instead.
            varyBy: { currency: (req) => currencyOf(req) },
            defaultVaryBy: process.env.SAMPLE_VARY_AUTO === '1' ? 'auto' : 'all',
            // X-Cache-Reason on every cacheable response (SAMPLE_REASON_HEADER=1): why it was a
            // hit, a miss or not stored. The soak turns it on to tell a hit from a shared render.
            reasonHeader: process.env.SAMPLE_REASON_HEADER === '1',
            // The cached page goes out at once, each hole (the mini cart...) as it is ready;
            // browsers without JavaScript get the holes in order (SAMPLE_STREAM_HOLES).
            streamHoles: resolved.streamHoles === 'off' ? false : resolved.streamHoles,
            // Belt and braces: the back office is never cached, whatever its handlers say.
            exclude: ['/admin/**'],
            // Signed-in visitors (a `sid` session cookie) always get a fresh page.
            sessionCookie: 'sid',
            // A deploy with a new version never serves pages rendered by the old one.
            appVersion: process.env.APP_VERSION ?? '1.0.0',
            // `{{{antiforgeryField}}}`: a hole with a fresh token (and cookie) for every response.
            csrf: { token: (req, res) => csrf.generateToken(req, res), fieldName: CSRF_FIELD },
            // For `observeSetting` (CacheRulesService): which entity holds the settings.
            settings: { entity: Setting, keyColumn: 'key', valueColumn: 'value' },
            // SAMPLE_CDN=varnish: Varnish in front (docs/varnish/output-cache.vcl). Pages without
            // holes (the JSON API) carry their tags in Surrogate-Key, and every eviction is sent
            // to Varnish as a ban. Varnish keeps them as long as the app does: purges reach it,
            // and the TTL stays the same safety net for changes no eviction covers.
            cdn:
              resolved.cdn === 'varnish'
                ? {
                    maxAge: resolved.cacheTtl,
                    purger: new VarnishBanPurger({ url: resolved.varnishUrl! }),
                  }
                : undefined,
          }),
        }),
        CommonModule,
        SeedModule,
        CatalogModule,
        BlogModule,
        CartModule,
        AccountModule,
        ComponentsModule,
        CacheRulesModule,
        AdminModule,
        MetricsModule.forRoot(),
      ],
      providers: [
        { provide: SAMPLE_APP_OPTIONS, useValue: resolved },
        { provide: CsrfService, useValue: csrf },
      ],
      exports: [SAMPLE_APP_OPTIONS, CsrfService],
    };
  }
}
