import { createHash } from 'node:crypto';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import type { RoutePolicy } from './route-policy.resolver.js';

/** The parts of a request a key is made of; all computable from the raw `node:http` request. */
export interface KeyInput {
  /** `http` or `https`, as Express resolves it (`trust proxy` decides about X-Forwarded-Proto). */
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
 * Builds the cache key: scheme and host, normalised path, the query (every pair, decoded and
 * re-encoded, sorted by name with duplicates and case kept), route id, app version and each
 * vary-by value. Every variable part is percent-encoded, so no value can contain a separator
 * (`/ ? & = # | ;`) and two different requests never share a key. Returns undefined when the
 * request cannot be keyed (invalid escapes or lone surrogates): such a request is not cached.
 *
 * @example
 * `https://shop.example/category/shoes?page=2&sort=price#Catalog/category|v3|currency=EUR`
 */
export function buildCacheKey(
  input: KeyInput,
  policy: RoutePolicy,
  options: ResolvedOutputCacheOptions,
  varyValues: readonly VaryByValue[],
): string | undefined {
  try {
    const { path, query } = input.split ?? splitUrl(input.url);
    if (path === undefined) return undefined;
    const pairs: [string, string][] = [];
    if (query) {
      for (const [name, value] of new URLSearchParams(query)) {
        if (policy.query && !policy.query.has(name)) continue;
        pairs.push([name, value]);
      }
      // Array#sort is stable: duplicates of one name keep their order.
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    }
    const queryPart = pairs
      .map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)
      .join('&');
    const host = input.host.toLowerCase().replace(HOST_UNSAFE, encodeChar);
    let key = `${input.protocol === 'https' ? 'https' : 'http'}://${host}${path}?${queryPart}#${encodeURIComponent(policy.routeId)}|${encodeURIComponent(options.appVersion)}`;
    for (let i = 0; i < policy.varyBy.length; i++) {
      key += `|${encodeURIComponent(policy.varyBy[i])}=${encodeVary(varyValues[i])}`;
    }
    return key.length > MAX_PLAIN_KEY
      ? `sha256:${createHash('sha256').update(key).digest('base64url')}`
      : key;
  } catch {
    return undefined;
  }
}

function encodeVary(value: VaryByValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    // A set of values (e.g. roles): order does not matter.
    return [...value].map(String).sort().map(encodeURIComponent).join(',');
  }
  return encodeURIComponent(String(value));
}

function encodeChar(c: string): string {
  return encodeURIComponent(c);
}
