// The few response calls whose form differs between Express and Fastify (SAMPLE_PLATFORM), in
// one place: the controllers stay the same on both platforms.

/** Cookie options as the sample uses them; `maxAgeMs` in milliseconds on both platforms. */
export interface SampleCookieOptions {
  path?: string;
  httpOnly?: boolean;
  sameSite?: 'lax' | 'strict';
  secure?: boolean;
  maxAgeMs?: number;
}

/**
 * Sets a cookie: Express's `res.cookie` (maxAge in ms), or `reply.setCookie` of `@fastify/cookie`
 * (maxAge in seconds).
 *
 * @example
 * setSampleCookie(res, 'currency', 'EUR', { path: '/', maxAgeMs: 3600_000 });
 */
export function setSampleCookie(
  res: any,
  name: string,
  value: string,
  { maxAgeMs, ...options }: SampleCookieOptions,
): void {
  if (typeof res.setCookie === 'function') {
    const maxAge = maxAgeMs === undefined ? {} : { maxAge: Math.round(maxAgeMs / 1000) };
    res.setCookie(name, value, { ...options, ...maxAge });
  } else {
    res.cookie(name, value, {
      ...options,
      ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs }),
    });
  }
}

/** Redirects with 303 See Other: Express takes `(status, url)`, Fastify `(url, status)`. */
export function redirectSeeOther(res: any, url: string): void {
  if (typeof res.setCookie === 'function' || res.raw !== undefined) res.redirect(url, 303);
  else res.redirect(303, url);
}

/** A request header (Express's `req.get`, Fastify's request has none). */
export function headerOf(
  req: { headers: Record<string, unknown> },
  name: string,
): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : typeof value === 'string' ? value : undefined;
}

/**
 * Whether the client prefers HTML to JSON: Express's `req.accepts`, else the first of the two
 * in the `Accept` header (a form post's browser sends `text/html` first; `fetch` asks for JSON).
 */
export function prefersHtml(req: any): boolean {
  if (typeof req.accepts === 'function') return req.accepts(['json', 'html']) === 'html';
  const accept = headerOf(req, 'accept') ?? '*/*';
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html !== -1 && (json === -1 || html < json);
}

/** Whether the request came over https, as the platform resolves it. */
export function isSecure(req: any): boolean {
  return req.secure === true || req.protocol === 'https';
}
