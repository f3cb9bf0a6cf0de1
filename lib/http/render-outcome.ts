import type { CacheEntry } from '../stores/cache-entry.js';

/**
 * How a leading render ended, as the requests waiting for it learn it:
 * - `{ entry }`: stored (or, for stale-if-error, the kept page served instead): serve it;
 * - `{ notStored }`: rendered but not storable, with the reason: render for yourselves;
 * - `{ handover }`: the leader's client went away before its page was complete, so nothing
 *   could be judged or stored: one waiter leads a new render, the others wait for it.
 */
export type RenderOutcome =
  { readonly entry: CacheEntry } | { readonly notStored: string } | { readonly handover: true };

/** Ends a leading render: called once with its outcome. */
export type Finish = (outcome: RenderOutcome) => void;
