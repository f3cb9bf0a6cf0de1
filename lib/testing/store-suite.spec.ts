import type { CacheEntry } from '../stores/cache-entry.js';
import { MemoryOutputCacheStore } from '../stores/memory.store.js';
import type { RemoteEviction, StaleSelector } from '../stores/output-cache-store.interface.js';
import { describeOutputCacheStore } from './store-suite.js';
import type { OutputCacheStoreSuiteOptions } from './store-suite-options.js';
import type { TestBody, TestRunner } from './test-runner.js';

/**
 * A runner of our own (as node:test or vitest would be): it collects the suite's tests and hooks,
 * then runs those whose title matches, and says which failed. Proves both that the suite runs
 * without jest's globals and that a store breaking a rule fails it.
 */
async function runSuite<S extends MemoryOutputCacheStore>(
  options: OutputCacheStoreSuiteOptions<S>,
  only: RegExp,
): Promise<{ ran: string[]; failed: string[] }> {
  const tests: { title: string; body: TestBody }[] = [];
  const beforeEach: TestBody[] = [];
  const afterAll: TestBody[] = [];
  const runner: TestRunner = {
    describe: (_name, body) => body(),
    it: (title, body) => tests.push({ title, body }),
    beforeEach: (body) => beforeEach.push(body),
    afterAll: (body) => afterAll.push(body),
  };
  describeOutputCacheStore('under test', { ...options, runner });
  const ran: string[] = [];
  const failed: string[] = [];
  for (const test of tests.filter((t) => only.test(t.title))) {
    ran.push(test.title);
    try {
      for (const hook of beforeEach) await hook();
      await test.body();
    } catch {
      failed.push(test.title);
    }
  }
  for (const hook of afterAll) await hook();
  return { ran, failed };
}

/** Memory stores that share one lock table, clock and bus: two "instances" in one process. */
function sharedWorld() {
  const locks = new Map<string, number>();
  const listeners: { from: object; listener: (e: RemoteEviction) => void }[] = [];
  let clock = 0;
  class SharedStore extends MemoryOutputCacheStore {
    async acquireLock(key: string, ttlMs: number) {
      const until = locks.get(key);
      if (until !== undefined && until > Date.now()) return undefined;
      const mine = Date.now() + ttlMs;
      locks.set(key, mine);
      return async () => {
        if (locks.get(key) === mine) locks.delete(key);
      };
    }
    onRemoteEviction(listener: (e: RemoteEviction) => void) {
      listeners.push({ from: this, listener });
    }
    protected publish(eviction: RemoteEviction) {
      clock++;
      for (const l of listeners) if (l.from !== this) l.listener(eviction);
    }
    override async evictTags(tags: readonly string[]) {
      this.publish({ kind: 'tags', tags: [...tags] });
      return super.evictTags(tags);
    }
    override async clear() {
      this.publish({ kind: 'all' });
      return super.clear();
    }
  }
  return { SharedStore, locks, clock: () => clock };
}

describe('describeOutputCacheStore', () => {
  it('runs under a runner passed in, and a sound store passes every test', async () => {
    const { ran, failed } = await runSuite(
      {
        create: () => new MemoryOutputCacheStore(),
        capabilities: ['syncRead', 'softEviction'],
        largeBodyBytes: 1024,
      },
      /^(?!.*(expires|grace|retention))/,
    );
    expect(ran.length).toBeGreaterThanOrEqual(14);
    expect(ran).toContain('has exactly the capabilities it declares');
    expect(ran).toContain('sync reads: never answers an entry that was evicted or deleted');
    expect(failed).toEqual([]);
  });

  it('fails a store that has a capability it does not declare, or declares one it lacks', async () => {
    const undeclared = await runSuite(
      { create: () => new MemoryOutputCacheStore(), capabilities: ['syncRead'] },
      /capabilities/,
    );
    expect(undeclared.failed).toEqual(['has exactly the capabilities it declares']);
    const missing = await runSuite(
      {
        create: () => new MemoryOutputCacheStore(),
        capabilities: ['syncRead', 'softEviction', 'lock'],
      },
      /capabilities|render lock/,
    );
    expect(missing.failed).toContain('has exactly the capabilities it declares');
    expect(missing.failed).toContain('render lock: is exclusive, per key, until released');
  });

  it('fails a core rule broken: an eviction that leaves the entry readable', async () => {
    class Forgetful extends MemoryOutputCacheStore {
      override async evictPrefix(): Promise<number> {
        return 0;
      }
    }
    const { failed } = await runSuite(
      { create: () => new Forgetful(), capabilities: ['syncRead', 'softEviction'] },
      /prefix/,
    );
    expect(failed).toEqual([
      'evicts by path prefix, matched as plain text',
      'matches tags and prefixes case-sensitively, and wildcards of SQL or globs literally',
    ]);
  });

  it('fails soft eviction that keeps an entry without grace', async () => {
    class KeepsGraceless extends MemoryOutputCacheStore {
      override async markStale(_selector: StaleSelector): Promise<number> {
        return 1;
      }
    }
    const { failed } = await runSuite(
      { create: () => new KeepsGraceless(), capabilities: ['syncRead', 'softEviction'] },
      /without grace/,
    );
    expect(failed).toEqual(['soft eviction: an entry without grace is deleted, by any selector']);
  });

  it('fails sync reads that answer an evicted entry', async () => {
    class Stale extends MemoryOutputCacheStore {
      private readonly shadow = new Map<string, CacheEntry>();
      override async set(entry: CacheEntry) {
        this.shadow.set(entry.key, entry);
        return super.set(entry);
      }
      override getSync(key: string) {
        return super.getSync(key) ?? this.shadow.get(key);
      }
    }
    const { failed } = await runSuite(
      { create: () => new Stale(), capabilities: ['syncRead', 'softEviction'] },
      /sync reads: never answers an entry that was/,
    );
    expect(failed).toEqual(['sync reads: never answers an entry that was evicted or deleted']);
  });

  it('fails a lock that is not exclusive across instances', async () => {
    const { SharedStore } = sharedWorld();
    class Lax extends SharedStore {
      override async acquireLock() {
        return async () => undefined;
      }
    }
    const { failed } = await runSuite(
      {
        create: () => new Lax(),
        createPeer: () => new Lax(),
        capabilities: ['syncRead', 'lock', 'softEviction', 'evictionBus'],
      },
      /render lock: is exclusive/,
    );
    expect(failed).toEqual(['render lock: is exclusive, per key, until released']);
  });

  it('fails an eviction bus that reports an eviction as another kind', async () => {
    const { SharedStore } = sharedWorld();
    class Vague extends SharedStore {
      override async evictPrefix(prefix: string) {
        this.publish({ kind: 'all' }); // the wrong kind: the peer would drop too much, or too little
        return super.evictPrefix(prefix);
      }
      override async delete(key: string) {
        this.publish({ kind: 'key', key });
        return super.delete(key);
      }
    }
    const { failed } = await runSuite(
      {
        create: () => new Vague(),
        createPeer: () => new Vague(),
        capabilities: ['syncRead', 'lock', 'softEviction', 'evictionBus'],
      },
      /eviction bus/,
    );
    expect(failed).toEqual([
      'eviction bus: another instance hears every eviction, as made, and not its own',
    ]);
  });

  it('fails an eviction clock whose setIfCurrent keeps an overtaken entry', async () => {
    const { SharedStore, clock } = sharedWorld();
    class Careless extends SharedStore {
      async clock() {
        return clock();
      }
      async setIfCurrent(entry: CacheEntry) {
        await this.set(entry);
        return true;
      }
    }
    const { failed } = await runSuite(
      {
        create: () => new Careless(),
        capabilities: ['syncRead', 'lock', 'softEviction', 'evictionBus', 'evictionClock'],
      },
      /eviction clock/,
    );
    expect(failed).toEqual([
      'eviction clock: an entry rendered before an eviction of what it carries is refused, a later one kept',
    ]);
  });

  it('says how to pass a runner when none is at hand', () => {
    const globals = globalThis as Record<string, unknown>;
    const saved = globals.afterAll;
    delete globals.afterAll;
    try {
      expect(() =>
        describeOutputCacheStore('x', { create: () => new MemoryOutputCacheStore() }),
      ).toThrow(/pass `runner: \{ describe, it, beforeEach, afterAll \}`/);
    } finally {
      globals.afterAll = saved;
    }
  });
});
