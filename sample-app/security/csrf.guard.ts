import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';
import type { Request } from 'express';
import { CsrfService } from './csrf.service.js';

/** Refuses (403) a form post whose CSRF token is missing or does not match its cookie. */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(private readonly csrf: CsrfService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (!this.csrf.validateRequest(req)) {
      throw new ForbiddenException('Invalid or missing CSRF token');
    }
    return true;
  }
}
