import type { ViewComponentRenderer, ComponentContext } from './view-component.interface.js';

/** Name of the built-in CSRF hole. */
export const ANTIFORGERY_COMPONENT = 'AntiForgeryToken';

/** The `csrf` option: how to get the request's anti-forgery token. */
export interface AntiforgeryOptions {
  /**
   * Returns the token for this request, e.g. csrf-csrf's `generateCsrfToken(req, res)` (which
   * may also set its cookie: holes render before the response's headers are written).
   */
  token: (req: any, res: any) => string | Promise<string>;
  /** Name of the hidden form field. Default `_csrf`. */
  fieldName?: string;
}

/**
 * The built-in hole for a form's anti-forgery token, so pages with forms stay cacheable: the
 * page is cached, the token is rendered for each request.
 */
export class AntiforgeryTokenComponent implements ViewComponentRenderer<{ field?: string }> {
  constructor(private readonly options: AntiforgeryOptions) {}

  async render(args: { field?: string }, { req, res }: ComponentContext): Promise<string> {
    const token = await this.options.token(req, res);
    const field = args.field ?? this.options.fieldName ?? '_csrf';
    return `<input type="hidden" name="${escapeHtml(field)}" value="${escapeHtml(token)}">`;
  }
}

function escapeHtml(value: string): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
