import assert from 'node:assert/strict';
import type {
  EvictionClockStore,
  OutputCacheStore,
  SoftEvictingStore,
} from '../stores/output-cache-store.interface.js';
import { canSoftEvict, hasEvictionClock } from '../stores/store-capabilities.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { makeTestEntry as makeEntry } from './test-entry.js';

let round = 0;

/**
 * Checks the eviction clock across two instances `a` and `b` of one shared store (or one store
 * twice): an entry whose render began before an eviction of something it carries (a tag, its
 * key, a prefix of its path, everything, and a soft eviction where the store has one), made on
 * the other instance, is refused and never read; one rendered after it is kept and shared;
 * every eviction advances the clock, and `clear()` never takes it back. `markOnly`, when the
 * store can, records an eviction without deleting anything (an eviction cut short): it must
 * still take effect.
 *
 * @example
 * ```ts
 * await checkEvictionClock(storeOfInstanceA, storeOfInstanceB);
 * ```
 */
export async function checkEvictionClock(
  a: EvictionClockStore,
  b: EvictionClockStore & Partial<SoftEvictingStore>,
  options: { markOnly?: (tags: string[]) => Promise<unknown> } = {},
): Promise<void> {
  const n = ++round;
  const key = (what: string) => `https://shop.example/clock/${n}/${what}`;
  const cases: [string, string, () => Promise<unknown>][] = [
    ['a tag', key('tag'), () => b.evictTags([`Thing:${n}`])],
    ['its key', key('key'), () => b.delete(key('key'))],
    ['a prefix of its path', key('prefix'), () => b.evictPrefix(`/things/${n}/`)],
    ['everything', key('all'), () => b.clear()],
  ];
  if (canSoftEvict(b)) {
    cases.push(['a tag, softly', key('soft'), () => b.markStale!({ tags: [`Thing:${n}`] })]);
  }
  for (const [what, k, evict] of cases) {
    const renderedAt = await a.clock();
    await evict(); // on the other instance, after the render began
    assert.ok((await a.clock()) > renderedAt, `the clock did not advance on ${what}`);
    const entry = makeEntry({ key: k, path: `/things/${n}/1`, tags: [`Thing:${n}`], renderedAt });
    assert.equal(await a.setIfCurrent(entry), false, `kept an entry overtaken by ${what}`);
    assert.equal(await a.get(k), undefined, `read an entry overtaken by ${what}`);
    assert.equal(await b.get(k), undefined, `the other instance read one overtaken by ${what}`);
    // Rendered after the eviction: kept, and shared.
    const later = { ...entry, renderedAt: await a.clock() };
    assert.equal(await a.setIfCurrent(later), true, `refused an entry rendered after ${what}`);
    assert.equal((await b.get(k))?.renderedAt, later.renderedAt, `not shared after ${what}`);
    const listed = await b.list({ skip: 0, take: 1000 });
    assert.equal(listed.find((s) => s.key === k)?.renderedAt, later.renderedAt);
  }
  // An eviction of something else overtakes nothing.
  const unrelatedAt = await a.clock();
  await b.evictTags([`Other:${n}`]);
  await b.evictPrefix(`/others/${n}/`);
  await b.delete(key('other'));
  const untouched = makeEntry({
    key: key('untouched'),
    path: `/things/${n}/2`,
    tags: [`Thing:${n}`],
    renderedAt: unrelatedAt,
  });
  assert.equal(await a.setIfCurrent(untouched), true, 'refused an entry nothing overtook');
  assert.equal((await b.get(untouched.key))?.renderedAt, unrelatedAt);

  if (options.markOnly) {
    const cut = makeEntry({
      key: key('cut'),
      path: `/cut/${n}`,
      tags: [`Cut:${n}`],
      renderedAt: await a.clock(),
    });
    assert.equal(await a.setIfCurrent(cut), true);
    await options.markOnly([`Cut:${n}`]); // and nothing else
    assert.equal(await a.get(cut.key), undefined, 'read an entry after an eviction cut short');
  }
  // clear() keeps the clock: it never goes back.
  const before = await a.clock();
  await a.clear();
  assert.ok((await b.clock()) > before, 'clear() took the clock back');
}

/** The eviction clock (`clock`, `setIfCurrent`), across the store and its peer when given. */
export function describeEvictionClockContract<S extends OutputCacheStore>(
  ctx: StoreSuiteContext<S>,
): void {
  ctx.itWhen(
    'evictionClock',
    'an entry rendered before an eviction of what it carries is refused, a later one kept',
    async () => {
      const a = ctx.store();
      const b = ctx.options.createPeer ? await ctx.peer() : a;
      if (!hasEvictionClock(a) || !hasEvictionClock(b)) {
        throw new Error(`${ctx.name} declares an eviction clock: no clock or setIfCurrent`);
      }
      const markOnly = ctx.options.markOnly;
      await checkEvictionClock(a, b, {
        markOnly: markOnly && ((tags) => markOnly(b as unknown as S, tags)),
      });
    },
  );
}
