import type { SampleProcess } from '../test/helpers/sample-process.js';
import type { SoakHttpClient } from './soak-http-client.js';

/** One sample instance under soak. */
export interface SoakInstance {
  name: string;
  store: 'tiered' | 'redis';
  process: SampleProcess;
  client: SoakHttpClient;
  /** Peak heap used and RSS (bytes), and the heap limit, read by the memory probe. */
  memory: { heapUsed: number; rss: number; heapLimit: number; samples: number };
  /**
   * From the instance's log: store calls that failed (served uncached), evictions the store
   * refused twice (queued, made again once it answers), and evictions still queued at exit.
   */
  incidents: { storeFailures: number; evictionsQueued: number; evictionsLost: number };
}

/** A fault's window on the soak's clock (`performance.now()` ms). */
export interface FaultWindow {
  name: string;
  start: number;
  end: number;
  /** What was tolerated during it (or because of it), by reason. */
  tolerated: Map<string, number>;
  /** Facts measured during it (e.g. `probes 200: 120/120`). */
  notes: string[];
  /**
   * Measured after the fault ended: when each instance answered again through the part the
   * fault broke (by instance name, soak clock). Undefined for a fault without an aftermath;
   * `done` once every instance answered or the soak gave up waiting.
   */
  recovery?: { at: Map<string, number>; done: boolean };
}

/** The invariants, in the table's order. */
export const INVARIANTS = [
  'shopper-isolation',
  'no-stale-after-edit',
  'no-5xx',
  'kept-copy-200',
  'component-fallback',
  'heap-bound',
  'instances-alive',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

/** The back office's token (`ADMIN_TOKEN` of the instances), sent with every admin call. */
export const ADMIN_TOKEN = 'soak-admin-token';
export const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}` };
