/**
 * `nestjs-output-cache/testing`: the store contract as a test suite, for anyone writing a store.
 * Kept out of the main entry: an app never loads it.
 */
export { describeOutputCacheStore } from './testing/store-suite.js';
export {
  detectCapabilities,
  type OutputCacheStoreSuiteOptions,
  STORE_CAPABILITIES,
  type StoreCapability,
} from './testing/store-suite-options.js';
export type { TestBody, TestRunner } from './testing/test-runner.js';
export { makeTestEntry } from './testing/test-entry.js';
export { assertEqualData, assertSameEntry } from './testing/entry-assertions.js';
export { checkEvictionBus } from './testing/eviction-bus-contract.js';
export { checkEvictionClock } from './testing/eviction-clock-contract.js';
