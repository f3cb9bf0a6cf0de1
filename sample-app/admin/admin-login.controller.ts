import { Controller, Get, Query, Res, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import { ADMIN_COOKIE } from './admin-token.js';
import { AdminTokenGuard } from './admin-token.guard.js';

/**
 * `GET /admin/output-cache/login?token=…`: for a browser, trades the admin token for an
 * HttpOnly, SameSite=Strict cookie scoped to the dashboard's path, then opens the dashboard.
 */
@Controller('admin/output-cache/login')
export class AdminLoginController {
  constructor(private readonly guard: AdminTokenGuard) {}

  @Get()
  login(@Query('token') token: unknown, @Res() res: Response): void {
    if (typeof token !== 'string' || !this.guard.matches(token)) {
      throw new UnauthorizedException(
        'wrong or missing token: open /admin/output-cache/login?token=<the token printed at start, or ADMIN_TOKEN>',
      );
    }
    res.cookie(ADMIN_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/admin/output-cache',
      secure: res.req.secure,
      maxAge: 8 * 3600 * 1000,
    });
    res.redirect(303, '/admin/output-cache');
  }
}
