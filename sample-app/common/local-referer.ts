import type { Request } from 'express';
import { headerOf } from './http-response.js';

/** The path of the referring page when it is on this site, else `fallback` (no open redirects). */
export function localReferer(req: Pick<Request, 'headers'>, fallback = '/'): string {
  try {
    const referer = new URL(headerOf(req, 'referer') ?? headerOf(req, 'referrer') ?? '');
    if (referer.host === headerOf(req, 'host')) return referer.pathname + referer.search;
  } catch {
    // no or malformed Referer (either spelling, as Express's req.get reads it)
  }
  return fallback;
}
