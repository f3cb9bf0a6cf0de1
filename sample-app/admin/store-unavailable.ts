import { ServiceUnavailableException } from '@nestjs/common';
import { CircuitOpenError, StoreTimeoutError } from '../../lib/index.js';

/**
 * The 503 the back office answers when the cache store did not take a call: its circuit breaker
 * is open (`CircuitOpenError`), it was too slow (`StoreTimeoutError`) or it failed outright
 * (Redis down). For an eviction, the message says what the provider already did: the eviction
 * was queued and is made once the store answers, so there is nothing to send again.
 *
 * @example
 * ```ts
 * const evicted = await this.outputCache.invalidateAll().catch(storeUnavailable('the purge'));
 * ```
 */
export function storeUnavailable(
  what: string,
  { eviction = true }: { eviction?: boolean } = {},
): (error: unknown) => never {
  return (error: unknown) => {
    const why =
      error instanceof CircuitOpenError
        ? 'its circuit breaker is open after repeated failures'
        : error instanceof StoreTimeoutError
          ? 'it did not answer in time'
          : `it failed (${error instanceof Error ? error.message : String(error)})`;
    const next = eviction
      ? 'the eviction is queued, made once the store answers: no need to send it again'
      : 'try again once the store answers';
    throw new ServiceUnavailableException(
      `The cache store is not answering, so ${what} could not be made now: ${why}; ${next}.`,
      { cause: error },
    );
  };
}
