import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { CallHandler } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import {
  buildCacheKey,
  type KeyInput,
  splitUrl,
  varyRecordKey,
} from '../policy/cache-key.builder.js';
import { requestBypassReason } from '../policy/request-rules.js';
import { type RoutePolicy, RoutePolicyResolver } from '../policy/route-policy.resolver.js';
import type { Bypass, Lookup } from './lookup.js';
import type { CacheEntry } from '../stores/cache-entry.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { HttpPlatform } from './platform/http-platform.js';
import { unionOfNames, varyRecordNames } from './vary-record.js';

/**
 * The key stage: the request rules (method, exclusions, credentials, bodies), the route's
 * vary-by values and the key. Synchronous unless a vary-by resolver returns a promise; a
 * resolver that throws or rejects bypasses the cache for that request (`vary-error`).
 *
 * A `varyBy: 'auto'` route is looked up in two steps, as HTTP `Vary` works in a shared cache:
 * first the URL's vary record (which names its renders read), then the variant keyed by just
 * those names' values.
 */
@Injectable()
export class KeyResolver {
  protected readonly logger = new Logger('OutputCache');

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly policies: RoutePolicyResolver,
    /** Where `varyBy: 'auto'` routes find their vary records. */
    @Optional() protected readonly store?: ResilientStore,
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
    const input: KeyInput = {
      protocol: this.platform.protocol(req),
      host: this.platform.host(req),
      url,
      split,
    };
    const keyed = (names: readonly string[], record?: readonly string[]) => {
      const keyOf = (values: VaryByValue[]): Lookup | Bypass => {
        const key = buildCacheKey(input, policy, this.options, values, names);
        if (key === undefined) return { bypass: 'key-error' };
        return {
          req,
          res,
          key,
          path,
          url,
          startedAt,
          policy,
          next,
          refresh,
          input,
          varyNames: names,
          varyValues: values,
          varyRecord: record,
        };
      };
      let values: VaryByValue[] | Promise<VaryByValue[]>;
      try {
        values = this.varyValues(req, names);
      } catch (error) {
        return this.varyFailed(policy, error);
      }
      if (Array.isArray(values)) return keyOf(values);
      return values.then(keyOf, (error: unknown) => this.varyFailed(policy, error));
    };
    if (!policy.varyAuto || !this.store) return keyed(policy.varyBy);
    // Step one: which names this URL's renders read (none recorded yet: the route's own).
    const recordKey = varyRecordKey(input, policy, this.options);
    if (recordKey === undefined) return { bypass: 'key-error' };
    const withRecord = (entry: CacheEntry | undefined) => {
      const record = varyRecordNames(entry, this.options.varyBy);
      return keyed(record ? unionOfNames(policy.varyBy, record) : policy.varyBy, record);
    };
    const local = this.store.readSync?.(recordKey);
    if (local || this.store.syncIsComplete) return withRecord(local);
    return this.store.get(recordKey).then(withRecord, () => withRecord(undefined));
  }

  /** The values of vary-by `names`, synchronously when no resolver returns a promise. */
  protected varyValues(req: any, names: readonly string[]): VaryByValue[] | Promise<VaryByValue[]> {
    const values: (VaryByValue | Promise<VaryByValue>)[] = [];
    let async = false;
    const headers = this.platform.headers(req);
    for (const name of names) {
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
