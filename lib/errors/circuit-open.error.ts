/**
 * Thrown, at once, for store calls made while the circuit breaker is open: the store failed
 * repeatedly and is left alone for `circuitBreaker.openFor` seconds. On a request it is a miss;
 * from `OutputCacheProvider` it rejects (retry once the store is back).
 */
export class CircuitOpenError extends Error {
  constructor() {
    super('store circuit is open: the store failed repeatedly and is left alone for a while');
    this.name = 'CircuitOpenError';
  }
}
