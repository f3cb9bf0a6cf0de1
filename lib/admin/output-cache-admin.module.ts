import { Controller, type DynamicModule, Module, UseGuards } from '@nestjs/common';
import { OUTPUT_CACHE_ADMIN_OPTIONS } from './output-cache-admin.constants.js';
import { OutputCacheAdminController } from './output-cache-admin.controller.js';
import { type OutputCacheAdminOptions, resolveAdminOptions } from './output-cache-admin.options.js';
import { OutputCacheAdminService } from './output-cache-admin.service.js';
import { SameOriginGuard } from './same-origin.guard.js';

/**
 * The cache's admin endpoints and dashboard, opt-in: JSON endpoints to list entries (filters,
 * paging), read one, purge (key, route, tag, prefix, all; soft or hard), read stats and the
 * store's health, and a server-rendered dashboard, all under `path` and behind the app's
 * `guard`. Without a guard the app does not start, unless `allowInsecure: true` is given on
 * purpose. Needs `OutputCacheModule` (global by default; else pass it in `imports`).
 *
 * The path and the guard shape the routes, so they are given to `forRoot()` itself; a guard
 * class can take whatever configuration it needs by injection (list its module in `imports`).
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     OutputCacheModule.forRoot(),
 *     OutputCacheAdminModule.forRoot({ path: 'admin/output-cache', guard: AdminGuard }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class OutputCacheAdminModule {
  /** Mounts the endpoints; throws an `OutputCacheConfigError` for a wrong option. */
  static forRoot(options: OutputCacheAdminOptions): DynamicModule {
    const resolved = resolveAdminOptions(options);
    // A controller class per module instance: its path and guard are this call's (Nest reads
    // both from the class's metadata; the routes are inherited from the base class).
    class MountedController extends OutputCacheAdminController {}
    Object.defineProperty(MountedController, 'name', { value: 'OutputCacheAdminController' });
    Controller(resolved.path)(MountedController);
    if (resolved.guard) UseGuards(resolved.guard)(MountedController);
    return {
      module: OutputCacheAdminModule,
      imports: options.imports ?? [],
      controllers: [MountedController],
      providers: [
        { provide: OUTPUT_CACHE_ADMIN_OPTIONS, useValue: resolved },
        OutputCacheAdminService,
        SameOriginGuard,
      ],
      exports: [OutputCacheAdminService],
    };
  }
}
