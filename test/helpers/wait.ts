/**
 * Waiting in tests: for an event, never for a guessed duration. `sleep` is only for pacing a
 * loop or letting a fault last (never before an assertion that a busy CPU could make false).
 * Deadlines use `performance.now()`: a `TestClock` moves `Date.now()` and must not end a wait.
 */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` until it holds, failing with `what` after `timeoutMs` (generous: a test must
 * not depend on timing that a busy CPU breaks).
 *
 * @example
 * ```ts
 * await until(() => stats().stored > before, 'the entry to be stored');
 * ```
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Calls `probe` until `accept` holds for what it returned, and returns that value; fails with
 * `what` and the last value after `timeoutMs`. For "request until the page is fresh" loops.
 *
 * @example
 * ```ts
 * const fresh = await eventually(() => get(page), (r) => r.headers['x-cache'] === 'HIT', 'a hit');
 * ```
 */
export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${describe(value)}`);
    }
    await sleep(20);
  }
}

/** Resolves once the microtasks queued so far (and those they queue) have run. */
export const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

function describe(value: unknown): string {
  const res = value as { status?: number; headers?: Record<string, unknown>; text?: string };
  if (res && typeof res === 'object' && 'status' in res && res.headers) {
    return `${res.status} X-Cache ${String(res.headers['x-cache'])} ${String(res.text).slice(0, 200)}`;
  }
  try {
    return JSON.stringify(value)?.slice(0, 300) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * `work`, or a failure naming `what` if it has not settled after `ms`: a hang detector for work
 * that never ends when the rule under test is broken (choose `ms` far above any slow machine's
 * time: it tells a hang from slowness, it measures nothing).
 *
 * @example
 * ```ts
 * await settlesWithin(app.close(), 20_000, 'close() while a refresh hangs');
 * ```
 */
export async function settlesWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}
