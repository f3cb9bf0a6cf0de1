import {
  type CallHandler,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  RequestMethod,
  VersioningType,
} from '@nestjs/common';
import {
  GUARDS_METADATA,
  HOST_METADATA,
  INTERCEPTORS_METADATA,
  MODULE_PATH,
  PATH_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/internal';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, ModuleRef } from '@nestjs/core';
import { PathsExplorer } from '@nestjs/core/router/paths-explorer.js';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { match as compilePath } from 'path-to-regexp';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { type RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import { type CacheEntry, freshnessOf } from '../stores/cache-entry.js';
import { EntryReader } from './entry-reader.js';
import { HitWriter } from './hit-writer.js';
import { KeyResolver } from './key-resolver.js';
import type { Bypass, Lookup } from './lookup.js';
import { OutputCacheInterceptor } from './output-cache.interceptor.js';
import { HttpPlatform } from './platform/http-platform.js';
import { StaleRefresher } from './stale-refresher.js';

/** One route of the app as the router matches it: its paths, and its policy when it is cacheable. */
interface RouteEntry {
  readonly methods: ReadonlySet<string>;
  /** Whether the path matches one of the route's patterns. */
  readonly matches: (path: string) => boolean;
  /** Set when the route is a fast-lane route. */
  readonly policy?: RoutePolicy;
}

/** The fast lane never calls the handler: a hit is written and that is all. */
const NO_HANDLER: CallHandler = {
  handle() {
    throw new Error('the fast lane does not run route handlers');
  },
};

/**
 * The fast lane: fresh hits of `@Cacheable({ fastLane: true })` routes served at the HTTP server's
 * earliest point ({@link HttpPlatform.installFastLane}: Express's `request` event), before
 * middleware, Nest's router, guards and interceptors. The key, the request rules and the hit
 * writer are the ordinary path's own ({@link KeyResolver}, {@link HitWriter}), on the raw request;
 * anything but a fresh hit (a miss, a bypass, a stale entry, a route that is not on the fast lane,
 * a path two routes could answer) goes on into the app untouched.
 *
 * Routes are matched at start-up the way the router matches them (the paths Nest registers,
 * global prefix, module paths and URI versions included, compiled with `path-to-regexp` as
 * Express 5 does). A fast-lane route with a guard (its own, its controller's or a global one) or
 * an interceptor other than the cache's stops the start-up with an {@link OutputCacheConfigError}:
 * the fast lane would skip them.
 *
 * @example
 * ```ts
 * @Cacheable({ ttl: 300, fastLane: true })
 * @Get('category/:slug')
 * @Render('category')
 * category(@Param('slug') slug: string) { ... }
 * ```
 */
@Injectable()
export class FastLane implements OnApplicationBootstrap {
  protected readonly logger = new Logger('OutputCache');
  private routes: RouteEntry[] = [];

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly policies: RoutePolicyResolver,
    protected readonly keys: KeyResolver,
    protected readonly reader: EntryReader,
    protected readonly hits: HitWriter,
    protected readonly refresher: StaleRefresher,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
  ) {}

  onApplicationBootstrap(): void {
    const routes = this.routeTable();
    if (!routes.some((route) => route.policy)) return;
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter || !this.platform.installFastLane(adapter, (req, res) => this.serve(req, res))) {
      this.logger.warn(
        'fastLane: this HTTP platform has no fast lane; fast-lane routes take the ordinary path',
      );
      return;
    }
    this.routes = routes;
    const skipped = skippedMiddleware(adapter.getInstance?.());
    if (skipped.length > 0) {
      // Not refused: a logger or compression is harmless. But CORS, helmet, rate limits, request
      // ids do not run on a fast-lane hit, and a careful user wants to hear it once, at start-up.
      this.logger.warn(
        `fastLane: middleware that does not run on fast-lane hits: ${skipped.join(', ')}. ` +
          'Headers it sets and requests it rejects are not set or rejected there (README, "Fast lane")',
      );
    }
  }

  /**
   * Serves `req` when it is a fresh hit of a fast-lane route: true when answered, false (now or
   * once the store answered) when the request must go on into the app. Writes nothing then.
   */
  serve(req: any, res: any): boolean | Promise<boolean> {
    if (!this.options.enabled || this.refresher.isRefresh(req)) return false;
    const method = this.platform.method(req);
    if (method !== 'GET' && method !== 'HEAD') return false;
    const policy = this.routeOf(method, this.platform.url(req));
    if (!policy) return false;
    const lookup = this.keys.resolve(req, res, policy, NO_HANDLER, false);
    return lookup instanceof Promise ? lookup.then((found) => this.read(found)) : this.read(lookup);
  }

  /** The policy of the one fast-lane route that answers `method` on `url`, if exactly one does. */
  protected routeOf(method: string, url: string): RoutePolicy | undefined {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let found: RoutePolicy | undefined;
    for (const route of this.routes) {
      if (!route.methods.has(method) || !route.matches(path)) continue;
      // A second candidate (or a route not on the fast lane): the router decides, not us.
      if (found || !route.policy) return undefined;
      found = route.policy;
    }
    return found;
  }

  private read(found: Lookup | Bypass): boolean | Promise<boolean> {
    // A bypass goes through the app, which answers it and reports it (X-Cache: BYPASS).
    if ('bypass' in found) return false;
    const entry = this.reader.read(found.key);
    return entry instanceof Promise
      ? entry.then((e) => this.write(found, e))
      : this.write(found, entry);
  }

  private write(lookup: Lookup, entry: CacheEntry | undefined): boolean {
    // Stale (refresh in the background), kept for errors, missing: the ordinary path's business.
    if (!entry || freshnessOf(entry, Date.now()) !== 'fresh') return false;
    // What middleware would have set on this response; the page's stored headers win.
    const { fastLaneHeaders } = this.options;
    for (const name in fastLaneHeaders) {
      this.platform.setHeader(lookup.res, name, fastLaneHeaders[name]);
    }
    this.hits.write(lookup, entry, 'hit').subscribe({
      error: (error: unknown) => {
        this.logger.error(`fast-lane hit of ${lookup.key} failed: ${String(error)}`);
        const { res } = lookup;
        if (!this.platform.headersSent(res)) this.platform.writeResponse(res, 500, undefined, {});
        else res.destroy?.();
      },
    });
    return true;
  }

  /**
   * Every route of the app (GET, HEAD and ALL ones: those a GET or HEAD request can reach), with
   * the policy of fast-lane ones; refuses a fast-lane route that has something the lane skips.
   */
  private routeTable(): RouteEntry[] {
    const container = (this.moduleRef as unknown as { container?: any }).container;
    const config = container?.applicationConfig;
    const factory = new RoutePathFactory(config);
    const explorer = new PathsExplorer(this.scanner);
    const globalPrefix: string = config?.getGlobalPrefix?.() ?? '';
    const versioning = config?.getVersioning?.();
    const appId: string | undefined = container?.applicationId;
    const express = this.adapterHost?.httpAdapter?.getInstance?.();
    const sensitive = !!express?.enabled?.('case sensitive routing');
    const strict = !!express?.enabled?.('strict routing');
    const routes: RouteEntry[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as Function | undefined;
      if (typeof controller !== 'function' || !controller.prototype) continue;
      const module = wrapper.host?.metatype as Function | undefined;
      const modulePath: string | undefined =
        (module && appId && Reflect.getMetadata(`${MODULE_PATH}${appId}`, module)) ??
        (module && Reflect.getMetadata(MODULE_PATH, module));
      const ctrlPaths = ([] as string[]).concat(
        Reflect.getMetadata(PATH_METADATA, controller) ?? '/',
      );
      const ctrlVersion = Reflect.getMetadata(VERSION_METADATA, controller);
      const ctrlHost = Reflect.getMetadata(HOST_METADATA, controller);
      for (const route of explorer.scanForPaths(Object.create(controller.prototype))) {
        const methods = methodsOf(route.requestMethod);
        if (methods.size === 0) continue;
        const handler = controller.prototype[route.methodName] as Function;
        const policy = this.policies.resolve(controller, handler);
        const fast = policy.fastLane === true;
        if (fast) {
          this.check(policy, controller, handler, {
            host: ctrlHost,
            versioned: !!versioning && versioning.type !== VersioningType.URI,
            config,
          });
        }
        const paths = ctrlPaths.flatMap((ctrlPath) =>
          factory.create(
            {
              ctrlPath,
              methodPath: route.path as unknown as string,
              modulePath,
              globalPrefix,
              controllerVersion: ctrlVersion,
              methodVersion: route.version,
              versioningOptions: versioning,
            } as never,
            route.requestMethod,
          ),
        );
        const matches = this.matcher(paths, { sensitive, strict }, fast ? policy : undefined);
        routes.push({ methods, matches, policy: fast ? policy : undefined });
      }
    }
    return routes;
  }

  /** Compiles a route's paths as Express 5's router does. */
  private matcher(
    paths: string[],
    options: { sensitive: boolean; strict: boolean },
    policy: RoutePolicy | undefined,
  ): (path: string) => boolean {
    try {
      const fns = paths.map((path) =>
        compilePath(path, {
          sensitive: options.sensitive,
          end: true,
          trailing: !options.strict,
          decode: false,
        }),
      );
      return (path) => fns.some((fn) => fn(path) !== false);
    } catch (error) {
      if (policy) {
        throw new OutputCacheConfigError(
          `@Cacheable({ fastLane: true }) on ${policy.routeId}: its path ${paths.join(', ')} ` +
            `cannot be matched outside the router (${String(error)}); remove fastLane`,
        );
      }
      // A path we cannot read may answer anything: a fast-lane route it overlaps is left alone.
      return () => true;
    }
  }

  /** Refuses a fast-lane route that has something the fast lane would skip. */
  private check(
    policy: RoutePolicy,
    controller: Function,
    handler: Function,
    context: { host: unknown; versioned: boolean; config: any },
  ): void {
    const fail = (reason: string): never => {
      throw new OutputCacheConfigError(
        `@Cacheable({ fastLane: true }) on ${policy.routeId}: ${reason}. The fast lane serves ` +
          'hits before guards, interceptors and middleware run; remove fastLane from this route, ' +
          'or what it would skip',
      );
    };
    const guards = [
      ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[]) ?? []),
      ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[]) ?? []),
    ];
    if (guards.length > 0) fail(`it has a guard (${guards.map(nameOf).join(', ')})`);
    const global = [
      ...(context.config?.getGlobalGuards?.() ?? []),
      ...(context.config?.getGlobalRequestGuards?.() ?? []),
    ];
    if (global.length > 0) {
      fail(
        `the app has a global guard (${global.map(nameOf).join(', ')}: APP_GUARD or useGlobalGuards)`,
      );
    }
    const interceptors = [
      ...((Reflect.getMetadata(INTERCEPTORS_METADATA, controller) as unknown[]) ?? []),
      ...((Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[]) ?? []),
      ...(context.config?.getGlobalInterceptors?.() ?? []),
      ...(context.config?.getGlobalRequestInterceptors?.() ?? []),
    ].filter((i) => !(i instanceof OutputCacheInterceptor) && i !== OutputCacheInterceptor);
    if (interceptors.length > 0) {
      fail(`it has an interceptor other than the cache's (${interceptors.map(nameOf).join(', ')})`);
    }
    if (policy.allowAuthenticated) {
      fail('it allows signed-in requests (allowAuthenticated), whose roles only middleware knows');
    }
    if (context.host !== undefined)
      fail('its controller is routed by host (@Controller({ host }))');
    if (context.versioned) fail('the app routes by a header or media-type version');
  }
}

/** Express's own middleware and Nest's body parsers: nothing a hit's response depends on. */
const BUILT_IN_MIDDLEWARE = new Set([
  'query',
  'expressInit',
  'jsonParser',
  'urlencodedParser',
  'rawParser',
  'textParser',
]);

/**
 * The names of the app-level Express middleware ahead of the routes (what the fast lane skips),
 * Express's and Nest's own left out; empty on another platform.
 */
function skippedMiddleware(app: any): string[] {
  let stack: any[] | undefined;
  try {
    stack = app?.router?.stack;
  } catch {
    return [];
  }
  if (!Array.isArray(stack)) return [];
  const lastRoute = stack.map((layer) => !!layer.route).lastIndexOf(true);
  return stack
    .slice(0, Math.max(0, lastRoute))
    .filter((layer) => !layer.route && !BUILT_IN_MIDDLEWARE.has(layer.name) && !isNestHook(layer))
    .map((layer) => String(layer.name || '<anonymous>'));
}

/** Nest's ExpressAdapter's own first middleware (its onRequest/onResponse hooks), anonymous. */
function isNestHook(layer: any): boolean {
  const anonymous = !layer.name || layer.name === '<anonymous>';
  return anonymous && String(layer.handle).includes('onResponseHook');
}

/** The request methods that reach a route of `method` (Express routes HEAD to GET routes). */
function methodsOf(method: RequestMethod | undefined): ReadonlySet<string> {
  switch (method) {
    case RequestMethod.GET:
      return new Set(['GET', 'HEAD']);
    case RequestMethod.HEAD:
      return new Set(['HEAD']);
    case RequestMethod.ALL:
      return new Set(['GET', 'HEAD']);
    default:
      return new Set();
  }
}

/** A guard's or interceptor's name for a message (a class, an instance, or a request-scoped wrapper). */
function nameOf(thing: any): string {
  if (typeof thing === 'function') return thing.name || 'anonymous';
  return thing?.metatype?.name ?? thing?.constructor?.name ?? String(thing);
}
