import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';
import { UnknownComponentError } from '../errors/unknown-component.error.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import { describeValue, type ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { CacheableRoutesRegistry } from '../policy/cacheable-routes.registry.js';
import { ANTIFORGERY_COMPONENT, AntiforgeryTokenComponent } from './antiforgery-token.component.js';
import { CacheableComponent, ViewComponent } from './view-component.decorator.js';
import type { ViewComponentRenderer } from './view-component.interface.js';

/** A discovered view component. */
export interface ComponentDefinition {
  /** `Name` or `Module/Name`, as views address it. */
  readonly name: string;
  /** `vc:Name` or `vc:Module/Name`. */
  readonly routeId: string;
  readonly instance: ViewComponentRenderer<any>;
  readonly fallback: string;
  readonly timeoutMs: number;
  /** Marked with `@CacheableComponent()` (a `CacheableRouteProvider` may also make it cacheable). */
  readonly cacheableByDecorator: boolean;
  /** Declared vary-by names (`@ViewComponent({ varyBy })`), bubbled to pages that inline it. */
  readonly varyBy: readonly string[];
  /** Declared max age in ms, bubbled to pages that inline it. */
  readonly maxAgeMs: number | undefined;
  /** Declared tags, stored with pages that inline it. */
  readonly tags: readonly string[];
  /** Declared per user: always a hole. */
  readonly perUser: boolean;
  /** Sets headers or cookies: rendered before a streamed page's head goes out. */
  readonly setsHeaders: boolean;
}

/** What `add()` takes besides the name and instance. */
export interface ComponentRegistration {
  fallback?: string;
  timeout?: number;
  cacheable?: boolean;
  varyBy?: string[];
  maxAge?: number;
  tags?: string[];
  perUser?: boolean;
  setsHeaders?: boolean;
}

/** Every `@ViewComponent` provider of the app, by name. */
@Injectable()
export class ComponentRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger('OutputCache');
  private readonly byName = new Map<string, ComponentDefinition>();
  /** Cacheable components found per user while a page rendered: holes from then on. */
  private readonly autoHoles = new Map<string, string>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly routes: CacheableRoutesRegistry,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.csrf) {
      // Its token function may set the token's cookie.
      this.add(ANTIFORGERY_COMPONENT, new AntiforgeryTokenComponent(this.options.csrf), {
        setsHeaders: true,
      });
    }
    for (const wrapper of this.discovery.getProviders()) {
      const metatype = wrapper.metatype as Function | undefined;
      const instance = wrapper.instance as ViewComponentRenderer | undefined;
      if (!metatype || !instance || typeof metatype !== 'function') continue;
      const meta = this.reflector.get(ViewComponent, metatype);
      if (!meta) continue;
      if (typeof instance.render !== 'function') {
        throw new Error(`@ViewComponent ${metatype.name} must have a render(args, context) method`);
      }
      if (meta.setsHeaders !== undefined && typeof meta.setsHeaders !== 'boolean') {
        throw new OutputCacheConfigError(
          `@ViewComponent ${metatype.name}: option "setsHeaders" must be true or false, got ` +
            `${describeValue(meta.setsHeaders)}. Example: @ViewComponent({ name: '${meta.name}', setsHeaders: true })`,
        );
      }
      this.add(meta.module ? `${meta.module}/${meta.name}` : meta.name, instance, {
        ...meta,
        cacheable: this.reflector.get(CacheableComponent, metatype) === true,
      });
    }
  }

  /** Registers a component by hand (built-in ones, or components that are not providers). */
  add(
    name: string,
    instance: ViewComponentRenderer<any>,
    options: ComponentRegistration = {},
  ): void {
    if (this.byName.has(name)) {
      throw new Error(
        `Two view components are named "${name}"; give one a module ({ name, module })`,
      );
    }
    this.checkDeclarations(name, options);
    this.byName.set(name, {
      name,
      routeId: `vc:${name}`,
      instance,
      fallback: options.fallback ?? '',
      timeoutMs: (options.timeout ?? this.options.componentTimeout) * 1000,
      cacheableByDecorator: options.cacheable ?? false,
      varyBy: [...(options.varyBy ?? [])],
      maxAgeMs: options.maxAge === undefined ? undefined : Math.floor(options.maxAge * 1000),
      tags: [...(options.tags ?? [])],
      perUser: options.perUser ?? false,
      setsHeaders: options.setsHeaders ?? false,
    });
    this.logger.debug(`view component ${name}${options.cacheable ? ' (cacheable)' : ''}`);
  }

  /** The component named `name`; throws {@link UnknownComponentError} when there is none. */
  get(name: string): ComponentDefinition {
    const def = this.byName.get(name);
    if (!def) throw new UnknownComponentError(name, [...this.byName.keys()]);
    return def;
  }

  /** Whether a component of that name exists. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** How many components there are. */
  get size(): number {
    return this.byName.size;
  }

  /**
   * Whether the component's output stays inside the cached page: made cacheable, and not per
   * user (declared, `maxAge: 0`, or found so while a page rendered).
   */
  isCacheable(def: ComponentDefinition): boolean {
    if (def.perUser || def.maxAgeMs === 0 || this.autoHoles.has(def.name)) return false;
    return (
      def.cacheableByDecorator ||
      this.options.routes.includes(def.routeId) ||
      this.routes.has(def.routeId)
    );
  }

  /**
   * Makes a cacheable component a hole from now on: a page render found its output per user
   * (`reason`). Logged once per component. Returns whether it was news.
   */
  makeHole(def: ComponentDefinition, reason: string): boolean {
    if (this.autoHoles.has(def.name)) return false;
    this.autoHoles.set(def.name, reason);
    this.logger.log(
      `view component ${def.name} is cacheable but ${reason}: it is a hole from now on ` +
        '(rendered for every request; the pages around it stay cached). Declare ' +
        `@ViewComponent({ name: '${def.name}', perUser: true }) to say so up front`,
    );
    return true;
  }

  /** Components made holes while pages rendered, with the reason. */
  get automaticHoles(): ReadonlyMap<string, string> {
    return this.autoHoles;
  }

  private checkDeclarations(name: string, options: ComponentRegistration): void {
    const fail = (problem: string): never => {
      throw new OutputCacheConfigError(`@ViewComponent ${name}: ${problem}`);
    };
    const registered = Object.keys(this.options.varyBy);
    if (options.varyBy !== undefined) {
      if (!Array.isArray(options.varyBy)) {
        fail(`option "varyBy" must be an array of vary-by names, e.g. varyBy: ['currency']`);
      }
      for (const vary of options.varyBy) {
        if (!registered.includes(vary)) {
          fail(
            `option "varyBy" names "${String(vary)}", which is not registered ` +
              `(registered: ${registered.join(', ') || 'none'}); add a resolver to ` +
              `OutputCacheModule.forRoot({ varyBy: { ${String(vary)}: (req) => ... } })`,
          );
        }
      }
    }
    const maxAge = options.maxAge;
    if (maxAge !== undefined && (typeof maxAge !== 'number' || !(maxAge >= 0))) {
      fail(`option "maxAge" must be a number of seconds, 0 or more; got ${String(maxAge)}`);
    }
    if (options.tags !== undefined && !Array.isArray(options.tags)) {
      fail(`option "tags" must be an array of tags, e.g. tags: ['menu']`);
    }
  }
}
