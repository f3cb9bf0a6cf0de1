import { Injectable } from '@nestjs/common';
import type { ComposedPage } from '../components/page-composer.js';
import type { OutputCacheRequestContext } from '../display-control/request-context.js';
import { ROUTE_TAG_PREFIX } from '../output-cache.constants.js';
import type { RoutePolicy } from '../policy/route-policy.resolver.js';
import type { CacheEntry, StoredHeaders } from '../stores/cache-entry.js';
import type { Lookup } from './lookup.js';
import { worthCompressing } from './variants.js';

/** What a recorded render gives to be stored. */
export interface RecordedPage {
  lookup: Lookup;
  /** The key to store under, when the render re-keyed the page (vary-by names it read). */
  key?: string;
  status: number;
  page: ComposedPage;
  headers: StoredHeaders;
  tags: string[];
  /** The store's eviction clock when the render began, if it has one. */
  renderedAt?: number;
  /** The smallest max age the render announced (ms): the entry's TTL when shorter. */
  maxAgeMs?: number;
}

/**
 * Builds the entry of a recorded render (lifetimes from the route's policy, validator, tags), and
 * the tags it is stored under. Hooks are `protected`, for an app that adds tags of its own.
 */
@Injectable()
export class EntryBuilder {
  /** The entry to store. */
  build({
    lookup,
    key,
    status,
    page,
    headers,
    tags,
    renderedAt,
    maxAgeMs,
  }: RecordedPage): CacheEntry {
    const { policy } = lookup;
    const now = Date.now();
    const entry: CacheEntry = {
      key: key ?? lookup.key,
      status,
      headers,
      body: page.body,
      holes: page.holes.length > 0 ? page.holes : undefined,
      tags,
      path: lookup.path,
      routeId: policy.routeId,
      createdAt: now,
      ...this.lifetimes(policy, now, maxAgeMs),
    };
    if (page.etag) entry.etag = page.etag;
    if (renderedAt !== undefined) entry.renderedAt = renderedAt;
    // Settled now for pages not worth compressing: their hits never try (variants: {}).
    if (!worthCompressing(entry)) entry.variants = {};
    return entry;
  }

  /**
   * The lifetimes of an entry of `policy` created at `createdAt`: the route's TTL (or the
   * smaller max age its render announced), then its grace and stale-if-error retention.
   */
  lifetimes(
    policy: RoutePolicy,
    createdAt: number,
    maxAgeMs?: number,
  ): Pick<CacheEntry, 'expiresAt' | 'graceUntil' | 'retainUntil'> {
    const ttlMs = maxAgeMs === undefined ? policy.ttlMs : Math.min(policy.ttlMs, maxAgeMs);
    const expiresAt = createdAt + ttlMs;
    const keep = Math.max(policy.graceMs, policy.staleIfErrorMs);
    return {
      expiresAt,
      ...(policy.graceMs > 0 ? { graceUntil: expiresAt + policy.graceMs } : {}),
      ...(keep > 0 ? { retainUntil: expiresAt + keep } : {}),
    };
  }

  /** The tags stored with an entry: the route's, the route options' and the announced ones. */
  tagsOf(req: any, policy: RoutePolicy, ctx: OutputCacheRequestContext): string[] {
    const tags = new Set<string>([ROUTE_TAG_PREFIX + policy.routeId]);
    const extra = typeof policy.tags === 'function' ? policy.tags(req) : policy.tags;
    if (extra) for (const tag of extra) tags.add(tag);
    for (const tag of ctx.tags) tags.add(tag);
    return [...tags];
  }
}
