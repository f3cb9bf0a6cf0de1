import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { CacheableRouteProvider } from '../interfaces/cacheable-route-provider.interface.js';

/**
 * Route ids made cacheable without decorators: the module's `routes` option plus every
 * discovered {@link CacheableRouteProvider}, asked in ascending `order` at bootstrap.
 */
@Injectable()
export class CacheableRoutesRegistry implements OnApplicationBootstrap {
  private readonly logger = new Logger('OutputCache');
  private readonly ids = new Set<string>();
  private version = 0;

  constructor(private readonly discovery: DiscoveryService) {}

  async onApplicationBootstrap(): Promise<void> {
    const providers = this.discovery
      .getProviders()
      .map((wrapper) => wrapper.instance as Partial<CacheableRouteProvider> | undefined)
      .filter(
        (instance): instance is CacheableRouteProvider =>
          !!instance && typeof instance.getCacheableRoutes === 'function',
      )
      .sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    for (const provider of providers) {
      const routes = await provider.getCacheableRoutes();
      this.add(...routes);
      this.logger.debug(`${provider.constructor.name} made cacheable: ${routes.join(', ')}`);
    }
  }

  /** Makes route ids cacheable (route policies are recomputed on their next request). */
  add(...routeIds: string[]): void {
    for (const id of routeIds) this.ids.add(id);
    this.version++;
  }

  has(routeId: string): boolean {
    return this.ids.has(routeId);
  }

  /** Bumped on every change, so cached route policies know they are out of date. */
  get revision(): number {
    return this.version;
  }
}
