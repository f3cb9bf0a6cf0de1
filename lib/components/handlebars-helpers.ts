import { ANTIFORGERY_COMPONENT } from './antiforgery-token.component.js';
import { placeComponent } from './page-composer.js';

/** The part of Handlebars (or `hbs`) the helpers need. */
export interface HandlebarsLike {
  registerHelper(name: string, helper: (...args: any[]) => unknown): void;
  SafeString?: new (value: string) => unknown;
  handlebars?: { SafeString: new (value: string) => unknown };
}

/**
 * Registers the view-component helpers on Handlebars or `hbs`, in one line:
 *
 * - `{{{component "MiniCart" showTotal=true}}}` places a component (hash arguments are its args);
 * - `{{{antiforgeryField}}}` places the built-in CSRF hole (`csrf` option).
 *
 * Both return a SafeString, so `{{…}}` works as well as `{{{…}}}`.
 *
 * @example
 * ```ts
 * import hbs from 'hbs';
 * registerHandlebarsHelpers(hbs);
 * ```
 */
export function registerHandlebarsHelpers(handlebars: HandlebarsLike): void {
  const SafeString = handlebars.SafeString ?? handlebars.handlebars?.SafeString;
  const safe = (html: string) => (SafeString ? new SafeString(html) : html);
  handlebars.registerHelper(
    'component',
    (name: unknown, options: { hash?: Record<string, unknown> }) => {
      if (typeof name !== 'string') {
        throw new TypeError('{{component}} needs a component name: {{{component "MiniCart"}}}');
      }
      return safe(placeComponent(name, { ...(options?.hash ?? {}) }));
    },
  );
  handlebars.registerHelper('antiforgeryField', () => safe(placeComponent(ANTIFORGERY_COMPONENT)));
}
