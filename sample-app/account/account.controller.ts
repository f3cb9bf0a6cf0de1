import { BadRequestException, Body, Controller, Post, Req, Res } from '@nestjs/common';
import { prefersHtml, redirectSeeOther, setSampleCookie } from '../common/http-response.js';
import { localReferer } from '../common/local-referer.js';
import { MAX_SHOPPER_NAME_LENGTH, SHOPPER_COOKIE, shopperName } from './shopper-name.js';

/**
 * The shopper's display name, kept in the `shopper` cookie and shown by the `Greeting` hole on
 * every page. It is not the `sid` session cookie: a named shopper still gets cached pages, with
 * their own name rendered into the hole.
 */
@Controller('account')
export class AccountController {
  /**
   * `POST /account/name` with `name` (a form field or JSON): sets the cookie (an empty name
   * clears it). Answers `{ "name": ... }` as JSON, or, for a plain form post, redirects back to
   * the page the shopper came from. A name over 40 characters is refused (400).
   */
  @Post('name')
  setName(@Body() body: unknown, @Req() req: any, @Res() res: any): void {
    const raw = (body as { name?: unknown } | undefined)?.name;
    if (raw !== undefined && typeof raw !== 'string') {
      throw new BadRequestException('"name" must be a string');
    }
    const name = shopperName(raw);
    if (name !== undefined && [...(raw as string).trim()].length > MAX_SHOPPER_NAME_LENGTH) {
      throw new BadRequestException(
        `"name" may have at most ${MAX_SHOPPER_NAME_LENGTH} characters`,
      );
    }
    const options = { path: '/', httpOnly: true, sameSite: 'lax' } as const;
    // Both platforms' clearCookie (Express, @fastify/cookie) expire it at the epoch.
    if (name === undefined) res.clearCookie(SHOPPER_COOKIE, options);
    else setSampleCookie(res, SHOPPER_COOKIE, name, { ...options, maxAgeMs: 365 * 24 * 3600_000 });
    if (prefersHtml(req)) {
      redirectSeeOther(res, localReferer(req));
      return;
    }
    // An object is sent as JSON on both platforms.
    res.status(200).send({ name: name ?? null });
  }
}
