import { Reflector } from '@nestjs/core';

/** Options of {@link ViewComponent}. Durations are seconds. */
export interface ViewComponentOptions {
  /** The name views use (`{{{component "MiniCart"}}}`). */
  name: string;
  /** Module part of the name and route id (`Blog` gives `Blog/BlogSummary`, `vc:Blog/BlogSummary`). */
  module?: string;
  /** What a failed or timed-out render shows instead (default empty). */
  fallback?: string;
  /** Longest render; defaults to the module's `componentTimeout`. */
  timeout?: number;
  /**
   * Vary-by names the component's output depends on (a currency selector: `['currency']`). A
   * page that inlines the component (`@CacheableComponent()`) is keyed by them too: on a route
   * with `varyBy: 'auto'` without editing the route; on a route that pins its names, they must
   * be among them (else the page is not stored, and the mismatch is logged). Reads through
   * `DisplayControl.vary()` count the same way, without declaring them here.
   */
  varyBy?: string[];
  /** Seconds the component's output stays valid: a page that inlines it is fresh no longer. 0 makes it a hole. */
  maxAge?: number;
  /** Tags stored with every page that inlines the component (evicting one evicts those pages). */
  tags?: string[];
  /**
   * The output depends on who asks (the session, the signed-in user): always a hole, even when
   * marked `@CacheableComponent()`. A cacheable component found reading `req.user` or
   * `req.session`, or calling `DisplayControl.markPerUser()`, becomes one on its own.
   */
  perUser?: boolean;
  /**
   * The component sets response headers or cookies (a CSRF cookie, a session touch): with
   * streamed holes (`streamHoles`), it is rendered before the first byte of the page goes out,
   * while headers can still be set. Other holes of a streamed page render after the head is
   * written, and cannot set headers. Default false.
   *
   * @example
   * ```ts
   * @ViewComponent({ name: 'Consent', setsHeaders: true })
   * ```
   */
  setsHeaders?: boolean;
}

/**
 * Marks an injectable provider as a view component: a fragment of a page with a
 * `render(args, context)` method, placed from views with the `component` helper or
 * `placeComponent()`. Unless it is also `@CacheableComponent()`, it is a *hole*: rendered fresh on
 * every request, also when the page around it comes from the cache.
 *
 * @example
 * ```ts
 * @ViewComponent({ name: 'MiniCart', fallback: '<a href="/cart">Cart</a>' })
 * @Injectable()
 * export class MiniCartComponent implements ViewComponentRenderer<{ showTotal?: boolean }> {
 *   render(args, { req }) { return `<a href="/cart">${countItems(req)} items</a>`; }
 * }
 * ```
 */
export const ViewComponent = Reflector.createDecorator<
  string | ViewComponentOptions,
  ViewComponentOptions
>({
  transform: (value) => (typeof value === 'string' ? { name: value } : { ...value }),
});

/**
 * Keeps a view component's output inside the cached page (it is rendered once, when the page is
 * stored). Use it for fragments that depend only on their arguments and on data whose changes
 * evict the page (menus, search boxes), never on the user.
 *
 * @example
 * ```ts
 * @CacheableComponent()
 * @ViewComponent('CategoryMenu')
 * @Injectable()
 * export class CategoryMenuComponent { ... }
 * ```
 */
export const CacheableComponent = Reflector.createDecorator<void, true>({ transform: () => true });
