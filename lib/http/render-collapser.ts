import type { CacheEntry } from '../stores/cache-entry.js';

interface Flight {
  promise: Promise<CacheEntry | undefined>;
  resolve: (entry: CacheEntry | undefined) => void;
}

/**
 * Single flight per key: the first miss renders, concurrent misses of the same key wait for its
 * entry. A flight that ends without a storable entry resolves `undefined`, and the waiters
 * render for themselves; they never see a partial response.
 */
export class RenderCollapser {
  private readonly flights = new Map<string, Flight>();

  /** Starts a flight for `key`, or returns undefined when one is already under way. */
  lead(key: string): ((entry: CacheEntry | undefined) => void) | undefined {
    if (this.flights.has(key)) return undefined;
    let resolve!: (entry: CacheEntry | undefined) => void;
    const promise = new Promise<CacheEntry | undefined>((r) => (resolve = r));
    const flight = { promise, resolve };
    this.flights.set(key, flight);
    let done = false;
    return (entry) => {
      if (done) return;
      done = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
      resolve(entry);
    };
  }

  /**
   * Waits for the flight of `key`: its entry, `undefined` when it produced none, `'timeout'` when
   * it took longer than `timeoutMs`, or `'none'` when there is no flight.
   */
  async wait(key: string, timeoutMs: number): Promise<CacheEntry | undefined | 'timeout' | 'none'> {
    const flight = this.flights.get(key);
    if (!flight) return 'none';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([flight.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Keys being rendered right now. */
  get size(): number {
    return this.flights.size;
  }
}
