import { Injectable } from '@nestjs/common';
import {
  type ComponentContext,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { escapeHtml } from './html.js';
import { setSampleCookie } from '../common/http-response.js';

/** How many products the `recent` cookie remembers. */
const MAX_RECENT = 8;

export interface RecentlyViewedArgs {
  /** The product on show: listed first in the cookie from now on, not shown in the list. */
  current?: number;
  /** Most products to list. */
  take?: number;
}

/**
 * The visitor's recently viewed products, from the `recent` cookie (product ids, newest first).
 * A hole: rendered for every response. On a product page it also records the visit, setting the
 * cookie itself: a hole renders after the cache decided to store the page (and on hits), so its
 * `Set-Cookie` goes to this visitor only, is never stored, and does not keep the page out of the
 * cache.
 */
// It sets a cookie: with streamed holes it renders before the page's head goes out.
@ViewComponent({ name: 'RecentlyViewed', setsHeaders: true })
@Injectable()
export class RecentlyViewedComponent implements ViewComponentRenderer<RecentlyViewedArgs> {
  constructor(private readonly catalog: CatalogService) {}

  async render(
    { current, take = 4 }: RecentlyViewedArgs,
    { req, res }: ComponentContext,
  ): Promise<string> {
    const ids = parseRecent(req.cookies?.recent);
    if (typeof current === 'number' && ids[0] !== current) {
      const updated = [current, ...ids.filter((id) => id !== current)].slice(0, MAX_RECENT);
      setSampleCookie(res, 'recent', updated.join(','), {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        maxAgeMs: 30 * 24 * 3600 * 1000,
      });
    }
    const shown = ids.filter((id) => id !== current).slice(0, take);
    if (shown.length === 0) return '';
    const byId = new Map((await this.catalog.productsByIds(shown)).map((p) => [p.id, p]));
    const items = shown
      .map((id) => byId.get(id))
      .filter((p) => p !== undefined)
      .map((p) => `<li><a href="/product/${escapeHtml(p.slug)}">${escapeHtml(p.name)}</a></li>`);
    if (items.length === 0) return '';
    return `<section class="recent"><h2>Recently viewed</h2><ul>${items.join('')}</ul></section>`;
  }
}

/** The product ids of a `recent` cookie, ignoring anything malformed. */
function parseRecent(cookie: unknown): number[] {
  if (typeof cookie !== 'string' || cookie === '') return [];
  const ids = cookie
    .split(',')
    .map((id) => Number(id))
    .filter((id) => Number.isSafeInteger(id) && id > 0);
  return [...new Set(ids)].slice(0, MAX_RECENT);
}
