/**
 * A store call took longer than its bound (`storeTimeout` for a request, `operationTimeout`
 * for an `OutputCacheProvider` call). On a request it is a miss; from the provider it rejects.
 */
export class StoreTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(
      `store ${operation} timed out after ${ms} ms; check that the store is reachable, or raise storeTimeout / operationTimeout`,
    );
    this.name = 'StoreTimeoutError';
  }
}
