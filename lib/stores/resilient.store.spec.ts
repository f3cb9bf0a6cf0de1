import { spawn } from 'node:child_process';
import { CircuitOpenError } from '../errors/circuit-open.error.js';
import { StoreTimeoutError } from '../errors/store-timeout.error.js';
import type { CacheEntry } from './cache-entry.js';
import { MemoryOutputCacheStore } from './memory.store.js';
import { ResilientStore } from './resilient.store.js';

/** A real memory store that can be made to hang. */
class HangingStore extends MemoryOutputCacheStore {
  hang = false;
  override get(key: string): Promise<CacheEntry | undefined> {
    return this.hang ? new Promise(() => undefined) : super.get(key);
  }
  override count(): Promise<number> {
    return this.hang ? new Promise(() => undefined) : super.count();
  }
}

const options = {
  requestTimeoutMs: 20,
  operationTimeoutMs: 30,
  breaker: { failures: 2, openFor: 60 },
};

/** A real memory store whose reads wait for a round trip through another process (`cat`). */
class RoundTripStore extends MemoryOutputCacheStore {
  readonly echo = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
  override get(key: string): Promise<CacheEntry | undefined> {
    return new Promise((resolve) => {
      this.echo.stdout!.once('data', () => resolve(super.get(key)));
      this.echo.stdin!.write('x\n');
    });
  }
}

describe('ResilientStore', () => {
  it('does not time out a reply that arrived while the event loop was blocked', async () => {
    const store = new RoundTripStore();
    const counters = { storeErrors: 0, storeSkipped: 0 };
    const resilient = new ResilientStore(store, options, counters);
    try {
      await resilient.get('warm-up');
      for (let i = 0; i < 5; i++) {
        // Issued from the check phase, then the loop is blocked past the timeout (a long render):
        // `cat` answers at once, so the reply is waiting when the expired timer runs.
        const read = await new Promise<Promise<unknown>>((resolve) =>
          setImmediate(() => {
            const call = resilient.get('a');
            const until = Date.now() + options.requestTimeoutMs * 4;
            while (Date.now() < until);
            resolve(call);
          }),
        );
        await read;
      }
      expect(counters.storeErrors).toBe(0);
    } finally {
      store.echo.kill();
    }
  });

  it('turns a hung read into a miss after the request timeout, then opens the circuit', async () => {
    const store = new HangingStore();
    const counters = { storeErrors: 0, storeSkipped: 0 };
    const resilient = new ResilientStore(store, options, counters);
    store.hang = true;
    expect(await resilient.get('a')).toBeUndefined();
    expect(await resilient.get('a')).toBeUndefined();
    expect(counters.storeErrors).toBe(2);
    expect(await resilient.get('a')).toBeUndefined(); // refused at once: the circuit is open
    expect(counters.storeSkipped).toBe(1);
  });

  it('rejects operations with a clear error instead of absorbing them', async () => {
    const store = new HangingStore();
    const resilient = new ResilientStore(store, options, { storeErrors: 0, storeSkipped: 0 });
    store.hang = true;
    await expect(resilient.call('count', (s) => s.count())).rejects.toBeInstanceOf(
      StoreTimeoutError,
    );
    await expect(resilient.call('count', (s) => s.count())).rejects.toThrow(/timed out/);
    await expect(resilient.call('count', (s) => s.count())).rejects.toBeInstanceOf(
      CircuitOpenError,
    );
  });

  it('calls the memory store itself directly, with its synchronous read', async () => {
    const store = new MemoryOutputCacheStore();
    const resilient = new ResilientStore(store, options, { storeErrors: 0, storeSkipped: 0 });
    expect(resilient.syncIsComplete).toBe(true);
    expect(resilient.readSync?.('missing')).toBeUndefined();
    expect(
      new ResilientStore(new HangingStore(), options, { storeErrors: 0, storeSkipped: 0 })
        .syncIsComplete,
    ).toBe(false);
  });
});
