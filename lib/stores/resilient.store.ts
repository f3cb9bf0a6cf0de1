import { Logger } from '@nestjs/common';
import type { CacheEntry } from './cache-entry.js';
import { StoreTimeoutError } from '../errors/store-timeout.error.js';
import { CircuitOpenError } from '../errors/circuit-open.error.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { MemoryOutputCacheStore } from './memory.store.js';
import type { OutputCacheStore } from './output-cache-store.interface.js';
import { canLock, canReadSync, hasEvictionClock, keepsLocalCopies } from './store-capabilities.js';

/** Options of {@link ResilientStore}, in milliseconds. */
export interface ResilienceOptions {
  /** Bound of a call made for a request (`storeTimeout`). */
  requestTimeoutMs: number;
  /** Bound of an operation call (eviction, listing: `operationTimeout`). */
  operationTimeoutMs: number;
  /** When to stop calling a failing store for a while. */
  breaker?: CircuitBreakerOptions;
}

/** Counts what the wrapper absorbed (the stats). */
export interface ResilienceCounters {
  storeErrors: number;
  storeSkipped: number;
}

/**
 * Any store, as the cache calls it: every call bounded by a timeout and guarded by a circuit
 * breaker, so a slow or dead store costs a request at most `storeTimeout` and then nothing while
 * the circuit is open. Request-path methods absorb failures (a failed read is a miss, a failed
 * write is skipped; both logged and counted); {@link call} rejects, for operations whose caller
 * must know (evictions).
 *
 * The memory store is called directly on the request path: it cannot be slow, and a hit then
 * costs no timer and no promise.
 */
export class ResilientStore {
  readonly breaker: CircuitBreaker;
  /** A synchronous first look, when the store has one (memory, a tiered store's L1). */
  readonly readSync: ((key: string) => CacheEntry | undefined) | undefined;
  private readonly direct: boolean;
  /** Whether the last failure has not been followed by an answer yet. */
  private failing = false;
  private readonly recoveredListeners: (() => void)[] = [];
  private readonly logger = new Logger('OutputCache');

  constructor(
    readonly store: OutputCacheStore,
    private readonly options: ResilienceOptions,
    private readonly counters: ResilienceCounters,
  ) {
    this.breaker = new CircuitBreaker(options.breaker);
    // Only the class itself: a subclass may make get() slow.
    this.direct = store.constructor === MemoryOutputCacheStore;
    this.readSync = canReadSync(store) ? (key) => store.getSync(key) : undefined;
  }

  /** Whether `readSync` sees everything the store holds (then an async read adds nothing). */
  get syncIsComplete(): boolean {
    return this.direct;
  }

  /**
   * A read for a request: the entry, or undefined when missing or when the store failed. When it
   * failed (or its breaker is open) and the store keeps a local copy (a tiered store's L1), that
   * copy is returned demoted to "kept": the page is rendered, and the copy is served only if the
   * render fails too (stale-if-error), since it may have missed an eviction meanwhile.
   */
  async get(key: string): Promise<CacheEntry | undefined> {
    try {
      return await this.request('get', () => this.store.get(key));
    } catch (error) {
      this.failed('get', error);
      return this.keptCopy(key);
    }
  }

  private keptCopy(key: string): CacheEntry | undefined {
    const store = this.store;
    const copy = keepsLocalCopies(store) ? store.getLocalCopy(key) : undefined;
    if (!copy || (copy.retainUntil ?? copy.expiresAt) <= Date.now()) return undefined;
    return {
      ...copy,
      expiresAt: 0,
      graceUntil: 0,
      retainUntil: copy.retainUntil ?? copy.expiresAt,
    };
  }

  /** A write for a request: resolves whether it was stored (a failure is logged, counted). */
  async set(entry: CacheEntry): Promise<boolean> {
    try {
      await this.request('set', () => this.store.set(entry));
      return true;
    } catch (error) {
      this.failed('set', error);
      return false;
    }
  }

  /** Whether the store keeps an eviction clock shared by instances. */
  get hasClock(): boolean {
    return hasEvictionClock(this.store);
  }

  /** The store's eviction clock for a render about to start, or undefined when it failed. */
  async clock(): Promise<number | undefined> {
    const store = this.store;
    if (!hasEvictionClock(store)) return undefined;
    try {
      return await this.request('clock', () => store.clock());
    } catch (error) {
      this.failed('clock', error);
      return undefined;
    }
  }

  /**
   * A write that the store keeps only if nothing the entry carries was evicted since its render
   * began (stores with an eviction clock; others simply store it): `stored`, `overtaken` (the
   * store refused it), or `failed` (logged, counted).
   */
  async setIfCurrent(entry: CacheEntry): Promise<'stored' | 'overtaken' | 'failed'> {
    const store = this.store;
    if (!hasEvictionClock(store) || entry.renderedAt === undefined) {
      return (await this.set(entry)) ? 'stored' : 'failed';
    }
    try {
      const kept = await this.request('set', () => store.setIfCurrent(entry));
      return kept ? 'stored' : 'overtaken';
    } catch (error) {
      this.failed('set', error);
      return 'failed';
    }
  }

  /** Removes one entry for a request (a failure is logged, counted). */
  async delete(key: string): Promise<boolean> {
    try {
      return await this.request('delete', () => this.store.delete(key));
    } catch (error) {
      this.failed('delete', error);
      return false;
    }
  }

  /** Whether the store offers a render lock shared by instances. */
  get canLock(): boolean {
    return canLock(this.store);
  }

  /** Takes a render lock: a release function, undefined when held elsewhere, or 'failed'. */
  async lock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined | 'failed'> {
    const store = this.store;
    if (!canLock(store)) return 'failed';
    try {
      return await this.request('lock', () => store.acquireLock(key, ttlMs));
    } catch (error) {
      this.failed('lock', error);
      return 'failed';
    }
  }

  /**
   * An operation on the store, bounded by `operationTimeout` and guarded by the breaker: rejects
   * with the store's error, a {@link StoreTimeoutError} or a {@link CircuitOpenError}.
   */
  call<T>(operation: string, fn: (store: OutputCacheStore) => Promise<T>): Promise<T> {
    return this.breaker.run(() =>
      withTimeout(fn(this.store), operation, this.options.operationTimeoutMs),
    );
  }

  /**
   * Calls `listener` each time the store answers again after it failed (the first call that
   * succeeds after a failure): what waits for the store (replayed evictions) goes on at once.
   */
  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  private request<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.direct) return fn();
    const answered = this.breaker.run(() =>
      withTimeout(fn(), operation, this.options.requestTimeoutMs),
    );
    return this.failing ? answered.then((value) => this.recovered(value)) : answered;
  }

  private recovered<T>(value: T): T {
    if (this.failing) {
      this.failing = false;
      for (const listener of this.recoveredListeners) listener();
    }
    return value;
  }

  private failed(operation: string, error: unknown): void {
    this.failing = true;
    if (error instanceof CircuitOpenError) {
      this.counters.storeSkipped++; // the store was not even asked
      return;
    }
    this.counters.storeErrors++;
    this.logger.warn(`store ${operation} failed, serving uncached: ${String(error)}`);
  }
}

/** Bounds a call; a late rejection of the abandoned call is swallowed. */
function withTimeout<T>(call: Promise<T>, operation: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // The timeout rejects only after the event loop's next poll for I/O: a loop blocked past
    // `ms` (a long render on a busy CPU) runs expired timers before it reads the sockets, so a
    // store reply already waiting there would lose to the timer and count as a failure (the soak
    // saw breakers open with Redis answering in under 1 ms).
    timer = setTimeout(() => setImmediate(() => reject(new StoreTimeoutError(operation, ms))), ms);
    timer.unref();
  });
  call.catch(() => undefined);
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
