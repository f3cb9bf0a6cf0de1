import type { Request } from 'express';

/** The path of the referring page when it is on this site, else `fallback` (no open redirects). */
export function localReferer(req: Request, fallback = '/'): string {
  try {
    const referer = new URL(req.get('referer') ?? '');
    if (referer.host === req.get('host')) return referer.pathname + referer.search;
  } catch {
    // no or malformed Referer
  }
  return fallback;
}
