import { Controller, Get, Query, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import { ADMIN_COOKIE } from './admin-token.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { isSecure, redirectSeeOther, setSampleCookie } from '../common/http-response.js';

/**
 * `GET /admin/output-cache/login?token=…`: for a browser, trades the admin token for an
 * HttpOnly, SameSite=Strict cookie scoped to the dashboard's path, then opens the dashboard.
 */
@Controller('admin/output-cache/login')
export class AdminLoginController {
  constructor(private readonly guard: AdminTokenGuard) {}

  @Get()
  login(@Query('token') token: unknown, @Req() req: unknown, @Res() res: Response): void {
    if (typeof token !== 'string' || !this.guard.matches(token)) {
      throw new UnauthorizedException(
        'wrong or missing token: open /admin/output-cache/login?token=<the token printed at start, or ADMIN_TOKEN>',
      );
    }
    setSampleCookie(res, ADMIN_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/admin/output-cache',
      secure: isSecure(req),
      maxAgeMs: 8 * 3600 * 1000,
    });
    redirectSeeOther(res, '/admin/output-cache');
  }
}
