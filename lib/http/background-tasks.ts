import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';

/**
 * Work the cache does off the request (variant compression, stale refreshes, late store
 * writes), tied to the app's lifecycle: on shutdown no new task starts, and the running ones are
 * awaited for at most `shutdownTimeout`, so `app.close()` completes within a bound whatever the
 * store's state.
 */
@Injectable()
export class BackgroundTasks implements OnModuleDestroy {
  private readonly logger = new Logger('OutputCache');
  private readonly running = new Map<Promise<unknown>, AbortController | undefined>();
  private closed = false;

  constructor(@Inject(RESOLVED_OPTIONS) private readonly options: ResolvedOutputCacheOptions) {}

  /** Whether the app is shutting down (then no new task starts). */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Starts `task` unless the app is shutting down; its failure is logged, never thrown. The
   * signal aborts when shutdown stops waiting for it (a task with I/O of its own ends it then).
   */
  run(name: string, task: (signal: AbortSignal) => Promise<unknown>): boolean {
    if (this.closed) return false;
    // Only a task that takes the signal pays for a controller (a store write does not).
    const controller = task.length > 0 ? new AbortController() : undefined;
    const promise: Promise<unknown> = Promise.resolve()
      .then(() => task(controller?.signal as AbortSignal))
      .catch((error: unknown) => {
        if (!controller?.signal.aborted) this.logger.warn(`${name} failed: ${String(error)}`);
      })
      .finally(() => this.running.delete(promise));
    this.running.set(promise, controller);
    return true;
  }

  /** How many tasks are running. */
  get size(): number {
    return this.running.size;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.shutdownTimeout * 1000);
      timer.unref();
    });
    const outcome = await Promise.race([Promise.allSettled([...this.running.keys()]), bound]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        `shutdown: ${this.running.size} background task(s) still running after ${this.options.shutdownTimeout} s; cancelled`,
      );
      for (const controller of this.running.values()) controller?.abort();
    }
  }
}
