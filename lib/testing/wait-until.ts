/**
 * Polls `condition` until it holds; rejects with `what` after `timeoutMs`. The suite waits for
 * what it checks instead of sleeping a guessed time, so a loaded machine slows it, never fails it.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
