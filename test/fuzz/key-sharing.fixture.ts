import { Controller, Get, Req } from '@nestjs/common';
import { wildcard } from '../helpers/test-app.js';
import type { Request } from 'express';
import { Cacheable } from '../../lib/index.js';

/** Header names of the vary-by values the fuzzed routes are given. */
export const VARY_HEADERS = { lang: 'x-lang', seg: 'x-seg', roles: 'x-roles' } as const;

/** A header's value as the app reads it (Node joins repeated ones). */
function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The segment value as its resolver gives it: percent-decoded, so any Unicode can vary a page. */
export function segOf(req: Request): string | undefined {
  const raw = header(req, VARY_HEADERS.seg);
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The roles as their resolver gives them: a set. */
export function rolesOf(req: Request): string[] | undefined {
  return header(req, VARY_HEADERS.roles)?.split(',');
}

/** The names the `some` route's query allow-list keeps. */
export const ALLOWED_QUERY = ['a', 'b c'];

/**
 * Everything a fuzzed route can see of its request, in one canonical text: the host (host names
 * are case-insensitive), the path as sent (less one trailing slash, which the router ignores),
 * the query as Express parsed it (names sorted, repeated values in order; for the `some` route,
 * only its allow-listed names), and the vary-by values it is given (roles as a set). Computed by
 * the route for its body and by a middleware for every response, hit or not.
 */
export function viewOf(req: Request): string {
  // Fastify's request has no `path`: the URL's path is what the route sees there.
  let path = req.path ?? req.url.split('?', 1)[0];
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const query = req.query as Record<string, unknown>;
  const onlyAllowed = path.startsWith('/fz/some/');
  const names = Object.keys(query)
    .filter((name) => !onlyAllowed || ALLOWED_QUERY.includes(name))
    .sort();
  const roles = rolesOf(req);
  return JSON.stringify({
    host: req.host.toLowerCase(),
    path,
    query: names.map((name) => [name, query[name]]),
    vary: {
      lang: header(req, VARY_HEADERS.lang) ?? null,
      seg: segOf(req) ?? null,
      roles: roles ? [...roles].sort() : null,
    },
  });
}

/** Routes that echo everything they can see: one with the whole query, one with an allow-list. */
@Controller('fz')
export class KeySharingController {
  @Cacheable({ ttl: 600, varyBy: ['lang', 'seg', 'roles'] })
  @Get(`all/${wildcard('path')}`)
  all(@Req() req: Request) {
    return viewOf(req);
  }

  @Cacheable({ ttl: 600, varyBy: ['lang', 'seg', 'roles'], query: ALLOWED_QUERY })
  @Get(`some/${wildcard('path')}`)
  some(@Req() req: Request) {
    return viewOf(req);
  }
}
