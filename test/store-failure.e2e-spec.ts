import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { handlerRuns, PagesController, runs } from './fixtures/pages.controller.js';
import { FaultyStore } from './helpers/faulty-store.js';
import { createTestApp } from './helpers/test-app.js';

describe('store failures (e2e)', () => {
  it('serves uncached with 200 while the store fails or hangs, and hits again after', async () => {
    const store = new FaultyStore();
    const t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          store,
          storeTimeout: 0.1,
          circuitBreaker: { failures: 3, openFor: 0.3 },
        }),
      ],
      controllers: [PagesController],
    });
    try {
      handlerRuns.clear();
      // A hanging store costs at most storeTimeout, for the read and for the write.
      store.mode = 'hang';
      const started = Date.now();
      const hung = await t.http().get('/page').expect(200);
      expect(hung.text).toBe('<p>page 1 </p>');
      expect(Date.now() - started).toBeLessThan(1000);
      // Let the hung write time out, so its render no longer holds the key.
      await new Promise((r) => setTimeout(r, 150));
      store.mode = 'fail';
      for (let i = 2; i <= 4; i++) {
        const res = await t.http().get('/page').expect(200);
        expect(res.text).toBe(`<p>page ${i} </p>`);
      }
      const stats = t.app.get(OutputCacheProvider).stats();
      // Three failures opened the circuit: later calls did not even reach the store.
      expect(stats.storeErrors).toBe(3);
      expect(stats.storeSkipped).toBeGreaterThanOrEqual(2);
      store.mode = 'ok';
      // Once open for its time, one probe passes, succeeds, and the cache works again.
      await new Promise((r) => setTimeout(r, 350));
      await t.http().get('/page').expect(200);
      expect((await t.http().get('/page')).headers['x-cache']).toBe('HIT');
      expect(runs('page')).toBe(5);
    } finally {
      await t.close();
    }
  });
});
