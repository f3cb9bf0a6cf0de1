import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import picomatch from 'picomatch';
import {
  Cacheable,
  type CacheableOptions,
  NoOutputCache,
  RouteModule,
} from '../decorators/cacheable.decorator.js';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';
import {
  describeValue,
  didYouMean,
  type NumberRule,
  numberProblem,
  type ResolvedOutputCacheOptions,
  type StreamHoles,
  streamHolesProblem,
} from '../output-cache.options.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import { CacheableRoutesRegistry } from './cacheable-routes.registry.js';
import { routeIdOf } from './route-id.js';

/** Everything the cache needs to know about one handler, computed once. */
export interface RoutePolicy {
  readonly routeId: string;
  readonly cacheable: boolean;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly staleIfErrorMs: number;
  /**
   * Vary-by names that are always part of the key, sorted: the route's pinned names, every
   * registered name (the default), or, for `varyBy: 'auto'`, only `roles` when signed-in requests
   * are served.
   */
  readonly varyBy: readonly string[];
  /**
   * `varyBy: 'auto'`: the names a page's render reads are learned, per URL (two-step lookup);
   * otherwise a read of a name outside {@link varyBy} is a bug (logged, page not stored).
   */
  readonly varyAuto?: boolean;
  /** Query keys that count, or undefined for all. */
  readonly query: ReadonlySet<string> | undefined;
  readonly tags: CacheableOptions['tags'];
  readonly allowAuthenticated: boolean;
  /** Lower-case request headers that are part of the key (from `{ header }` vary-by resolvers). */
  readonly keyHeaders: ReadonlySet<string>;
  /** Fresh hits are served from the fast lane (`@Cacheable({ fastLane: true })`). */
  readonly fastLane?: boolean;
  /** How pages with holes go out (the route's `streamHoles`, else the module's). */
  readonly streamHoles?: StreamHoles;
}

/** Every option of `@Cacheable`: the mapped type makes a new option without an entry an error. */
const CACHEABLE_OPTIONS: { readonly [K in keyof CacheableOptions]-?: true } = {
  ttl: true,
  grace: true,
  staleIfError: true,
  varyBy: true,
  query: true,
  tags: true,
  allowAuthenticated: true,
  fastLane: true,
  streamHoles: true,
};

const SECONDS: Record<'ttl' | 'grace' | 'staleIfError', { rule: NumberRule; example: number }> = {
  ttl: { rule: { unit: 'seconds', zero: false }, example: 300 },
  grace: { rule: { unit: 'seconds', zero: true }, example: 30 },
  staleIfError: { rule: { unit: 'seconds', zero: true }, example: 600 },
};

/**
 * Resolves and memoises the {@link RoutePolicy} of each handler. Every controller handler's
 * policy is compiled at bootstrap, so that a wrong `@Cacheable` option stops the app's start-up
 * (`app.init()`) with an {@link OutputCacheConfigError} instead of failing its first request.
 *
 * @example
 * ```ts
 * const policies = app.get(RoutePolicyResolver);
 * policies.resolve(CatalogController, CatalogController.prototype.category).routeId;
 * // 'Catalog/category'
 * ```
 */
@Injectable()
export class RoutePolicyResolver implements OnApplicationBootstrap {
  private readonly logger = new Logger('OutputCache');
  /** Controller → handler → policy: an inherited handler is shared by several controllers. */
  private readonly cache = new WeakMap<
    Function,
    WeakMap<Function, { revision: number; policy: RoutePolicy }>
  >();
  private readonly excluded: (path: string) => boolean;

  constructor(
    private readonly reflector: Reflector,
    private readonly routes: CacheableRoutesRegistry,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {
    // Case-insensitive, as Express routes by default: `/ADMIN/x` reaches the `/admin/x` handler,
    // so it must not slip past an `/admin/**` exclusion into the cache.
    const matchers = options.exclude.map((pattern) =>
      picomatch(pattern, { dot: true, nocase: true }),
    );
    this.excluded = (path) => matchers.some((match) => match(path));
  }

  /**
   * Compiles the policy of every controller handler. Nest awaits the hooks of a provider's
   * dependencies first, so {@link CacheableRoutesRegistry} has collected its routes by now (and
   * a route it adds later only bumps the revision: the policy is recomputed, never invalid).
   */
  onApplicationBootstrap(): void {
    const routeIds = new Set<string>();
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype;
      if (typeof controller !== 'function' || !controller.prototype) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') continue;
        routeIds.add(this.resolve(controller, handler).routeId);
      }
    }
    const unknown = this.options.routes.filter((id) => !id.startsWith('vc:') && !routeIds.has(id));
    if (unknown.length > 0) {
      // A warning, not an error: a lazily loaded module's controllers are not known yet.
      this.logger.warn(
        `OutputCacheModule: option "routes" names ${unknown.map((id) => `'${id}'`).join(', ')}, ` +
          `which no controller handler has; route ids look like ${[...routeIds].slice(0, 3).join(', ') || 'Catalog/category'}`,
      );
    }
  }

  /** The policy of `handler` on `controller`. */
  resolve(controller: Function, handler: Function): RoutePolicy {
    let byHandler = this.cache.get(controller);
    const cached = byHandler?.get(handler);
    if (cached && cached.revision === this.routes.revision) return cached.policy;
    const policy = this.compute(controller, handler);
    if (!byHandler) this.cache.set(controller, (byHandler = new WeakMap()));
    byHandler.set(handler, { revision: this.routes.revision, policy });
    return policy;
  }

  /** Whether a normalised path matches an `exclude` pattern. */
  isExcluded(path: string): boolean {
    return this.excluded(path);
  }

  private compute(controller: Function, handler: Function): RoutePolicy {
    const module = this.reflector.get(RouteModule, controller);
    const routeId = routeIdOf(controller, handler.name, module);
    const onClass = this.reflector.get(Cacheable, controller);
    const onHandler = this.reflector.get(Cacheable, handler);
    if (onClass) this.check(onClass, `${routeId} (set on ${controller.name})`);
    if (onHandler) this.check(onHandler, routeId);
    const optOut = this.reflector.get(NoOutputCache, handler) === true;
    const cacheable =
      !optOut &&
      (onClass !== undefined ||
        onHandler !== undefined ||
        this.options.routes.includes(routeId) ||
        this.routes.has(routeId));
    const merged: CacheableOptions = { ...(onClass ?? {}), ...(onHandler ?? {}) };
    const registered = Object.keys(this.options.varyBy);
    // The fast lane keys in one step from the raw request: it never learns names ('all').
    const declared =
      merged.varyBy ?? (merged.fastLane === true ? 'all' : this.options.defaultVaryBy);
    const varyAuto = declared === 'auto';
    const allowAuthenticated = merged.allowAuthenticated ?? false;
    // Auto: learned per URL; a signed-in page is always keyed by its roles (when registered).
    const varyBy = (
      varyAuto
        ? allowAuthenticated && registered.includes('roles')
          ? ['roles']
          : []
        : declared === 'all'
          ? registered
          : declared
    )
      .slice()
      .sort();
    const keyHeaders = keyHeadersOf(varyBy, this.options.varyBy, ['host']);
    const ttl = merged.ttl ?? this.options.defaultTtl;
    const grace = merged.grace ?? this.options.grace;
    const staleIfError = merged.staleIfError ?? this.options.staleIfError;
    const streamHoles = merged.streamHoles ?? this.options.streamHoles;
    if (cacheable && merged.fastLane === true && streamHoles !== false) {
      // The fast lane writes whole hits before the framework runs; streaming is the ordinary
      // path's (holes whose headers go out first, the framework's reply hooks).
      throw new OutputCacheConfigError(
        `@Cacheable on ${routeId}: option "fastLane" cannot be combined with streamed holes ` +
          `(streamHoles: ${merged.streamHoles === undefined ? `'${streamHoles}' from OutputCacheModule.forRoot` : `'${streamHoles}'`}). ` +
          `Add streamHoles: false to this route's @Cacheable, or remove fastLane`,
      );
    }
    return {
      routeId,
      cacheable,
      ttlMs: ttl * 1000,
      graceMs: grace * 1000,
      staleIfErrorMs: staleIfError * 1000,
      varyBy,
      varyAuto,
      query: merged.query ? new Set(merged.query) : undefined,
      tags: merged.tags,
      allowAuthenticated,
      keyHeaders,
      fastLane: cacheable && merged.fastLane === true,
      streamHoles,
    };
  }

  /** Checks one `@Cacheable` options object; `where` names the route in the message. */
  private check(options: CacheableOptions, where: string): void {
    const fail = (problem: string): never => {
      throw new OutputCacheConfigError(`@Cacheable on ${where}: ${problem}`);
    };
    const known = Object.keys(CACHEABLE_OPTIONS);
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) {
        fail(
          `unknown option "${key}".${didYouMean(key, known) || ` The options are ${known.join(', ')}.`}`,
        );
      }
    }
    for (const name of ['ttl', 'grace', 'staleIfError'] as const) {
      if (options[name] === undefined) continue;
      const { rule, example } = SECONDS[name];
      const write = (v: string) => `@Cacheable({ ${name}: ${v} })`;
      const problem = numberProblem(options[name], rule, write, example);
      if (problem) fail(`option "${name}" ${problem}`);
    }
    const registered = Object.keys(this.options.varyBy);
    const varyBy =
      options.varyBy === 'auto' || options.varyBy === 'all'
        ? undefined
        : this.strings(options.varyBy, 'varyBy', 'vary-by names', "['currency']", fail);
    for (const name of varyBy ?? []) {
      if (registered.includes(name)) continue;
      fail(
        `option "varyBy" names "${name}", which is not registered.${didYouMean(name, registered)} ` +
          `Registered: ${registered.join(', ') || '(none)'}. Add a resolver for it to ` +
          `OutputCacheModule.forRoot({ varyBy: { ${name}: (req) => ... } }), or remove it`,
      );
    }
    this.strings(options.query, 'query', 'query keys', "['page', 'sort']", fail);
    if (typeof options.tags !== 'function') {
      this.strings(
        options.tags,
        'tags',
        'tags (or a function (req) => string[])',
        "['catalog']",
        fail,
      );
    }
    const allow = options.allowAuthenticated;
    if (allow !== undefined && typeof allow !== 'boolean') {
      fail(
        `option "allowAuthenticated" must be true or false, got ${describeValue(allow)}. ` +
          `Example: @Cacheable({ allowAuthenticated: true })`,
      );
    }
    const fast = options.fastLane;
    if (fast !== undefined && typeof fast !== 'boolean') {
      fail(
        `option "fastLane" must be true or false, got ${describeValue(fast)}. ` +
          `Example: @Cacheable({ fastLane: true })`,
      );
    }
    if (fast === true && options.varyBy === 'auto') {
      fail(
        'options "fastLane" and varyBy: \'auto\' cannot be combined: the fast lane computes the ' +
          'key from the raw request in one step, before any render has told which vary-by names ' +
          'a page reads. Pin the names (varyBy: [...]) or remove fastLane',
      );
    }
    if (options.streamHoles !== undefined) {
      const problem = streamHolesProblem(
        options.streamHoles,
        (v) => `@Cacheable({ streamHoles: ${v} })`,
      );
      if (problem) fail(`option "streamHoles" ${problem}`);
    }
    if (fast === true && allow === true) {
      // A signed-in page is keyed by roles, which come from what middleware or guards put on the
      // request; the fast lane runs before them and would key a signed-in user as anonymous.
      fail(
        'options "fastLane" and "allowAuthenticated" cannot be combined: the fast lane runs ' +
          'before the middleware and guards that tell who is signed in. Signed-in requests on a ' +
          'fast-lane route always take the ordinary path; remove one of the two options',
      );
    }
  }

  /** Checks an optional array-of-strings option; a lone string gets the array written out. */
  private strings(
    value: unknown,
    name: string,
    what: string,
    example: string,
    fail: (problem: string) => never,
  ): string[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string') {
      fail(
        `option "${name}" must be an array of ${what}, got ${describeValue(value)}; ` +
          `write @Cacheable({ ${name}: ['${value}'] })`,
      );
    }
    if (!Array.isArray(value)) {
      fail(
        `option "${name}" must be an array of ${what}, got ${describeValue(value)}. ` +
          `Example: @Cacheable({ ${name}: ${example} })`,
      );
    }
    const list = value as unknown[];
    list.forEach((item, index) => {
      if (typeof item !== 'string' || item === '') {
        fail(
          `option "${name}" must hold non-empty strings, got ${describeValue(item)} at index ${index}`,
        );
      }
    });
    return list as string[];
  }
}

/**
 * The request headers a key holds: `base`, and the header of each of `names` resolved from one
 * (`{ header }`). A response's `Vary` naming any of them is covered by the key.
 */
export function keyHeadersOf(
  names: readonly string[],
  resolvers: ResolvedOutputCacheOptions['varyBy'],
  base: Iterable<string>,
): Set<string> {
  const headers = new Set<string>(base);
  for (const name of names) {
    const resolver = resolvers[name];
    if (typeof resolver === 'object') headers.add(resolver.header.toLowerCase());
  }
  return headers;
}
