import type { Finish, RenderOutcome } from './render-outcome.js';

interface Flight {
  promise: Promise<RenderOutcome>;
}

/**
 * Single flight per key inside this process: the first miss leads the render, concurrent misses
 * of the same key wait for its {@link RenderOutcome}. The flight ends (and a new one may start)
 * the moment the leader finishes, whatever the outcome.
 */
export class RenderCollapser {
  private readonly flights = new Map<string, Flight>();
  /** Requests waiting for a flight right now (all keys). */
  waiting = 0;

  /** Starts a flight for `key`, or returns undefined when one is already under way. */
  lead(key: string): Finish | undefined {
    if (this.flights.has(key)) return undefined;
    let resolve!: (outcome: RenderOutcome) => void;
    const flight: Flight = { promise: new Promise<RenderOutcome>((r) => (resolve = r)) };
    this.flights.set(key, flight);
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
      resolve(outcome);
    };
  }

  /**
   * Waits for the flight of `key`: its outcome, `'timeout'` when it took longer than
   * `timeoutMs`, or `'none'` when there is no flight.
   */
  async wait(key: string, timeoutMs: number): Promise<RenderOutcome | 'timeout' | 'none'> {
    const flight = this.flights.get(key);
    if (!flight) return 'none';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
      timer.unref();
    });
    this.waiting++;
    try {
      return await Promise.race([flight.promise, timeout]);
    } finally {
      this.waiting--;
      clearTimeout(timer);
    }
  }

  /** Whether `key` is being rendered right now. */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Keys being rendered right now. */
  get size(): number {
    return this.flights.size;
  }
}
