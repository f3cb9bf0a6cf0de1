import 'reflect-metadata';
import { Controller, Get, Query } from '@nestjs/common';
import {
  Cacheable,
  MemoryOutputCacheStore,
  OutputCacheModule,
  OutputCacheProvider,
  OUTPUT_CACHE_STORE,
} from '../lib/index.js';
import { statsSince } from './helpers/stats-delta.js';
import { createTestApp } from './helpers/test-app.js';
import { until } from './helpers/wait.js';

@Controller()
class CatalogController {
  @Cacheable({ ttl: 600 })
  @Get('search')
  search(@Query('q') q = '') {
    return `<html><body><h1>Results for ${q}</h1><p>${'result '.repeat(300)}</p></body></html>`;
  }
}

const MAX_BYTES = 8 * 1024 * 1024;

/** Heap and buffers after full collections (buffers are freed by finalizers a cycle later). */
async function memory(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe('bounded memory (e2e)', () => {
  it('100,000 distinct URLs keep the process within maxBytes + 25%', async () => {
    if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
      throw new Error('run with NODE_OPTIONS=--expose-gc (npm test sets it) to measure the heap');
    }
    const t = await createTestApp({
      imports: [
        // Identity bodies only: the bound is what is measured, not compression time.
        OutputCacheModule.forRoot({
          maxBytes: MAX_BYTES,
          maxEntries: 1_000_000,
          precompress: false,
        }),
      ],
      controllers: [CatalogController],
    });
    try {
      const server = t.app.getHttpServer();
      // Client and server share this process's event loop: on a loaded machine a stall longer
      // than the server's 5 s keep-alive lets it close a socket the client is reusing at that
      // moment (ECONNRESET, the keep-alive race); a long keep-alive takes the race away.
      server.keepAliveTimeout = 600_000;
      const { port } = server.address() as { port: number };
      const base = `http://127.0.0.1:${port}`;
      const get = (q: string) => fetch(`${base}/search?q=${q}`).then((r) => r.text());
      for (let i = 0; i < 200; i++) await get(`warm${i}`); // warm the code paths
      const before = await memory();
      const since = statsSince(t.app.get(OutputCacheProvider));
      const total = 100_000;
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < total) {
            const q = `${(next++).toString(36)}-${Math.random().toString(36).slice(2)}`;
            await get(q);
          }
        }),
      );
      // Every page was stored (a write lands after its response): the bound did the work.
      await until(() => since().stored === total, 'the last stores to land', 60_000);
      const grown = (await memory()) - before;
      const store = t.app.get<MemoryOutputCacheStore>(OUTPUT_CACHE_STORE);
      const entries = await store.count();
      console.log(
        `100,000 URLs: ${entries} entries kept, store ${(store.calculatedSize / 1048576).toFixed(1)} MiB, ` +
          `heap + buffers grew ${(grown / 1048576).toFixed(1)} MiB (bound ${((MAX_BYTES * 1.25) / 1048576).toFixed(1)} MiB)`,
      );
      expect(store.calculatedSize).toBeLessThanOrEqual(MAX_BYTES);
      // Bounds that an empty store meets too would prove nothing: the store is full.
      expect(store.calculatedSize).toBeGreaterThanOrEqual(MAX_BYTES * 0.9);
      expect(entries).toBeGreaterThan(0);
      expect(entries).toBeLessThan(total);
      expect(grown).toBeLessThanOrEqual(MAX_BYTES * 1.25);
    } finally {
      await t.close();
    }
  }, 1_500_000); // 100,000 requests: 1.5 min alone, over 10 min on a 2-core machine loaded beside it
});
