import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';

/**
 * Options of `OutputCacheAdminModule.forRoot()`.
 *
 * @example
 * ```ts
 * OutputCacheAdminModule.forRoot({ path: 'ops/cache', guard: AdminTokenGuard })
 * ```
 */
export interface OutputCacheAdminOptions {
  /**
   * Where the endpoints and the dashboard are mounted (leading and trailing slashes are
   * ignored). Default `admin/output-cache`.
   */
  path?: string;
  /**
   * The guard every endpoint and the dashboard sit behind: a `CanActivate` class (resolved
   * through Nest's injector, with the providers of `imports`) or an instance. Required unless
   * `allowInsecure: true`.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * Mounts the endpoints without a guard. Only for a private network or a demo: anyone who
   * reaches the app can then list and purge the cache. Default `false`.
   */
  allowInsecure?: boolean;
  /** Modules whose providers a guard class needs. Default none. */
  imports?: ModuleMetadata['imports'];
  /** Most entries one listing returns (`take`). Default 200. */
  maxTake?: number;
  /**
   * Most entries a filtered listing reads from the store to find its page (the store lists
   * without filters; a filter is applied while reading). Default 10,000.
   */
  scanLimit?: number;
  /** Keys the per-entry hit counter remembers (least recently hit go first). Default 10,000. */
  trackedKeys?: number;
  /**
   * Origins (`https://ops.example`) besides the request's own `Host` that may POST a purge from
   * a browser (the CSRF check). Default none.
   */
  trustedOrigins?: string[];
}

/** The options with every default applied. */
export interface ResolvedOutputCacheAdminOptions {
  path: string;
  guard: Type<CanActivate> | CanActivate | undefined;
  maxTake: number;
  scanLimit: number;
  trackedKeys: number;
  trustedOrigins: string[];
}

const KNOWN = new Set([
  'path',
  'guard',
  'allowInsecure',
  'imports',
  'maxTake',
  'scanLimit',
  'trackedKeys',
  'trustedOrigins',
]);

function fail(message: string): never {
  throw new OutputCacheConfigError(`OutputCacheAdminModule: ${message}`);
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(`option "${name}" must be a whole number, 1 or more; got ${String(value)}`);
  }
  return value;
}

/** Whether `guard` is a `CanActivate` class or instance. */
function isGuard(guard: unknown): guard is Type<CanActivate> | CanActivate {
  if (typeof guard === 'function') {
    return typeof (guard as Type<CanActivate>).prototype?.canActivate === 'function';
  }
  return (
    typeof guard === 'object' &&
    guard !== null &&
    typeof (guard as CanActivate).canActivate === 'function'
  );
}

/**
 * Applies the defaults and checks every option; throws an {@link OutputCacheConfigError} that
 * says what was wrong.
 */
export function resolveAdminOptions(
  options: OutputCacheAdminOptions,
): ResolvedOutputCacheAdminOptions {
  if (typeof options !== 'object' || options === null) fail('forRoot() takes an options object');
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) {
      fail(`unknown option "${name}"; the options are ${[...KNOWN].join(', ')}`);
    }
  }
  const rawPath = options.path ?? 'admin/output-cache';
  if (typeof rawPath !== 'string') fail(`option "path" must be a string, got ${typeof rawPath}`);
  const path = rawPath.replace(/^\/+|\/+$/g, '');
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) {
    fail(
      `option "path" must be URL path segments of letters, digits and . _ ~ - (e.g. "admin/output-cache"), got "${rawPath}"`,
    );
  }
  if (options.allowInsecure !== undefined && typeof options.allowInsecure !== 'boolean') {
    fail(`option "allowInsecure" must be true or false, got ${String(options.allowInsecure)}`);
  }
  if (options.guard === undefined) {
    if (options.allowInsecure !== true) {
      fail(
        'a guard is required: these endpoints list and purge the whole cache. Pass ' +
          '`guard: YourAdminGuard` (a CanActivate class or instance), or `allowInsecure: true` ' +
          'to mount them unprotected on purpose (a private network, a demo)',
      );
    }
  } else if (!isGuard(options.guard)) {
    fail('option "guard" must be a CanActivate class or an object with a canActivate() method');
  }
  const trustedOrigins = options.trustedOrigins ?? [];
  if (!Array.isArray(trustedOrigins) || trustedOrigins.some((o) => !isOrigin(o))) {
    fail('option "trustedOrigins" must be a list of origins such as "https://ops.example"');
  }
  return {
    path,
    guard: options.guard,
    maxTake: positiveInteger('maxTake', options.maxTake, 200),
    scanLimit: positiveInteger('scanLimit', options.scanLimit, 10_000),
    trackedKeys: positiveInteger('trackedKeys', options.trackedKeys, 10_000),
    trustedOrigins: trustedOrigins.map((o) => new URL(o).origin),
  };
}

function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.origin === value.replace(/\/$/, '')
    );
  } catch {
    return false;
  }
}
