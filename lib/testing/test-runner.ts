/** A test body: the suite's tests are all async. */
export type TestBody = () => Promise<void>;

/**
 * The few functions of a test runner the store suite uses. Jest, Vitest (with `globals: true`)
 * and Mocha have them as globals; for `node:test`, or Vitest without globals, pass them in.
 *
 * @example
 * ```ts
 * import { after, beforeEach, describe, it } from 'node:test';
 * describeOutputCacheStore('my store', {
 *   create: () => new MyStore(),
 *   capabilities: [],
 *   runner: { describe, it, beforeEach, afterAll: after },
 * });
 * ```
 */
export interface TestRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: TestBody, timeoutMs?: number): unknown;
  beforeEach(body: TestBody): unknown;
  /** Runs once after the suite's tests (`after` in `node:test`). */
  afterAll(body: TestBody): unknown;
}

/**
 * The runner's functions: those given, else the globals of the runner that loaded the suite
 * (`afterAll`, or `after` as `node:test` and Mocha call it).
 */
export function resolveTestRunner(given: Partial<TestRunner> = {}): TestRunner {
  const globals = globalThis as Record<string, unknown>;
  const pick = <K extends keyof TestRunner>(name: K, ...globalNames: string[]): TestRunner[K] => {
    const found = given[name] ?? globalNames.map((n) => globals[n]).find((f) => f);
    if (typeof found !== 'function') {
      throw new Error(
        `describeOutputCacheStore: no \`${name}\` function: run the suite under a test runner ` +
          `with globals (jest, vitest with globals: true, mocha), or pass \`runner: { describe, ` +
          `it, beforeEach, afterAll }\` (for node:test: \`afterAll: after\`)`,
      );
    }
    return found as TestRunner[K];
  };
  return {
    describe: pick('describe', 'describe'),
    it: pick('it', 'it', 'test'),
    beforeEach: pick('beforeEach', 'beforeEach'),
    afterAll: pick('afterAll', 'afterAll', 'after'),
  };
}
