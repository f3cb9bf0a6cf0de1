import { Injectable } from '@nestjs/common';
import { EntityTagRegistry } from './entity-tags.registry.js';
import { outputCacheContext } from './request-context.js';

/**
 * What the page shows, told while it renders. Inject it anywhere (it is an ordinary singleton:
 * the request is found through AsyncLocalStorage); outside a cacheable request every call is a
 * cheap no-op.
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
  constructor(private readonly registry: EntityTagRegistry) {}

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

  /** Keeps this response out of the cache (it is still sent). */
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
