import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { freePort, ScratchRedis } from './helpers/redis.js';
import { makeEntry } from './stores/store-contract.js';
import { until } from './helpers/wait.js';

describe('Redis killed in the middle of an eviction (e2e, a real redis-server)', () => {
  it('an eviction cut short by the crash still holds once Redis is back: nothing it overtook is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oc-crash-'));
    // An append-only file written on every command: what Redis acknowledged survives the kill.
    const server = new ScratchRedis(await freePort(), [
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
    ]);
    const prefix = 'crash:';
    let cutShort = false;
    try {
      await server.start();
      for (let attempt = 1; attempt <= 3 && !cutShort; attempt++) {
        const admin = new Redis(server.url);
        const store = new RedisOutputCacheStore({
          url: server.url,
          prefix,
          batchSize: 20,
          // Generous: appendfsync always on a loaded machine; this test is not about timeouts.
          redis: { commandTimeout: 10_000 },
        });
        const entries = Array.from({ length: 2000 }, () =>
          makeEntry({ tags: [`crash:${attempt}`] }),
        );
        const renderedAt = await store.clock();
        for (let i = 0; i < entries.length; i += 200) {
          await Promise.all(
            entries.slice(i, i + 200).map((e) => store.setIfCurrent({ ...e, renderedAt })),
          );
        }
        const evicting = store.evictTags([`crash:${attempt}`]).then(
          () => 'done',
          () => 'failed',
        );
        // Kill Redis as soon as the eviction is marked, while its deletions are under way.
        await until(
          async () => (await admin.hget(`${prefix}gen`, `t:crash:${attempt}`)) !== null,
          'the eviction to be marked',
        );
        admin.disconnect();
        await server.kill();
        await evicting;
        await store.close();
        await server.start();
        const after = new RedisOutputCacheStore({
          url: server.url,
          prefix,
          redis: { commandTimeout: 10_000 },
        });
        const check = new Redis(server.url);
        try {
          // Entries the eviction had not reached yet are still there, byte for byte...
          const left = (await check.keys(`${prefix}e:*`)).length;
          cutShort = left > 0;
          // ...and not one of them is ever read again.
          for (const entry of entries) expect(await after.get(entry.key)).toBeUndefined();
          // A render that began before the eviction is not stored either.
          expect(await after.setIfCurrent({ ...entries[0], renderedAt })).toBe(false);
        } finally {
          check.disconnect();
          await after.close();
        }
      }
      expect(cutShort).toBe(true); // the crash did cut an eviction short at least once
    } finally {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
