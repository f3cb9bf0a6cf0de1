import { Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import picomatch from 'picomatch';
import {
  Cacheable,
  type CacheableOptions,
  NoOutputCache,
  RouteModule,
} from '../decorators/cacheable.decorator.js';
import { type ResolvedOutputCacheOptions } from '../output-cache.options.js';
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
  /** Vary-by names that apply, sorted. */
  readonly varyBy: readonly string[];
  /** Query keys that count, or undefined for all. */
  readonly query: ReadonlySet<string> | undefined;
  readonly tags: CacheableOptions['tags'];
  readonly allowAuthenticated: boolean;
  /** Lower-case request headers that are part of the key (from `{ header }` vary-by resolvers). */
  readonly keyHeaders: ReadonlySet<string>;
}

/** Resolves and memoises the {@link RoutePolicy} of each handler. */
@Injectable()
export class RoutePolicyResolver {
  private readonly cache = new WeakMap<Function, { revision: number; policy: RoutePolicy }>();
  private readonly excluded: (path: string) => boolean;

  constructor(
    private readonly reflector: Reflector,
    private readonly routes: CacheableRoutesRegistry,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {
    const matchers = options.exclude.map((pattern) => picomatch(pattern, { dot: true }));
    this.excluded = (path) => matchers.some((match) => match(path));
  }

  /** The policy of `handler` on `controller`. */
  resolve(controller: Function, handler: Function): RoutePolicy {
    const cached = this.cache.get(handler);
    if (cached && cached.revision === this.routes.revision) return cached.policy;
    const policy = this.compute(controller, handler);
    this.cache.set(handler, { revision: this.routes.revision, policy });
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
    const optOut = this.reflector.get(NoOutputCache, handler) === true;
    const cacheable =
      !optOut &&
      (onClass !== undefined ||
        onHandler !== undefined ||
        this.options.routes.includes(routeId) ||
        this.routes.has(routeId));
    const merged: CacheableOptions = { ...(onClass ?? {}), ...(onHandler ?? {}) };
    const registered = Object.keys(this.options.varyBy);
    const varyBy = (merged.varyBy ?? registered).slice().sort();
    for (const name of varyBy) {
      if (!registered.includes(name)) {
        throw new Error(
          `@Cacheable on ${routeId}: vary-by "${name}" is not registered; add a resolver for it to OutputCacheModule's varyBy option`,
        );
      }
    }
    const ttl = merged.ttl ?? this.options.defaultTtl;
    if (!(ttl > 0))
      throw new Error(`@Cacheable on ${routeId}: ttl must be a positive number of seconds`);
    const keyHeaders = new Set<string>(['host']);
    for (const name of varyBy) {
      const resolver = this.options.varyBy[name];
      if (typeof resolver === 'object') keyHeaders.add(resolver.header.toLowerCase());
    }
    const grace = merged.grace ?? this.options.grace;
    const staleIfError = merged.staleIfError ?? this.options.staleIfError;
    if (!(grace >= 0) || !(staleIfError >= 0)) {
      throw new Error(`@Cacheable on ${routeId}: grace and staleIfError are seconds, 0 or more`);
    }
    return {
      routeId,
      cacheable,
      ttlMs: ttl * 1000,
      graceMs: grace * 1000,
      staleIfErrorMs: staleIfError * 1000,
      varyBy,
      query: merged.query ? new Set(merged.query) : undefined,
      tags: merged.tags,
      allowAuthenticated: merged.allowAuthenticated ?? false,
      keyHeaders,
    };
  }
}
