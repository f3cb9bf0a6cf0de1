import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import { EntityTagRegistry } from './entity-tags.registry.js';
import { outputCacheContext } from './request-context.js';
import { resolveVaryValue } from './vary-values.js';

/**
 * What the page shows and what it depends on, told while it renders: the entities it shows
 * (tags), the vary-by values it reads, how long it may be kept, whether it is per user. Inject
 * it anywhere (it is an ordinary singleton: the request is found through AsyncLocalStorage);
 * outside a cacheable request every call but {@link vary} is a cheap no-op.
 *
 * Inside a `@CacheableComponent()` the same calls describe the component, and bubble up to the
 * page that inlines it; a component that turns out per user ({@link markPerUser},
 * {@link markRequestAsUncacheable}, `maxAge(0)`, or reading `req.user` / `req.session`) becomes a
 * hole instead of keeping the page out of the cache.
 *
 * @example
 * ```ts
 * const product = await this.products.findOneByOrFail({ id });
 * this.displayControl.announce(product);           // tag Product:42
 * this.displayControl.announceList(Product);       // tag Product (evicted by inserts/deletes)
 * if (product.isPersonalised) this.displayControl.markRequestAsUncacheable();
 * ```
 */
@Injectable()
export class DisplayControl {
  constructor(
    private readonly registry: EntityTagRegistry,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions,
  ) {}

  /**
   * The request's value of a registered vary-by name, and a note that the page depends on it:
   * the page's entry is keyed by it (a route with `varyBy: 'auto'` learns its names this way; a
   * route that pins its names must list it, or the page is not stored and the read is logged as
   * a bug). Read inside a cacheable component, the dependency bubbles up to every page that
   * shows the component.
   *
   * @example
   * ```ts
   * const currency = await this.displayControl.vary('currency');
   * ```
   */
  async vary(name: string): Promise<VaryByValue> {
    const ctx = outputCacheContext.getStore();
    if (!ctx) {
      throw new Error(
        `DisplayControl.vary("${name}") was called outside a request handled by the output cache; ` +
          'read vary-by values while a route or view component renders',
      );
    }
    const value = await resolveVaryValue(ctx, name, this.options);
    ctx.varyRead.add(name);
    return value;
  }

  /**
   * Limits how long the page (or, inside a cacheable component, the pages that inline it) stays
   * fresh: its entry's TTL becomes the smallest max age announced, at most the route's TTL.
   * `maxAge(0)`: not storable at all (a component becomes a hole).
   *
   * @example
   * ```ts
   * if (offer.endsAt) this.displayControl.maxAge((offer.endsAt.getTime() - Date.now()) / 1000);
   * ```
   */
  maxAge(seconds: number): void {
    const ctx = outputCacheContext.getStore();
    if (!ctx) return;
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new Error(
        `DisplayControl.maxAge() takes a number of seconds, 0 or more; got ${String(seconds)}`,
      );
    }
    ctx.limitMaxAge(Math.floor(seconds * 1000));
  }

  /**
   * Says that what renders now depends on who is asking (the session, the signed-in user). In a
   * route: the page is not stored. In a `@CacheableComponent()`: the component becomes a hole,
   * rendered for each request, and the page around it is still cached (logged once).
   *
   * @example
   * ```ts
   * if (req.user) this.displayControl.markPerUser('reads the signed-in user');
   * ```
   */
  markPerUser(reason = 'per-user'): void {
    const ctx = outputCacheContext.getStore();
    if (!ctx) return;
    ctx.perUserReason ??= reason;
    if (!ctx.parent) ctx.markUncacheable('per-user');
  }

  /** Adds the tags of one entity or of several (`{EntityName}:{id}` unless a handler says else). */
  announce(entity: object | readonly object[] | null | undefined): void {
    const ctx = outputCacheContext.getStore();
    if (!ctx || !entity) return;
    const entities = Array.isArray(entity) ? entity : [entity];
    for (const one of entities) {
      for (const tag of this.registry.tagsOf(one)) {
        ctx.tags.add(tag);
        // The family tag (`Product:*`): a bulk write, whose ids are not known, evicts it.
        const colon = tag.lastIndexOf(':');
        if (colon > 0) ctx.tags.add(`${tag.slice(0, colon)}:*`);
      }
    }
  }

  /** Adds the type tag of an entity class (`Product`), for pages that list that type. */
  announceList(entityClass: abstract new (...args: any[]) => any): void {
    this.announceTags(this.registry.typeTag(entityClass));
  }

  /** Adds raw tags. */
  announceTags(...tags: string[]): void {
    const ctx = outputCacheContext.getStore();
    if (!ctx) return;
    for (const tag of tags) if (tag) ctx.tags.add(tag);
  }

  /**
   * Keeps this response out of the cache (it is still sent). Called while a cacheable component
   * renders, it keeps that component out of the cached page instead: it becomes a hole.
   */
  markRequestAsUncacheable(reason = 'marked-uncacheable'): void {
    const ctx = outputCacheContext.getStore();
    if (!ctx) return;
    ctx.markUncacheable(reason);
  }

  /** Whether this request has been marked uncacheable. */
  isUncacheable(): boolean {
    return outputCacheContext.getStore()?.uncacheable ?? false;
  }

  /** The tags announced so far in this request. */
  announcedTags(): string[] {
    return [...(outputCacheContext.getStore()?.tags ?? [])];
  }
}
