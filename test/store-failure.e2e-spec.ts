import 'reflect-metadata';
import { OutputCacheModule, OutputCacheProvider } from '../lib/index.js';
import { handlerRuns, PagesController, runs } from './fixtures/pages.controller.js';
import { FaultyStore } from './helpers/faulty-store.js';
import { createTestApp } from './helpers/test-app.js';
import { TestClock } from './helpers/test-clock.js';
import { until } from './helpers/wait.js';

describe('store failures (e2e)', () => {
  const clock = new TestClock();
  afterEach(() => clock.restore());

  it('serves uncached with 200 while the store fails or hangs, and hits again after', async () => {
    const store = new FaultyStore();
    const t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          store,
          storeTimeout: 0.1,
          // Open far longer than any test runs: only the clock closes it, never a slow machine.
          circuitBreaker: { failures: 3, openFor: 60 },
        }),
      ],
      controllers: [PagesController],
    });
    try {
      handlerRuns.clear();
      clock.install();
      const stats = () => t.app.get(OutputCacheProvider).stats();
      // A hanging store never answers: the page is served only because storeTimeout gave up on
      // the read (a duration would say nothing more, and break on a busy machine).
      store.mode = 'hang';
      const hung = await t.http().get('/page').expect(200);
      expect(hung.text).toBe('<p>page 1 </p>');
      expect(stats().storeErrors).toBeGreaterThanOrEqual(1); // the read timed out
      // Wait for the hung write to time out too, so its render no longer holds the key.
      await until(() => stats().storeErrors === 2, 'the hung write to time out');
      store.mode = 'fail';
      for (let i = 2; i <= 4; i++) {
        const res = await t.http().get('/page').expect(200);
        expect(res.text).toBe(`<p>page ${i} </p>`);
      }
      // Three failures opened the circuit: later calls did not even reach the store.
      expect(stats().storeErrors).toBe(3);
      expect(stats().storeSkipped).toBeGreaterThanOrEqual(2);
      store.mode = 'ok';
      // Still open: calls are skipped, not made.
      const skipped = stats().storeSkipped;
      await t.http().get('/page').expect(200);
      expect(stats().storeSkipped).toBeGreaterThan(skipped);
      expect(stats().storeErrors).toBe(3);
      // Once open for its time (the clock moves past the 60 s), one probe passes, succeeds, and
      // the cache works again.
      clock.advance(61_000);
      await t.http().get('/page').expect(200);
      expect((await t.http().get('/page')).headers['x-cache']).toBe('HIT');
      expect(runs('page')).toBe(6);
    } finally {
      await t.close();
    }
  });
});
