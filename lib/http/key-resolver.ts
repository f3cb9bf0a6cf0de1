import { Inject, Injectable, Logger } from '@nestjs/common';
import type { CallHandler } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import { buildCacheKey, splitUrl } from '../policy/cache-key.builder.js';
import { requestBypassReason } from '../policy/request-rules.js';
import { type RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import type { Bypass, Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';

/**
 * The key stage: the request rules (method, exclusions, credentials, bodies), the route's
 * vary-by values and the key. Synchronous unless a vary-by resolver returns a promise; a
 * resolver that throws or rejects bypasses the cache for that request (`vary-error`).
 */
@Injectable()
export class KeyResolver {
  protected readonly logger = new Logger('OutputCache');

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly policies: RoutePolicyResolver,
  ) {}

  /** The request's lookup, or why it bypasses the cache. */
  resolve(
    req: any,
    res: any,
    policy: RoutePolicy,
    next: CallHandler,
    refresh: boolean,
  ): Lookup | Bypass | Promise<Lookup | Bypass> {
    const startedAt = performance.now();
    const url = this.platform.url(req);
    const split = splitUrl(url);
    const path = split.path;
    if (path === undefined) return { bypass: 'key-error' };
    const rules = { method: this.platform.method(req), url, headers: this.platform.headers(req) };
    const reason = requestBypassReason(rules, path, policy, this.options, (p) =>
      this.policies.isExcluded(p),
    );
    if (reason) return { bypass: reason };
    const keyOf = (vary: VaryByValue[]): Lookup | Bypass => {
      const host = this.platform.host(req);
      const protocol = this.platform.protocol(req);
      const key = buildCacheKey({ protocol, host, url, split }, policy, this.options, vary);
      return key === undefined
        ? { bypass: 'key-error' }
        : { req, res, key, path, url, startedAt, policy, next, refresh };
    };
    let vary: VaryByValue[] | Promise<VaryByValue[]>;
    try {
      vary = this.varyValues(req, policy);
    } catch (error) {
      return this.varyFailed(policy, error);
    }
    if (Array.isArray(vary)) return keyOf(vary);
    return vary.then(keyOf, (error: unknown) => this.varyFailed(policy, error));
  }

  /** The route's vary-by values, synchronously when no resolver returns a promise. */
  protected varyValues(req: any, policy: RoutePolicy): VaryByValue[] | Promise<VaryByValue[]> {
    const values: (VaryByValue | Promise<VaryByValue>)[] = [];
    let async = false;
    const headers = this.platform.headers(req);
    for (const name of policy.varyBy) {
      const resolver = this.options.varyBy[name];
      const value =
        typeof resolver === 'function' ? resolver(req) : headers[resolver.header.toLowerCase()];
      if (value instanceof Promise) async = true;
      values.push(value);
    }
    return async ? Promise.all(values) : (values as VaryByValue[]);
  }

  private varyFailed(policy: RoutePolicy, error: unknown): Bypass {
    this.logger.warn(`vary-by resolver failed on ${policy.routeId}: ${String(error)}`);
    return { bypass: 'vary-error' };
  }
}
