import { createHash } from 'node:crypto';
import { unescape as unescapeQuery } from 'node:querystring';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import type { RoutePolicy } from './route-policy.resolver.js';

/** The parts of a request a key is made of; all computable from the raw `node:http` request. */
export interface KeyInput {
  /** The scheme as Express resolves it, verbatim (`trust proxy` decides about X-Forwarded-Proto). */
  protocol: string;
  /** Host with port, as Express resolves it. */
  host: string;
  /** The request URL: path and query string. */
  url: string;
  /** The URL already split by {@link splitUrl}, when the caller has it (saves a second pass). */
  split?: { path: string | undefined; query: string };
}

/** Keys longer than this are stored as a digest (a page with a huge query gets a fixed-size key). */
const MAX_PLAIN_KEY = 1024;

/** Every character outside this set is percent-encoded in the host. */
const HOST_UNSAFE = /[^A-Za-z0-9._~:[\]-]/g;

/**
 * Normalises a request path as the router matches it: each segment decoded and re-encoded in one
 * canonical form (`%7E` and `~` agree), a trailing slash dropped. Undefined when a segment holds
 * an invalid escape.
 */
export function normalizePath(rawPath: string): string | undefined {
  try {
    const segments = rawPath.split('/').map((s) => encodeURIComponent(decodeURIComponent(s)));
    let path = segments.join('/');
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    return path.startsWith('/') ? path : `/${path}`;
  } catch {
    return undefined;
  }
}

/** Splits a URL into its normalised path and the raw query string. */
export function splitUrl(url: string): { path: string | undefined; query: string } {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  return { path: normalizePath(rawPath), query: q === -1 ? '' : url.slice(q + 1) };
}

/**
 * Builds the cache key: scheme and host, the path and the query exactly as the request sent them
 * (the route sees the raw URL, so `?q=<b>` and `?q=%3Cb%3E` are different requests and never
 * share an entry; only a trailing slash is dropped, as the router does), query pairs sorted by name (duplicates keep their order) and limited to the
 * route's allow-list, route id, app version and each vary-by value. Every variable part is
 * escaped injectively (`%` included), so no value can forge a separator and two different
 * requests never share a key. Returns undefined when the request cannot be keyed (a target not in
 * origin-form, invalid escapes in the path, lone surrogates): such a request is not cached.
 *
 * @example
 * `https://shop.example/category/shoes?page=2&sort=price#Catalog%2Fcategory|v3|currency=EUR`
 */
export function buildCacheKey(
  input: KeyInput,
  policy: RoutePolicy,
  options: ResolvedOutputCacheOptions,
  varyValues: readonly VaryByValue[],
  varyNames: readonly string[] = policy.varyBy,
): string | undefined {
  const plain = plainKey(input, policy, options);
  if (plain === undefined) return undefined;
  let key = plain;
  try {
    for (let i = 0; i < varyNames.length; i++) {
      key += `|${encodeURIComponent(varyNames[i])}${encodeVary(varyValues[i])}`;
    }
  } catch {
    return undefined; // a lone surrogate in a vary-by value
  }
  return digestIfLong(key);
}

/**
 * The key of a URL's vary record (routes with `varyBy: 'auto'`): which vary-by names its pages
 * read, the first step of a two-step lookup. The request's key less its vary-by values, and a
 * final `|` that no variant's key has (an escaped vary-by name is never empty).
 *
 * @example
 * `https://shop.example/product/kettle?#Catalog%2Fproduct|v3|`
 */
export function varyRecordKey(
  input: KeyInput,
  policy: RoutePolicy,
  options: ResolvedOutputCacheOptions,
): string | undefined {
  const plain = plainKey(input, policy, options);
  return plain === undefined ? undefined : digestIfLong(`${plain}|`);
}

function digestIfLong(key: string): string {
  return key.length > MAX_PLAIN_KEY
    ? `sha256:${createHash('sha256').update(key).digest('base64url')}`
    : key;
}

/** The key up to its vary-by values, or undefined when the request cannot be keyed. */
function plainKey(
  input: KeyInput,
  policy: RoutePolicy,
  options: ResolvedOutputCacheOptions,
): string | undefined {
  try {
    // Origin-form only. An absolute-form target (`GET http://x/p HTTP/1.1`) is routed by its path
    // while the route sees the Host header, and host and target would run together in the key
    // (Host `a` + `http://x/p` and Host `ah` + `ttp://x/p` made one key): such a request is not
    // cached. Only proxies are sent absolute-form.
    if (input.url[0] !== '/') return undefined;
    const { path, query } = input.split ?? splitUrl(input.url);
    if (path === undefined) return undefined;
    const q = input.url.indexOf('?');
    let rawPath = q === -1 ? input.url : input.url.slice(0, q);
    // The router ignores a trailing slash; so does the key (a reflected slash harms nobody).
    if (rawPath.length > 1 && rawPath.endsWith('/')) rawPath = rawPath.slice(0, -1);
    const pairs: [string, string][] = [];
    if (query) {
      for (const pair of query.split('&')) {
        if (!pair) continue;
        const eq = pair.indexOf('=');
        const name = eq === -1 ? pair : pair.slice(0, eq);
        const decoded = decodeQueryName(name);
        if (policy.query && !policy.query.has(decoded)) continue;
        pairs.push([decoded, pair]);
      }
      // Sorted by the name the app reads, and Array#sort is stable: every value of one name keeps
      // its order whatever its spelling (`?%71=a&q=b` and `?q=b&%71=a` give q = [a, b] and [b, a]).
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    }
    const queryPart = pairs.map(([, pair]) => escapePair(pair)).join('&');
    const pathPart = rawPath.split('/').map(encodeURIComponent).join('/');
    const host = input.host.toLowerCase().replace(HOST_UNSAFE, encodeChar);
    // Any other scheme (a forged X-Forwarded-Proto under `trust proxy`) is keyed as the route
    // sees it, escaped: it holds no `:` or `/`, so it cannot run into the host.
    const scheme =
      input.protocol === 'https' || input.protocol === 'http'
        ? input.protocol
        : encodeURIComponent(input.protocol);
    return `${scheme}://${host}${pathPart}?${queryPart}#${encodeURIComponent(policy.routeId)}|${encodeURIComponent(options.appVersion)}`;
  } catch {
    return undefined;
  }
}

/** A raw `name=value` pair, each side escaped (so `=` and `&` inside stay distinguishable). */
function escapePair(pair: string): string {
  const eq = pair.indexOf('=');
  if (eq === -1) return encodeURIComponent(pair);
  return `${encodeURIComponent(pair.slice(0, eq))}=${encodeURIComponent(pair.slice(eq + 1))}`;
}

/**
 * A query name as the app reads it (for the allow-list and the sort), decoded as Express's
 * default query parser (`node:querystring`) decodes it: an invalid escape does not leave the
 * valid ones undecoded (`%61%` and `a%` are one name, `a%`, to the route; fuzzing found them
 * sorted apart, so `?a%=1&%61%` and `?%61%&a%=1` shared an entry with their values in two orders).
 */
function decodeQueryName(name: string): string {
  return unescapeQuery(name.replace(/\+/g, ' '));
}

/**
 * A vary-by value after its name, injectively: none (`undefined`, `null`) adds nothing, a value
 * adds `=value`, a set adds `[]` and then `=members` when it has any (`[]`, `['']` and `''` are
 * three different requests to a route that reads them). The escaped name holds no `[`, `]`, `=`.
 */
function encodeVary(value: VaryByValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    // A set of values (e.g. roles): order does not matter.
    if (value.length === 0) return '[]';
    return `[]=${[...value].map(String).sort().map(encodeURIComponent).join(',')}`;
  }
  return `=${encodeURIComponent(String(value))}`;
}

function encodeChar(c: string): string {
  return encodeURIComponent(c);
}
