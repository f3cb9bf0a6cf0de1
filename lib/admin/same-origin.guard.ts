import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
} from '@nestjs/common';
import { OUTPUT_CACHE_ADMIN_OPTIONS } from './output-cache-admin.constants.js';
import type { ResolvedOutputCacheAdminOptions } from './output-cache-admin.options.js';

interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/** Content types a cross-site page can POST without a CORS preflight. */
const SIMPLE_TYPES = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)\b/i;

/**
 * The CSRF check of the admin's purges, after the app's guard: a browser's POST must come from
 * a page of the same host (its `Origin`, or `Sec-Fetch-Site: same-origin`) or of a trusted
 * origin. A form's content type (which a cross-site page can send without asking) needs that
 * evidence; a JSON POST without either header is not a browser's cross-site request (a browser
 * asks first, and the admin answers no CORS) and is left to the app's guard alone (curl, scripts).
 * Stateless: it works the same behind a load balancer over many instances.
 *
 * @example
 * ```ts
 * @Post('purge') @UseGuards(SameOriginGuard) purge() {}
 * ```
 */
@Injectable()
export class SameOriginGuard implements CanActivate {
  constructor(
    @Inject(OUTPUT_CACHE_ADMIN_OPTIONS) private readonly options: ResolvedOutputCacheAdminOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const { headers } = context.switchToHttp().getRequest<RequestLike>();
    const origin = single(headers.origin);
    const site = single(headers['sec-fetch-site']);
    if (origin !== undefined && origin !== 'null') {
      if (this.options.trustedOrigins.includes(origin)) return true;
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        throw new ForbiddenException('cross-origin purge refused: malformed Origin header');
      }
      // The host, not the scheme: behind a TLS proxy the app may see http while the page is https.
      if (host.toLowerCase() !== (single(headers.host) ?? '').toLowerCase()) {
        throw new ForbiddenException(
          `cross-origin purge refused: Origin ${origin} is not this host (add it to trustedOrigins if it should be)`,
        );
      }
      return true;
    }
    if (origin === 'null' || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
      throw new ForbiddenException(
        'cross-origin purge refused: the request did not come from this site',
      );
    }
    if (site === undefined && SIMPLE_TYPES.test(single(headers['content-type']) ?? '')) {
      throw new ForbiddenException(
        'purge refused: a form post must carry an Origin (or Sec-Fetch-Site) header showing it came from this site',
      );
    }
    return true;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
