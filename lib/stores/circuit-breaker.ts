import { CircuitOpenError } from '../errors/circuit-open.error.js';

/** Options of {@link CircuitBreaker}. Durations are seconds. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 3. */
  failures?: number;
  /** How long it stays open before one probe call may pass. Default 5. */
  openFor?: number;
}

/**
 * Stops calling a failing store for a while: after `failures` consecutive failures every call
 * fails at once for `openFor` seconds; then a single probe goes through, and its outcome closes
 * the circuit or opens it again. While open, requests render uncached without waiting.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ failures: 3, openFor: 5 });
 * const entry = await breaker.run(() => store.get(key));
 * ```
 */
export class CircuitBreaker {
  private consecutive = 0;
  private openUntil = 0;
  private probing = false;
  private readonly threshold: number;
  private readonly openMs: number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = options.failures ?? 3;
    this.openMs = (options.openFor ?? 5) * 1000;
  }

  /** `open` while calls are refused, `half-open` once one probe may pass or is passing. */
  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openUntil === 0) return 'closed';
    return this.probing || Date.now() >= this.openUntil ? 'half-open' : 'open';
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    let probe = false;
    if (this.openUntil > 0) {
      if (Date.now() < this.openUntil || this.probing) throw new CircuitOpenError();
      probe = this.probing = true;
    }
    try {
      const result = await call();
      this.consecutive = 0;
      this.openUntil = 0;
      return result;
    } catch (error) {
      this.consecutive++;
      if (probe || this.consecutive >= this.threshold) {
        this.openUntil = Date.now() + this.openMs;
      }
      throw error;
    } finally {
      if (probe) this.probing = false;
    }
  }
}
