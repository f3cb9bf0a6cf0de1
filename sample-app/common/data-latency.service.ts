import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ResolvedSampleAppOptions, SAMPLE_APP_OPTIONS } from '../sample-app.options.js';

/**
 * Simulates a slow database (or a remote API) so that the output cache's effect is visible:
 * every data service waits `dbDelayMs` before each query. A cached page skips all of them.
 */
@Injectable()
export class DataLatency {
  constructor(@Inject(SAMPLE_APP_OPTIONS) private readonly options: ResolvedSampleAppOptions) {}

  async wait(): Promise<void> {
    if (this.options.dbDelayMs > 0) await sleep(this.options.dbDelayMs);
  }
}
