import type { CdnPurger } from './cdn-purger.interface.js';

/**
 * The `cdn` option of `OutputCacheModule`: a shared cache (a CDN, Varnish) in front of the app.
 * Pages the output cache stores carry their tags in `tagsHeader`, and every eviction the app
 * makes is forwarded to `purger`.
 *
 * | key | default |
 * | --- | --- |
 * | `tagsHeader` | `'Surrogate-Key'` |
 * | `separator` | `','` for `Cache-Tag`, else `' '` |
 * | `maxHeaderBytes` | `16384` (Fastly's and Cloudflare's limit) |
 * | `maxTagBytes` | `1024` (Fastly's limit per key) |
 * | `hashTags` | `'auto'` |
 * | `controlHeader` | `'Surrogate-Control'` |
 * | `maxAge` | none: the page's own `Cache-Control` rules |
 * | `varyByHandled` | `[]` |
 * | `purger` | none: pages are tagged, nothing is purged |
 * | `linger` | `0.05` |
 * | `retries` | `3` |
 * | `retryDelay` | `0.2` (doubling each attempt) |
 * | `maxPending` | `10000` |
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({
 *   cdn: {
 *     tagsHeader: 'Surrogate-Key',
 *     maxAge: 3600,
 *     purger: new FastlyPurger({ serviceId: 'SU1Z0isxPaozGVKXdv0eY', token: process.env.FASTLY_KEY! }),
 *   },
 * });
 * ```
 */
export interface CdnOptions {
  /** Response header that carries the page's tags: `Surrogate-Key` (Fastly, Varnish), `Cache-Tag` (Cloudflare). */
  tagsHeader?: string;
  /** Between two tags: `' '` (Surrogate-Key) or `','` (Cache-Tag). */
  separator?: ' ' | ',';
  /** Longest value of the tags header, in bytes; past it tags are hashed, then the header dropped. */
  maxHeaderBytes?: number;
  /** Longest tag, in bytes; a longer one is hashed (or, with `hashTags: false`, the header dropped). */
  maxTagBytes?: number;
  /**
   * `'auto'`: a tag is sent as it is when it fits (printable ASCII, no separator, `maxTagBytes`),
   * else as its hash; when the header would pass `maxHeaderBytes`, every tag is hashed. `true`:
   * always hashed (short headers, opaque tags). `false`: never; a page whose tags do not fit is
   * not tagged (and so not cached by the CDN). Purges send the forms the pages may carry.
   */
  hashTags?: boolean | 'auto';
  /**
   * Header that tells the shared cache whether and how long to keep a page, and that only it
   * reads: `Surrogate-Control` (Varnish, Fastly), `CDN-Cache-Control` (Cloudflare and others).
   * Pages of cacheable routes that are not tagged get `no-store` in it. `false`: never sent.
   */
  controlHeader?: string | false;
  /** Seconds the CDN may keep a tagged page (`max-age=N` in `controlHeader`); default none. */
  maxAge?: number;
  /**
   * Vary-by names whose value the CDN puts in its own cache key (e.g. a currency cookie it
   * hashes). Pages varying by any other non-header vary-by value are never tagged: the CDN
   * would serve one variant to everyone.
   */
  varyByHandled?: string[];
  /** Where evictions go; without one, pages are tagged and purges are left to the app. */
  purger?: CdnPurger;
  /** Seconds an eviction waits for others to join its batch. */
  linger?: number;
  /** Further attempts of a failed batch. */
  retries?: number;
  /** Seconds before the first retry; doubled for each next one (at most 30 s). */
  retryDelay?: number;
  /** Most tags waiting to be purged; past it, the waiting purges become one purge of everything. */
  maxPending?: number;
}

/** {@link CdnOptions} with defaults applied. */
export interface ResolvedCdnOptions {
  tagsHeader: string;
  separator: ' ' | ',';
  maxHeaderBytes: number;
  maxTagBytes: number;
  hashTags: boolean | 'auto';
  controlHeader: string | false;
  maxAge?: number;
  varyByHandled: string[];
  purger?: CdnPurger;
  linger: number;
  retries: number;
  retryDelay: number;
  maxPending: number;
}

/** Defaults of {@link CdnOptions}. */
export const CDN_DEFAULTS = {
  tagsHeader: 'Surrogate-Key',
  maxHeaderBytes: 16 * 1024,
  maxTagBytes: 1024,
  hashTags: 'auto',
  controlHeader: 'Surrogate-Control',
  linger: 0.05,
  retries: 3,
  retryDelay: 0.2,
  maxPending: 10_000,
} as const;

/** A header name (an RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const KEYS = [
  'tagsHeader',
  'separator',
  'maxHeaderBytes',
  'maxTagBytes',
  'hashTags',
  'controlHeader',
  'maxAge',
  'varyByHandled',
  'purger',
  'linger',
  'retries',
  'retryDelay',
  'maxPending',
] as const;

/**
 * Checks the `cdn` option and applies its defaults; returns what is wrong (for the option
 * checks of `OutputCacheModule`) as `[name, problem]`, or the resolved options.
 *
 * @internal Called by `resolveOutputCacheOptions`.
 * @example
 * ```ts
 * resolveCdnOptions({ tagsHeader: 'Cache-Tag' }); // { ok: { tagsHeader: 'Cache-Tag', separator: ',', ... } }
 * ```
 */
export function resolveCdnOptions(
  value: unknown,
): { ok: ResolvedCdnOptions } | { problem: [string, string] } {
  const bad = (key: string, problem: string) => ({
    problem: [`cdn.${key}`, problem] as [string, string],
  });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      problem: [
        'cdn',
        `must be an object such as { tagsHeader: 'Surrogate-Key', purger }, got ${typeof value === 'object' ? 'an array or null' : String(value)}`,
      ],
    };
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(KEYS as readonly string[]).includes(key) && given[key] !== undefined) {
      return { problem: ['cdn', `has an unknown key "${key}"; its keys are ${KEYS.join(', ')}`] };
    }
  }
  const tagsHeader = given.tagsHeader ?? CDN_DEFAULTS.tagsHeader;
  if (typeof tagsHeader !== 'string' || !TOKEN.test(tagsHeader)) {
    return bad(
      'tagsHeader',
      `must be a header name such as 'Surrogate-Key' or 'Cache-Tag', got ${String(tagsHeader)}`,
    );
  }
  const separator = given.separator ?? (tagsHeader.toLowerCase() === 'cache-tag' ? ',' : ' ');
  if (separator !== ' ' && separator !== ',') {
    return bad(
      'separator',
      `must be ' ' (Surrogate-Key) or ',' (Cache-Tag), got ${String(separator)}`,
    );
  }
  const numbers: Record<string, { value: unknown; whole: boolean; min: number }> = {
    maxHeaderBytes: {
      value: given.maxHeaderBytes ?? CDN_DEFAULTS.maxHeaderBytes,
      whole: true,
      min: 64,
    },
    maxTagBytes: { value: given.maxTagBytes ?? CDN_DEFAULTS.maxTagBytes, whole: true, min: 20 },
    linger: { value: given.linger ?? CDN_DEFAULTS.linger, whole: false, min: 0 },
    retries: { value: given.retries ?? CDN_DEFAULTS.retries, whole: true, min: 0 },
    retryDelay: { value: given.retryDelay ?? CDN_DEFAULTS.retryDelay, whole: false, min: 0 },
    maxPending: { value: given.maxPending ?? CDN_DEFAULTS.maxPending, whole: true, min: 1 },
  };
  if (given.maxAge !== undefined) numbers.maxAge = { value: given.maxAge, whole: true, min: 1 };
  for (const [key, { value: n, whole, min }] of Object.entries(numbers)) {
    if (
      typeof n !== 'number' ||
      !Number.isFinite(n) ||
      n < min ||
      (whole && !Number.isInteger(n))
    ) {
      return bad(
        key,
        `must be a ${whole ? 'whole ' : ''}number, ${min} or more, got ${typeof n === 'string' ? `the string '${n}'` : String(n)}`,
      );
    }
  }
  const hashTags = given.hashTags ?? CDN_DEFAULTS.hashTags;
  if (hashTags !== true && hashTags !== false && hashTags !== 'auto') {
    return bad('hashTags', `must be 'auto', true or false, got ${String(hashTags)}`);
  }
  const controlHeader = given.controlHeader ?? CDN_DEFAULTS.controlHeader;
  if (
    controlHeader !== false &&
    (typeof controlHeader !== 'string' || !TOKEN.test(controlHeader))
  ) {
    return bad(
      'controlHeader',
      `must be a header name such as 'Surrogate-Control' or 'CDN-Cache-Control', or false, got ${String(controlHeader)}`,
    );
  }
  if (given.maxAge !== undefined && controlHeader === false) {
    return bad('maxAge', `needs a controlHeader to be sent in; remove controlHeader: false`);
  }
  const varyByHandled = given.varyByHandled ?? [];
  if (!Array.isArray(varyByHandled) || varyByHandled.some((n) => typeof n !== 'string')) {
    return bad('varyByHandled', `must be an array of vary-by names, e.g. ['currency']`);
  }
  const purger = given.purger;
  if (purger !== undefined) {
    const p = purger as Partial<CdnPurger> | null;
    if (typeof p !== 'object' || p === null || typeof p.purge !== 'function') {
      return bad(
        'purger',
        `must be a CdnPurger instance (an object with purge(batch)), such as new VarnishBanPurger({ url: 'http://127.0.0.1:6081/' })${typeof purger === 'function' ? '; create one with new' : ''}`,
      );
    }
    const max = p.maxTagsPerRequest;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      return bad(
        'purger',
        `must have maxTagsPerRequest, a positive whole number, got ${String(max)}`,
      );
    }
  }
  return {
    ok: {
      tagsHeader,
      separator,
      maxHeaderBytes: numbers.maxHeaderBytes!.value as number,
      maxTagBytes: numbers.maxTagBytes!.value as number,
      hashTags,
      controlHeader: controlHeader as string | false,
      maxAge: given.maxAge as number | undefined,
      varyByHandled: [...(varyByHandled as string[])],
      purger: purger as CdnPurger | undefined,
      linger: numbers.linger!.value as number,
      retries: numbers.retries!.value as number,
      retryDelay: numbers.retryDelay!.value as number,
      maxPending: numbers.maxPending!.value as number,
    },
  };
}
