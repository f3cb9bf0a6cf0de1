import { BadRequestException, Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isCurrencyCode } from './currency.js';
import { localReferer } from './local-referer.js';
import { redirectSeeOther, setSampleCookie } from './http-response.js';

/**
 * Switches the visitor's currency (`GET /currency/EUR`): sets the `currency` cookie, which the
 * output cache varies by, and goes back to the page the visitor came from.
 */
@Controller('currency')
export class CurrencyController {
  @Get(':code')
  switch(@Param('code') code: string, @Req() req: Request, @Res() res: Response): void {
    if (!isCurrencyCode(code)) throw new BadRequestException(`Unknown currency "${code}"`);
    setSampleCookie(res, 'currency', code, {
      path: '/',
      sameSite: 'lax',
      maxAgeMs: 365 * 24 * 3600 * 1000,
    });
    redirectSeeOther(res, localReferer(req));
  }
}
