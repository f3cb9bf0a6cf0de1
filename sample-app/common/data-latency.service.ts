import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ResolvedSampleAppOptions, SAMPLE_APP_OPTIONS } from '../sample-app.options.js';

/**
 * Simulates a slow database (or a remote API) so that the output cache's effect is visible:
 * every data service waits `dbDelayMs` before each query. A cached page skips all of them.
 *
 * It also simulates an outage (`POST /admin/outage`): while the database is down, every data
 * access of the shop throws a 503. Pages the cache still keeps are served stale meanwhile
 * (the module's `grace` and `staleIfError`); pages it never stored answer 503. The back office
 * does not go through here, so it keeps working.
 */
@Injectable()
export class DataLatency {
  private outage = false;

  constructor(@Inject(SAMPLE_APP_OPTIONS) private readonly options: ResolvedSampleAppOptions) {}

  /** Whether the simulated database is down. */
  get down(): boolean {
    return this.outage;
  }

  /** Takes the simulated database down, or brings it back. */
  setDown(down: boolean): void {
    this.outage = down;
  }

  /** Waits before a query; throws `ServiceUnavailableException` while the database is down. */
  async wait(): Promise<void> {
    if (this.options.dbDelayMs > 0) await sleep(this.options.dbDelayMs);
    if (this.outage) throw new ServiceUnavailableException('The database is unavailable');
  }
}
