import { parse as parseCookies } from 'cookie';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import type { RoutePolicy } from './route-policy.resolver.js';

const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/** The request fields the rules read (an Express or plain node:http request). */
export interface RuleRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Whether the request carries credentials: `Authorization` or one of the session cookies. */
export function isAuthenticated(req: RuleRequest, sessionCookies: readonly string[]): boolean {
  if (req.headers.authorization !== undefined) return true;
  const cookie = req.headers.cookie;
  if (sessionCookies.length === 0 || typeof cookie !== 'string') return false;
  const jar = parseCookies(cookie);
  return sessionCookies.some((name) => jar[name] !== undefined);
}

/**
 * Why a request must not use the cache at all (it is rendered and sent as usual, marked
 * `X-Cache: BYPASS`), or undefined when it may. Named reasons are counted in the stats.
 */
export function requestBypassReason(
  req: RuleRequest,
  path: string,
  policy: RoutePolicy,
  options: ResolvedOutputCacheOptions,
  isExcluded: (path: string) => boolean,
): string | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return 'method';
  if (isExcluded(path)) return 'excluded';
  for (const header of METHOD_OVERRIDE_HEADERS) {
    if (req.headers[header] !== undefined) return 'method-override';
  }
  if (req.url && hasMethodOverrideParam(req.url)) return 'method-override';
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
    return 'request-body';
  }
  if (isAuthenticated(req, options.sessionCookie)) {
    if (!policy.allowAuthenticated) return 'authenticated';
    // A signed-in page may only be shared between users of the same roles.
    if (!policy.varyBy.includes('roles')) return 'authenticated-without-roles';
  }
  return undefined;
}

/**
 * Whether the query names `_method` as the app's query parser reads it: `%5Fmethod`, `_%6Dethod`
 * and a bare `_method` (no `=`) included.
 */
function hasMethodOverrideParam(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (name === '_method') return true;
    if (!name.includes('%')) continue;
    try {
      if (decodeURIComponent(name.replace(/\+/g, ' ')) === '_method') return true;
    } catch {
      // An invalid escape is not the name.
    }
  }
  return false;
}

/** Whether the request asks that its response not be stored (`Cache-Control: no-store`). */
export function requestForbidsStoring(req: RuleRequest): boolean {
  const cc = req.headers['cache-control'];
  return typeof cc === 'string' && /(?:^|,)\s*no-store\s*(?:,|$)/i.test(cc);
}
