import { AsyncLocalStorage } from 'node:async_hooks';

/** What one request collects while its page renders. */
export class OutputCacheRequestContext {
  readonly tags = new Set<string>();
  uncacheable = false;
  uncacheableReason: string | undefined;

  /** Whether the route is being rendered for storing (false on bypassed requests). */
  constructor(readonly capturing: boolean) {}
}

/** The per-request store behind DisplayControl: one AsyncLocalStorage, no request scope. */
export const outputCacheContext = new AsyncLocalStorage<OutputCacheRequestContext>();
