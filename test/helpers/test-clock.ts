/**
 * The wall clock of this test file, moved forward on demand: a TTL is checked by advancing the
 * clock past it, not by sleeping (a sleep before "still fresh" breaks on a busy machine, and one
 * before "expired" costs seconds).
 *
 * Jest runs each test file in a context of its own whose `Date` is that context's: replacing
 * `Date.now` there moves every reading the library makes in this process (freshness, `Age`, the
 * stores' expiry, the circuit breaker) and nothing outside the file. The clock keeps running;
 * `advance` adds to an offset, so timeouts computed with `Date.now()` never go backwards. Only
 * apps in this process see it: a child process takes `CLOCK_OFFSET_MS` (test/fixtures/clock-offset.mjs).
 *
 * @example
 * ```ts
 * const clock = new TestClock();
 * afterEach(() => clock.restore());
 * it('expires', async () => {
 *   clock.install();
 *   await http.get('/page');           // ttl: 60
 *   clock.advance(61_000);
 *   expect((await http.get('/page')).headers['x-cache']).toBe('STALE');
 * });
 * ```
 */
export class TestClock {
  private offset = 0;
  private realNow: (() => number) | undefined;

  /** Puts this clock in place of `Date.now` (offset 0); idempotent. */
  install(): this {
    if (!this.realNow) {
      const realNow = Date.now;
      this.realNow = realNow;
      Date.now = () => realNow.call(Date) + this.offset;
    }
    return this;
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    if (!this.realNow) throw new Error('TestClock.advance before install()');
    if (!(ms >= 0)) throw new Error(`a clock only moves forward, got ${ms}`);
    this.offset += ms;
  }

  /** Gives `Date.now` back and resets the offset. */
  restore(): void {
    if (this.realNow) Date.now = this.realNow;
    this.realNow = undefined;
    this.offset = 0;
  }
}
