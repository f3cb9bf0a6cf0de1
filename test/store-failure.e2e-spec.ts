import 'reflect-metadata';
import {
  MemoryOutputCacheStore,
  OutputCacheModule,
  OutputCacheProvider,
  type CacheEntry,
} from '../lib/index.js';
import { handlerRuns, PagesController, runs } from './fixtures/pages.controller.js';
import { createTestApp } from './helpers/test-app.js';

/** A store whose reads and writes fail or hang on demand, as a network store does in an outage. */
class UnreliableStore extends MemoryOutputCacheStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  private act<T>(real: () => Promise<T>): Promise<T> {
    if (this.mode === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return real();
  }
  override get(key: string) {
    return this.act(() => super.get(key));
  }
  override set(entry: CacheEntry) {
    return this.act(() => super.set(entry));
  }
}

describe('store failures (e2e)', () => {
  it('serves uncached with 200 while the store fails or hangs, and hits again after', async () => {
    const store = new UnreliableStore();
    const t = await createTestApp({
      imports: [OutputCacheModule.forRoot({ store, storeTimeout: 0.1 })],
      controllers: [PagesController],
    });
    try {
      handlerRuns.clear();
      store.mode = 'fail';
      for (let i = 0; i < 3; i++) {
        const res = await t.http().get('/page').expect(200);
        expect(res.text).toBe(`<p>page ${i + 1} </p>`);
      }
      store.mode = 'hang';
      const started = Date.now();
      const res = await t.http().get('/page').expect(200);
      expect(res.text).toBe('<p>page 4 </p>');
      expect(Date.now() - started).toBeLessThan(1000);
      // Let the hung write time out, so its render no longer holds the key.
      await new Promise((r) => setTimeout(r, 150));
      store.mode = 'ok';
      await t.http().get('/page').expect(200);
      expect((await t.http().get('/page')).headers['x-cache']).toBe('HIT');
      expect(runs('page')).toBe(5);
      expect(t.app.get(OutputCacheProvider).stats().storeErrors).toBeGreaterThanOrEqual(6);
    } finally {
      await t.close();
    }
  });
});
