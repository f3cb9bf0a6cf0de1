import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { from, mergeMap, type Observable } from 'rxjs';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import type { CacheEntry } from '../stores/cache-entry.js';
import { ResilientStore } from '../stores/resilient.store.js';
import { EntryReader } from './entry-reader.js';
import { HitWriter } from './hit-writer.js';
import type { Lookup } from './lookup.js';
import { HttpPlatform } from './platform/http-platform.js';
import { RenderCollapser } from './render-collapser.js';
import type { Finish, RenderOutcome } from './render-outcome.js';
import { ResponseRecorder } from './response-recorder.js';

/** Not-stored reasons that the same key will give again: remembered as hit-for-miss. */
export const HIT_FOR_MISS_REASONS: ReadonlySet<string> = new Set([
  'status',
  'set-cookie',
  'cache-control',
  'vary',
  'content-encoding',
  'stream',
  'too-large',
  'marked-uncacheable',
  'component-args',
]);

/**
 * The miss stage: one render per key. In this process the first miss leads and the others wait
 * for its outcome ({@link RenderOutcome}); across instances, with `distributedLock`, the store's
 * lock decides who renders and the others poll the store. A key that answered uncacheable a
 * moment ago renders side by side (hit-for-miss). When the leader's client goes away before its
 * page is complete, one waiter takes over the render: an abort never disables collapsing.
 */
@Injectable()
export class RenderCoordinator {
  private readonly collapser = new RenderCollapser();
  /** Keys that answered uncacheable a moment ago (hit-for-miss). */
  private readonly hitForMiss: LRUCache<string, true>;

  constructor(
    @Inject(RESOLVED_OPTIONS) protected readonly options: ResolvedOutputCacheOptions,
    protected readonly platform: HttpPlatform,
    protected readonly store: ResilientStore,
    protected readonly reader: EntryReader,
    protected readonly recorder: ResponseRecorder,
    protected readonly hits: HitWriter,
  ) {
    this.hitForMiss = new LRUCache<string, true>({
      max: 10_000,
      ttl: Math.max(1, options.hitForMiss * 1000),
    });
  }

  /** Whether `key` is being rendered in this process. */
  isRendering(key: string): boolean {
    return this.collapser.has(key);
  }

  /** A miss, or an entry kept only for errors (`fallback`): render once, or wait. */
  miss(lookup: Lookup, fallback?: CacheEntry): Observable<unknown> {
    const { key } = lookup;
    // A background refresh renders and stores, unless a render of the key is under way.
    if (lookup.refresh) return this.recorder.render(lookup, this.lead(key), undefined);
    const head = this.platform.method(lookup.req) === 'HEAD';
    if (this.hitForMiss.get(key) !== undefined) {
      // Render side by side, queue behind nobody; a render that turns out storable is stored.
      const finish: Finish | undefined = head
        ? undefined
        : (outcome) => this.remember(key, outcome);
      return this.recorder.render(lookup, finish, fallback);
    }
    if (this.collapser.has(key)) return this.wait(lookup, fallback);
    if (head) {
      // HEAD is answered from the GET entry but never creates one (reported after render()
      // set its X-Cache-Reason, which this replaces).
      const rendered = this.recorder.render(lookup, undefined, fallback);
      this.recorder.notStored('head', lookup);
      return rendered;
    }
    const finish = this.lead(key)!;
    // A URL whose vary-by names are not known yet: the instance holding the lock may store
    // under a key this one never polls. Render here.
    const learning = lookup.policy.varyAuto === true && lookup.varyRecord === undefined;
    if (this.options.distributedLock && this.store.canLock && !learning) {
      return from(this.lockOrWait(key)).pipe(
        mergeMap(({ entry, release }) => {
          if (entry) {
            finish({ entry });
            return this.hits.write(lookup, entry, 'collapsed');
          }
          const done: Finish = (outcome) => {
            finish(outcome);
            void release?.();
          };
          return this.recorder.render(lookup, done, fallback);
        }),
      );
    }
    return this.recorder.render(lookup, finish, fallback);
  }

  private wait(lookup: Lookup, fallback: CacheEntry | undefined): Observable<unknown> {
    const { key } = lookup;
    return from(this.collapser.wait(key, this.options.collapseTimeout * 1000)).pipe(
      mergeMap((outcome) => {
        if (typeof outcome === 'object' && 'entry' in outcome) {
          // Stored under another key: its render read vary-by values this request's key lacks
          // (a `varyBy: 'auto'` route learning them). Not this request's page: render it.
          if (outcome.entry.key !== lookup.key) {
            return this.recorder.render(lookup, undefined, fallback);
          }
          return this.hits.write(lookup, outcome.entry, 'collapsed');
        }
        // The leader's client went away: lead a new render, or wait for whoever does.
        if (typeof outcome === 'object' && 'handover' in outcome)
          return this.miss(lookup, fallback);
        // Nothing storable came of it: render ourselves. After a timeout (or if the flight is
        // gone), store only if nobody else is rendering the key by now.
        const finish = typeof outcome === 'object' ? undefined : this.lead(key);
        return this.recorder.render(lookup, finish, fallback);
      }),
    );
  }

  /** Leads the render of `key` in this process, or undefined when a render is under way. */
  private lead(key: string): Finish | undefined {
    const resolve = this.collapser.lead(key);
    if (!resolve) return undefined;
    return (outcome) => {
      this.remember(key, outcome);
      resolve(outcome);
    };
  }

  /** Answers that will be the same next time are remembered (hit-for-miss). */
  private remember(key: string, outcome: RenderOutcome): void {
    if (!('notStored' in outcome) || this.options.hitForMiss <= 0) return;
    if (HIT_FOR_MISS_REASONS.has(outcome.notStored)) this.hitForMiss.set(key, true);
  }

  /**
   * Across instances: take the key's render lock, or wait for the instance that holds it to
   * store the entry (polling), giving up after `lockTimeout` to render here.
   */
  private async lockOrWait(
    key: string,
  ): Promise<{ entry?: CacheEntry; release?: () => Promise<void> }> {
    const timeoutMs = this.options.lockTimeout * 1000;
    const release = await this.store.lock(key, timeoutMs);
    if (release === 'failed') return {};
    if (release) return { release };
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const found = await this.reader.read(key);
      if (found) return { entry: found };
    }
    return {};
  }
}
