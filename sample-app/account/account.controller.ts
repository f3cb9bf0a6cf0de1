import { BadRequestException, Body, Controller, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
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
  setName(@Body() body: unknown, @Req() req: Request, @Res() res: Response): void {
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
    if (name === undefined) res.clearCookie(SHOPPER_COOKIE, options);
    else res.cookie(SHOPPER_COOKIE, name, { ...options, maxAge: 365 * 24 * 3600 * 1000 });
    if (req.accepts(['json', 'html']) === 'html') {
      res.redirect(303, localReferer(req));
      return;
    }
    res.status(200).json({ name: name ?? null });
  }
}
