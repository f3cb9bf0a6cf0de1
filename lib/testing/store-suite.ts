import { deepStrictEqual } from 'node:assert/strict';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { describeCoreContract } from './core-contract.js';
import { describeEvictionBusContract } from './eviction-bus-contract.js';
import { describeEvictionClockContract } from './eviction-clock-contract.js';
import { describeLockContract } from './lock-contract.js';
import { describeSoftEvictionContract } from './soft-eviction-contract.js';
import {
  detectCapabilities,
  type OutputCacheStoreSuiteOptions,
  type StoreCapability,
  type StoreSuiteContext,
  STORE_CAPABILITIES,
} from './store-suite-options.js';
import { describeSyncReadContract } from './sync-read-contract.js';
import { resolveTestRunner, type TestBody } from './test-runner.js';

/**
 * The contract every output cache store passes, as one test suite: the core (get, set, delete,
 * evictions by tag, route and path prefix, clear, count, list, expiry, binary and large bodies,
 * concurrent sets and evictions, unreadable entries as misses) and each capability the store
 * declares: sync reads, render locks, soft eviction, the eviction bus and the eviction clock.
 * The same suite runs against every store of this package.
 *
 * It registers its tests with the runner's `describe`, `it`, `beforeEach` and `afterAll` (the
 * globals of jest, vitest or mocha, or `options.runner`), and checks with `node:assert`, so it
 * runs under any of them and `node:test`. The store is created before the first test, cleared
 * before each, and destroyed after the last: give it data of its own (a key prefix, a schema).
 *
 * @example
 * ```ts
 * // my.store.spec.ts (jest or vitest)
 * import { describeOutputCacheStore } from 'nestjs-output-cache/testing';
 *
 * describeOutputCacheStore('my store', {
 *   create: () => new MyStore({ prefix: `test-${process.pid}:` }),
 *   destroy: (store) => store.close(),
 *   capabilities: ['lock'],
 * });
 * ```
 */
export function describeOutputCacheStore<S extends OutputCacheStore>(
  name: string,
  options: OutputCacheStoreSuiteOptions<S>,
): void {
  const runner = resolveTestRunner(options.runner);
  const declared = options.capabilities ? new Set(options.capabilities) : undefined;
  let store: S | undefined;
  let creating: Promise<S> | undefined;
  let peer: Promise<S> | undefined;
  const register = (title: string, body: TestBody) =>
    options.timeoutMs === undefined
      ? runner.it(title, body)
      : runner.it(title, body, options.timeoutMs);

  const context: StoreSuiteContext<S> = {
    name,
    options,
    store: () => {
      if (!store) throw new Error(`${name}: the store is not created yet`);
      return store;
    },
    peer: () => {
      if (!options.createPeer) {
        throw new Error(
          `${name}: this test needs a second instance of the store on the same data: give ` +
            '`createPeer` to describeOutputCacheStore',
        );
      }
      peer ??= Promise.resolve(options.createPeer(context.store()));
      return peer;
    },
    it: register,
    itWhen: (capability, title, body) => {
      if (declared && !declared.has(capability)) return;
      register(`${capabilityTitles[capability]}: ${title}`, async () => {
        // Undeclared: detected here, and a store without the capability has nothing to test.
        if (!declared && !detectCapabilities(context.store()).includes(capability)) return;
        await body();
      });
    },
  };

  runner.describe(`${name}: output cache store contract`, () => {
    runner.beforeEach(async () => {
      creating ??= Promise.resolve(options.create());
      store = await creating;
      await store.clear();
    });
    runner.afterAll(async () => {
      const created = [creating, peer].filter((s): s is Promise<S> => s !== undefined);
      for (const s of await Promise.all(created)) await options.destroy?.(s);
    });

    if (declared) {
      register('has exactly the capabilities it declares', async () => {
        const found = detectCapabilities(context.store());
        deepStrictEqual(
          found,
          STORE_CAPABILITIES.filter((c) => declared.has(c)),
          `${name} declares [${[...declared].join(', ')}] and has [${found.join(', ')}]: ` +
            'declare what the store implements, and implement what it declares',
        );
      });
    }
    describeCoreContract(context);
    describeSyncReadContract(context);
    describeLockContract(context);
    describeSoftEvictionContract(context);
    describeEvictionBusContract(context);
    describeEvictionClockContract(context);
  });
}

const capabilityTitles: Record<StoreCapability, string> = {
  syncRead: 'sync reads',
  lock: 'render lock',
  softEviction: 'soft eviction',
  evictionBus: 'eviction bus',
  evictionClock: 'eviction clock',
};
