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
  /** Sets headers or cookies: rendered before a streamed page's head goes out. */
  readonly setsHeaders: boolean;
}

/** Every `@ViewComponent` provider of the app, by name. */
@Injectable()
export class ComponentRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger('OutputCache');
  private readonly byName = new Map<string, ComponentDefinition>();

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
        fallback: meta.fallback,
        timeout: meta.timeout,
        cacheable: this.reflector.get(CacheableComponent, metatype) === true,
        setsHeaders: meta.setsHeaders,
      });
    }
  }

  /** Registers a component by hand (built-in ones, or components that are not providers). */
  add(
    name: string,
    instance: ViewComponentRenderer<any>,
    options: {
      fallback?: string;
      timeout?: number;
      cacheable?: boolean;
      setsHeaders?: boolean;
    } = {},
  ): void {
    if (this.byName.has(name)) {
      throw new Error(
        `Two view components are named "${name}"; give one a module ({ name, module })`,
      );
    }
    this.byName.set(name, {
      name,
      routeId: `vc:${name}`,
      instance,
      fallback: options.fallback ?? '',
      timeoutMs: (options.timeout ?? this.options.componentTimeout) * 1000,
      cacheableByDecorator: options.cacheable ?? false,
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

  /** Whether the component's output stays inside the cached page. */
  isCacheable(def: ComponentDefinition): boolean {
    return (
      def.cacheableByDecorator ||
      this.options.routes.includes(def.routeId) ||
      this.routes.has(def.routeId)
    );
  }
}
