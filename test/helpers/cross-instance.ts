import { OutputCacheModule, OutputCacheProvider, type OutputCacheStore } from '../../lib/index.js';
import { edge, EdgeController } from '../fixtures/edge.controller.js';
import { createTestApp, type TestApp } from './test-app.js';
import { until } from './wait.js';

/** Evictions another instance makes, each with how the test names it. */
const EVICTIONS: [string, (cache: OutputCacheProvider) => Promise<unknown>][] = [
  ['a tag', (cache) => cache.invalidateByTag('Thing:11')],
  ['the route', (cache) => cache.invalidateByRoute('Edge/thing')],
  ['a path prefix', (cache) => cache.invalidateByPrefix('/edge')],
  ['everything', (cache) => cache.invalidateAll()],
  // A store without soft eviction evicts hard: the guarantee is the same.
  ['a tag, softly', (cache) => cache.invalidateByTag('Thing:11', { soft: true })],
];

/**
 * Three instances of an app sharing one store and nothing else (no bus): B evicts while A
 * renders `/edge/thing` (held by `edge.gate`); after the eviction call returned, A must not store
 * what it rendered, and no instance (C included) may serve it. The shared suite of every shared
 * store.
 */
export function describeEvictionAcrossInstances(
  title: string,
  makeStore: () => OutputCacheStore,
  hooks: { beforeAll?: () => Promise<void>; afterAll?: () => Promise<void> } = {},
): void {
  describe(title, () => {
    let a: TestApp;
    let b: TestApp;
    let c: TestApp;
    const get = (t: TestApp, path: string) => t.http().get(path).set('Host', 'shop.example');
    const stats = (t: TestApp) => t.app.get(OutputCacheProvider).stats();
    const refused = (t: TestApp) => stats(t).notStored['evicted-during-render'] ?? 0;
    const instance = () =>
      createTestApp({
        imports: [OutputCacheModule.forRoot({ store: makeStore(), storeTimeout: 2 })],
        controllers: [EdgeController],
      });

    beforeAll(async () => {
      await hooks.beforeAll?.();
      a = await instance();
      b = await instance();
      c = await instance();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await c?.close();
      await hooks.afterAll?.();
    });
    beforeEach(async () => {
      edge.renders = 0;
      edge.gate = Promise.resolve();
      await a.app.get(OutputCacheProvider).invalidateAll();
    });

    it.each(EVICTIONS)(
      'a render under way on A is not stored once B evicted %s',
      async (_what, evict) => {
        const refusedBefore = refused(a);
        const storedBefore = stats(a).stored;
        let open!: () => void;
        edge.gate = new Promise<void>((resolve) => (open = resolve));
        const rendering = get(a, '/edge/thing').then((res) => res);
        await until(() => edge.renders === 1, 'A to start rendering');
        // The row changes and B evicts; the eviction call has returned.
        await evict(b.app.get(OutputCacheProvider));
        open();
        const old = await rendering;
        expect(old.text).toBe('<p>thing 1</p>'); // A's own client gets what A rendered
        // A's store write runs after its response: wait until it was refused, or landed.
        await until(
          () => refused(a) > refusedBefore || stats(a).stored > storedBefore,
          'A to settle its store write',
        );
        expect(refused(a)).toBe(refusedBefore + 1);
        expect(stats(a).stored).toBe(storedBefore);
        // From now on no instance serves what the eviction overtook.
        for (const t of [a, b, c, a]) {
          const res = await get(t, '/edge/thing');
          expect(res.status).toBe(200);
          expect(res.text).not.toBe('<p>thing 1</p>');
        }
      },
    );

    it('a render that began after the eviction is stored and shared', async () => {
      await b.app.get(OutputCacheProvider).invalidateByTag('Thing:11');
      const stored = stats(a).stored;
      await get(a, '/edge/thing');
      await until(() => stats(a).stored > stored, "A's write");
      for (const t of [b, c]) {
        const hit = await get(t, '/edge/thing');
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.text).toBe('<p>thing 1</p>');
      }
    });
  });
}
