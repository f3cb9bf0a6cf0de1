import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { ADMIN_COOKIE, SAMPLE_ADMIN_TOKEN } from './admin-token.js';

interface TokenRequest {
  headers: Record<string, string | string[] | undefined>;
  cookies?: Record<string, string | undefined>;
}

/**
 * A demo guard for the cache dashboard: `Authorization: Bearer <token>` (scripts, curl), or the
 * `oc_admin` cookie that `/admin/output-cache/login?token=<token>` sets (a browser). A real shop
 * puts its own sign-in and roles here.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(@Inject(SAMPLE_ADMIN_TOKEN) private readonly token: string) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<TokenRequest>();
    const header = req.headers.authorization;
    const bearer =
      typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (this.matches(bearer) || this.matches(req.cookies?.[ADMIN_COOKIE])) return true;
    throw new UnauthorizedException(
      'the cache dashboard needs the admin token: send "Authorization: Bearer <token>", or open /admin/output-cache/login?token=<token> in the browser (the token is printed at start, or set ADMIN_TOKEN)',
    );
  }

  /** Whether `candidate` is the token, compared in constant time. */
  matches(candidate: string | undefined): boolean {
    if (typeof candidate !== 'string') return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
