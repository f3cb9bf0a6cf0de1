import { Redis } from 'ioredis';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { drainMicrotasks } from '../helpers/wait.js';
import { RedisOutputCacheStore } from '../../lib/redis.js';
import { connectRedis, deletePrefix, freePort, REDIS_URL, ScratchRedis } from '../helpers/redis.js';
import {
  connectionsNamed,
  countQuits,
  uniqueConnectionName,
  UNREACHABLE_REDIS_URL,
  waitFor,
  watchReconnects,
  callEveryMethod,
  redisContractLifecycle,
} from './redis-connections.js';
import { describeOutputCacheStore, makeTestEntry as makeEntry } from '../../lib/testing.js';
import { keyHash } from '../../lib/stores/key-hash.js';

const prefix = `oc-test:${process.pid}:`;

const contractPrefix = `${prefix}contract:`;
/** A store on the contract's keys; the second one made is the peer (another instance). */
const contractStore = () =>
  new RedisOutputCacheStore({
    url: REDIS_URL,
    prefix: contractPrefix,
    cleanupInterval: 0,
    // Behaviour, not fail-fast timing (the outage test covers that): generous on a loaded machine.
    redis: { commandTimeout: 5000 },
    // The contract checks exact eviction counts: deletions inline.
    sweep: 'inline',
  });

const contract = redisContractLifecycle(contractPrefix, contractStore);

describeOutputCacheStore<RedisOutputCacheStore>('redis', {
  create: contract.create,
  createPeer: contract.createPeer,
  destroy: contract.destroy,

  capabilities: ['lock', 'softEviction', 'evictionClock'],
  writeRaw: async (_store, key, bytes) => {
    await contract.admin().set(`${contractPrefix}e:${keyHash(key)}`, bytes, 'PX', 60_000);
  },
  markOnly: (store, tags) => store.evictionClock.mark({ tags }),
});

describe('redis store', () => {
  let admin: Redis;
  beforeAll(async () => {
    admin = await connectRedis();
  });
  afterAll(async () => {
    await deletePrefix(admin, prefix);
    admin.disconnect();
  });

  it('a clock Redis lost (restarted empty) starts above the old one: a render across the loss is still overtaken', async () => {
    const lost = `${prefix}lost:`;
    const store = new RedisOutputCacheStore({ client: admin, prefix: lost, sweep: 'inline' });
    try {
      for (let i = 0; i < 5; i++) await store.evictTags([`warm-${i}`]);
      // A render notes the clock, then Redis loses everything (a restart without persistence).
      const renderedAt = await store.clock();
      expect(renderedAt).toBeGreaterThan(0);
      await deletePrefix(admin, lost);
      const entry = makeEntry({ tags: ['Product:1'], renderedAt });
      expect(await store.setIfCurrent(entry)).toBe(true); // nothing evicted since, as far as Redis knows
      // An edit after the restart: its eviction must reach the page stored across it.
      await store.evictTags(['Product:1']);
      expect(await store.clock()).toBeGreaterThan(renderedAt);
      expect(await store.get(entry.key)).toBeUndefined();
      // And a render that noted the clock before that eviction is not stored.
      expect(await store.setIfCurrent(makeEntry({ tags: ['Product:1'], renderedAt }))).toBe(false);
    } finally {
      await deletePrefix(admin, lost);
    }
  });

  it('uses a given client without closing it, and a URL connection it closes', async () => {
    const client = new Redis(REDIS_URL);
    const shared = new RedisOutputCacheStore({ client, prefix: `${prefix}shared:` });
    await shared.set(makeEntry());
    await shared.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();

    const own = new RedisOutputCacheStore({ url: REDIS_URL, prefix: `${prefix}own:` });
    const connection = await own.redis();
    await own.close();
    expect(connection.status).toMatch(/end|close/);
  });

  it('keeps its keys under the prefix, with PX expiry on entries', async () => {
    const store = new RedisOutputCacheStore({ client: admin, prefix: `${prefix}px:` });
    const entry = makeEntry({ expiresAt: Date.now() + 5000 });
    await store.set(entry);
    const keys = await admin.keys(`${prefix}px:*`);
    expect(keys.every((k) => k.startsWith(`${prefix}px:`))).toBe(true);
    const entryKey = keys.find((k) => k.startsWith(`${prefix}px:e:`))!;
    const ttl = await admin.pttl(entryKey);
    expect(ttl).toBeGreaterThan(3000);
    expect(ttl).toBeLessThanOrEqual(5000);
    await store.clear();
    // Only the eviction clock stays: renders under way must still learn of the clear.
    expect((await admin.keys(`${prefix}px:*`)).sort()).toEqual(
      ['clock', 'gen', 'gent'].map((k) => `${prefix}px:${k}`),
    );
  });

  it('cleans the indexes of expired entries, so they cannot grow without bound', async () => {
    const store = new RedisOutputCacheStore({
      client: admin,
      prefix: `${prefix}gc:`,
      cleanupInterval: 0,
    });
    for (let i = 0; i < 50; i++) {
      await store.set(makeEntry({ expiresAt: Date.now() + 100, tags: ['t', `x:${i}`] }));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.cleanup()).toBe(50);
    const keys = await admin.keys(`${prefix}gc:*`);
    // Only tag sets whose own expiry has not come yet may remain, and they are empty.
    for (const key of keys) expect(await admin.type(key)).toBe('none');
  });
});

describe('redis store: sweep in the background', () => {
  it('an eviction resolves after its mark; overtaken entries are never read, then deleted', async () => {
    const admin = await connectRedis();
    const store = new RedisOutputCacheStore({
      client: admin,
      prefix: `${prefix}bg:`,
      sweep: 'background',
      batchSize: 100,
    });
    try {
      const entries = Array.from({ length: 1000 }, () => makeEntry({ tags: ['bulk'] }));
      const pipeline: Promise<void>[] = entries.map((e) => store.set(e));
      await Promise.all(pipeline);
      expect(await store.evictTags(['bulk'])).toBe(1000); // the entries that carried it
      // At once, before any deletion: not one is read.
      for (const e of entries.slice(0, 50)) expect(await store.get(e.key)).toBeUndefined();
      // Rendered after the eviction: kept by the sweep.
      const later = makeEntry({ tags: ['bulk'], renderedAt: await store.clock() });
      expect(await store.setIfCurrent(later)).toBe(true);
      await store.sweeping();
      expect(await store.count()).toBe(1);
      expect((await store.get(later.key))?.key).toBe(later.key);
      // The same for a prefix.
      const under = makeEntry({ path: '/bg/a' });
      await store.set(under);
      expect(await store.evictPrefix('/bg/')).toBe(1);
      expect(await store.get(under.key)).toBeUndefined();
      await store.sweeping();
      expect(await store.count()).toBe(1);
    } finally {
      await deletePrefix(admin, `${prefix}bg:`);
      admin.disconnect();
    }
  });
});

describe('redis store: closing', () => {
  let admin: Redis;
  beforeAll(async () => {
    admin = await connectRedis();
  });
  afterAll(async () => {
    await deletePrefix(admin, `${prefix}close:`);
    admin.disconnect();
  });

  /** A store on the test Redis whose connection is found in CLIENT LIST by `name`. */
  const named = (name: string) =>
    new RedisOutputCacheStore({
      url: REDIS_URL,
      prefix: `${prefix}close:`,
      redis: { connectionName: name, commandTimeout: 5000 },
    });

  it('the close of a reachable store still quits cleanly', async () => {
    const name = uniqueConnectionName('quit');
    const store = named(name);
    await store.set(makeEntry());
    const connection = await store.redis();
    const quits = countQuits(connection);
    expect(await connectionsNamed(admin, name)).toBe(1);
    await store.close();
    expect(quits.count).toBe(1);
    expect(connection.status).toBe('end');
    expect(await connectionsNamed(admin, name)).toBe(0);
  });

  it('after close, a late call rejects at once and never connects again', async () => {
    const name = uniqueConnectionName('late');
    const store = named(name);
    const entry = makeEntry();
    await store.set(entry);
    await store.close();
    expect(await connectionsNamed(admin, name)).toBe(0);

    // A late caller (a background compression storing a variant after app.close()).
    const calls: Promise<unknown>[] = [
      ...callEveryMethod(store, entry),
      store.set({ ...entry, expiresAt: Date.now() - 1 }),
      store.cleanup(),
      store.redis(),
    ];
    // At once: settled within one turn of the event loop, before any connection attempt or
    // timer could have answered (a property, not a duration a busy machine can stretch).
    let settled = false;
    void Promise.allSettled(calls).then(() => (settled = true));
    await drainMicrotasks();
    expect(settled).toBe(true);
    for (const call of calls) await expect(call).rejects.toThrow(/RedisOutputCacheStore is closed/);
    await new Promise((r) => setTimeout(r, 300));
    expect(await connectionsNamed(admin, name)).toBe(0);
    await store.close(); // closing twice is harmless
  });

  it('a close while ioredis loads leaves no connection behind', async () => {
    const name = uniqueConnectionName('loading');
    const store = named(name);
    const pending = store.get('https://shop.example/').then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await store.close();
    expect(await pending).toMatch(/RedisOutputCacheStore is closed/);
    await new Promise((r) => setTimeout(r, 300));
    expect(await connectionsNamed(admin, name)).toBe(0);
  });

  it('a close while the first connection is not ready yet ends it, and it stays ended', async () => {
    // A server that accepts and never answers: the connection exists, and is never ready.
    const silent = await silentServer();
    const store = new RedisOutputCacheStore({
      url: `redis://127.0.0.1:${silent.port}`,
      redis: { commandTimeout: 5000 },
    });
    try {
      const pending = store.get('https://shop.example/').then(
        () => 'resolved',
        (error: Error) => error.message,
      );
      await waitFor(() => silent.accepted === 1, 5000, 'the store to connect');
      const started = Date.now();
      await store.close();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await pending).toMatch(/RedisOutputCacheStore is closed/);
      await waitFor(() => silent.open() === 0, 5000, 'the connection to close');
      await new Promise((r) => setTimeout(r, 1500)); // longer than the longest retry delay
      expect(silent.accepted).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('closes within a bound when Redis is unreachable, and stops reconnecting', async () => {
    const store = new RedisOutputCacheStore({ url: UNREACHABLE_REDIS_URL, prefix });
    const connection = await store.redis(); // not ready: ioredis keeps retrying
    await expect(store.set(makeEntry())).rejects.toThrow();
    const started = Date.now();
    await store.close();
    // About nothing in fact (the socket is dropped, no QUIT waits); a wide margin for CI.
    expect(Date.now() - started).toBeLessThan(5000);
    const reconnects = watchReconnects([connection]);
    await new Promise((r) => setTimeout(r, 1500)); // longer than the longest retry delay
    expect(reconnects.attempts).toBe(0);
    await expect(store.set(makeEntry())).rejects.toThrow(/RedisOutputCacheStore is closed/);
  });
});

describe('redis store: evicting a tag of 20,000 entries', () => {
  it('never blocks Redis: it runs only small commands (none over a batch of 200 members)', async () => {
    // A server of its own: the test reconfigures SLOWLOG and measures latency, which neither the
    // shared server (other tests' traffic) nor other tests (a server-wide CONFIG SET) should feel.
    const redis = new ScratchRedis(await freePort());
    await redis.start();
    const admin = new Redis(redis.url);
    const bigPrefix = `${prefix}big:`;
    // Filling 20,000 entries queues thousands of commands at once: more than the fail-fast bound.
    const store = new RedisOutputCacheStore({
      url: redis.url,
      prefix: bigPrefix,
      cleanupInterval: 0,
      // Generous: every command is logged (SLOWLOG threshold 0) on a possibly loaded machine; the
      // test is about the commands' width, not their time.
      redis: { commandTimeout: 60_000 },
    });
    try {
      // The size only has to dwarf a batch: a command carrying the whole tag would show with
      // 20,000 arguments (the bench evicts 100,000 for the figures).
      const total = 20_000;
      const body = Buffer.from('<p>x</p>');
      for (let start = 0; start < total; start += 2000) {
        await Promise.all(
          Array.from({ length: Math.min(2000, total - start) }, (_, i) =>
            // Kept an hour: filling takes more than a minute on a loaded machine.
            store.set(
              makeEntry({
                body,
                tags: ['shared', `Product:${start + i}`],
                expiresAt: Date.now() + 3_600_000,
              }),
            ),
          ),
        );
      }
      expect(await store.count()).toBe(total);

      // What matters is that no single command is big enough to block Redis (one DEL or SREM of
      // 20,000 members would stall every client for tens of ms): a property of the commands,
      // not of a duration a busy machine can stretch. The server logs every command it runs
      // during the eviction (threshold 0), with its argument count.
      await admin.config('SET', 'slowlog-max-len', '1000000');
      await admin.config('SET', 'slowlog-log-slower-than', '0');
      await admin.slowlog('RESET');
      const started = Date.now();
      const removed = await store.evictTags(['shared']);
      const evictMs = Date.now() - started;
      await store.sweeping(); // the deletions, in the background
      const sweepMs = Date.now() - started;
      await admin.config('SET', 'slowlog-log-slower-than', '-1');
      const logged = (await admin.slowlog('GET', -1)) as [number, number, number, string[]][];
      const widest = logged
        .map(([, , , args]) => ({ command: args[0], count: argumentCount(args) }))
        .filter(({ command }) => !/^(slowlog|config)$/i.test(command))
        .reduce((max, next) => (next.count > max.count ? next : max), { command: '', count: 0 });
      console.log(
        `evicted ${removed} entries: the call resolved in ${evictMs} ms, deleted in ${sweepMs} ms; ` +
          `${logged.length} commands ran, the widest ${widest.command} with ${widest.count} arguments`,
      );
      expect(removed).toBe(total);
      expect(await store.count()).toBe(0);
      // Thousands of small commands ran, each of at most a batch (200 members) plus its key.
      expect(logged.length).toBeGreaterThan(100);
      expect(widest.count).toBeLessThanOrEqual(1 + 200 + 1);
    } finally {
      await store.close();
      admin.disconnect();
      await redis.kill();
    }
  }, 300_000);
});

/** A TCP server that accepts connections and never answers. */
async function silentServer() {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // reads and drops what comes, so that the client's FIN is seen
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    open: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Arguments of a SLOWLOG entry, command included (Redis shows at most 32, then "... (N more arguments)"). */
function argumentCount(args: string[]): number {
  const more = /^\.\.\. \((\d+) more arguments\)$/.exec(args[args.length - 1] ?? '');
  return more ? args.length - 1 + Number(more[1]) : args.length;
}
