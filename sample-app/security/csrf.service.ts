import { doubleCsrf, type DoubleCsrfUtilities } from 'csrf-csrf';
import type { Request, Response } from 'express';

/** Name of the hidden form field that carries the token. */
export const CSRF_FIELD = '_csrf';

/**
 * CSRF protection with csrf-csrf (double-submit cookie): a token in an `x-csrf` cookie, the same
 * token in the form, both signed with the app's secret.
 *
 * Forms get their token from the output cache's built-in CSRF hole (`{{{antiforgeryField}}}`,
 * the module's `csrf` option calls {@link generateToken}): the page around the form stays
 * cached, the token (and its cookie) are made for every response. Posts are checked by
 * `CsrfGuard`.
 *
 * Sample simplifications: tokens are bound to the `sid` session cookie when there is one, and to
 * nothing (`''`) for anonymous visitors, who have no session here; the cookie is not `Secure`,
 * since the sample runs on plain http (in production keep csrf-csrf's defaults: a `__Host-`
 * cookie, `secure: true`).
 */
export class CsrfService {
  private readonly csrf: DoubleCsrfUtilities;

  constructor(secret: string) {
    this.csrf = doubleCsrf({
      getSecret: () => secret,
      getSessionIdentifier: (req) => (req.cookies?.sid as string | undefined) ?? '',
      cookieName: 'x-csrf',
      cookieOptions: { secure: false, sameSite: 'lax', httpOnly: true, path: '/' },
      getCsrfTokenFromRequest: (req) =>
        (req.body as Record<string, string> | undefined)?.[CSRF_FIELD] ??
        req.headers['x-csrf-token'],
    });
  }

  /**
   * The token for this response, setting its cookie. A visitor who already holds a valid token
   * cookie keeps that token.
   */
  generateToken(req: Request, res: Response): string {
    return this.csrf.generateCsrfToken(req, res);
  }

  /** Whether a state-changing request carries a token that matches its cookie. */
  validateRequest(req: Request): boolean {
    return this.csrf.validateRequest(req);
  }
}
