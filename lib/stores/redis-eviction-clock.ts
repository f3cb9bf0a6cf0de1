import type { Cluster, Redis } from 'ioredis';

/** What an eviction covers, as the clock records it. */
export type ClockMark =
  { tags: readonly string[] } | { keyHash: string } | { prefix: string } | { all: true };

/**
 * How long a recorded generation is kept before a watermark stands in for it (for writes: a
 * render that began before the watermark is not stored; reads do not check it).
 */
const GENERATION_RETENTION_MS = 24 * 60 * 60_000;

/**
 * Sets the clock, when Redis has none (a first eviction, or Redis restarted empty), to the
 * server's time in microseconds: a clock that Redis lost starts again above every value it had
 * reached (one eviction adds 1, time adds a million a second), so a render that noted the old
 * clock before the loss and stores after it is still overtaken by the evictions made since.
 */
const SEED = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
`;

/**
 * Records an eviction: one INCR of the store's clock (seeded as {@link SEED} says), and the new
 * value as the generation of what was evicted (hash fields `t:{tag}`, `k:{hash}`, `all`; prefixes in a sorted set). A constant
 * number of writes per tag, whatever the eviction covers. Generations older than the retention
 * are dropped a few at a time, and the highest dropped one becomes the watermark `w`: a render
 * that began before it counts as overtaken (a wider eviction, never a missed one).
 * KEYS: clock, generations hash, prefixes zset, generation times zset.
 * ARGV: now ms, retention ms, 'fields' | 'prefix', then field names or the prefix.
 */
const MARK = `${SEED}
local g = redis.call('INCR', KEYS[1])
local now = tonumber(ARGV[1])
if ARGV[3] == 'prefix' then
  redis.call('ZADD', KEYS[3], g, ARGV[4])
  redis.call('ZADD', KEYS[4], now, 'p:' .. ARGV[4])
else
  for i = 4, #ARGV do
    redis.call('HSET', KEYS[2], ARGV[i], g)
    redis.call('ZADD', KEYS[4], now, ARGV[i])
  end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, 100)
for _, f in ipairs(old) do
  local gen
  if string.sub(f, 1, 2) == 'p:' then
    gen = redis.call('ZSCORE', KEYS[3], string.sub(f, 3))
    redis.call('ZREM', KEYS[3], string.sub(f, 3))
  else
    gen = redis.call('HGET', KEYS[2], f)
    redis.call('HDEL', KEYS[2], f)
  end
  if gen and tonumber(gen) > tonumber(redis.call('HGET', KEYS[2], 'w') or '0') then
    redis.call('HSET', KEYS[2], 'w', gen)
  end
  redis.call('ZREM', KEYS[4], f)
end
return g
`;

/**
 * Whether an entry rendered at clock value ARGV[1] was overtaken: a generation of its tags, its
 * key, `all` or the watermark is newer, or a newer prefix eviction covers its path.
 * KEYS: generations hash, prefixes zset. ARGV: renderedAt, path, then fields.
 */
const OVERTAKEN = `
local r = tonumber(ARGV[1])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local gens = redis.call('HMGET', KEYS[1], unpack(fields))
for _, g in ipairs(gens) do
  if g and tonumber(g) > r then return 1 end
end
local prefixes = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
for _, p in ipairs(prefixes) do
  if string.sub(ARGV[2], 1, #p) == p then return 1 end
end
return 0
`;

/**
 * Reads an entry unless an eviction overtook it (its summary in the `m` hash says when it was
 * rendered, and what it carries); an overtaken entry is unlinked and read as a miss. So an
 * eviction whose deletions were cut short (an outage between popping a tag's members and
 * deleting them) still takes effect. Entries without `renderedAt` are read as they are.
 * KEYS: entry, summaries hash, generations hash, prefixes zset, render times hash, clock.
 * ARGV: entry hash.
 */
const READ_CURRENT = `
local data = redis.call('GET', KEYS[1])
if not data then return false end
-- Fast path: no eviction anywhere since the entry was rendered.
local rendered = redis.call('HGET', KEYS[5], ARGV[1])
if rendered then
  local now = redis.call('GET', KEYS[6])
  if not now or tonumber(now) <= tonumber(rendered) then return data end
end
local meta = redis.call('HGET', KEYS[2], ARGV[1])
if not meta then return data end
local ok, s = pcall(cjson.decode, meta)
if not ok or type(s) ~= 'table' or type(s.renderedAt) ~= 'number' then return data end
local r = s.renderedAt
-- Not the watermark: an entry outliving the retention stays readable; only writes check it.
local fields = {'all', 'k:' .. ARGV[1]}
if type(s.tags) == 'table' then
  for _, t in ipairs(s.tags) do fields[#fields + 1] = 't:' .. t end
end
local gens = redis.call('HMGET', KEYS[3], unpack(fields))
for _, g in ipairs(gens) do
  if g and tonumber(g) > r then
    redis.call('UNLINK', KEYS[1])
    return false
  end
end
if type(s.path) == 'string' then
  -- Formatted whole: Lua writes a number with 14 digits, and the clock has 16.
  local prefixes = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. string.format('%.0f', r), '+inf')
  for _, p in ipairs(prefixes) do
    if string.sub(s.path, 1, #p) == p then
      redis.call('UNLINK', KEYS[1])
      return false
    end
  end
end
return data
`;

/** Clients that know the clock's scripts (sent as EVALSHA once loaded). */
type ClockClient = (Redis | Cluster) & {
  ocReadCurrentBuffer(
    entry: string,
    meta: string,
    gens: string,
    prefixes: string,
    rendered: string,
    clock: string,
    hash: string,
  ): Promise<Buffer | null>;
  ocMark(...keysAndArgs: string[]): Promise<number>;
  ocOvertaken(...keysAndArgs: string[]): Promise<number>;
};
const defined = new WeakSet<Redis | Cluster>();

/**
 * The eviction clock of a Redis store, kept in Redis itself: a logical counter, the same for every
 * instance and immune to their clock skew. A render notes the clock before it reads any data; an
 * entry is only kept if nothing it carries was evicted after that (see `setIfCurrent`). Every key
 * of the clock, and every key a script is given, is under the store's prefix: on a Redis Cluster
 * (whose prefix carries a hash tag) they share one slot, as a script's keys must.
 */
export class RedisEvictionClock {
  constructor(
    private readonly prefix: string,
    private readonly redis: () => Promise<Redis | Cluster>,
  ) {}

  private get keys(): string[] {
    return [`${this.prefix}clock`, `${this.prefix}gen`, `${this.prefix}genp`, `${this.prefix}gent`];
  }

  /** Whether a key of the store belongs to the clock (kept by `clear()`). */
  owns(key: string): boolean {
    return this.keys.includes(key);
  }

  /** The clock now. */
  async now(): Promise<number> {
    const redis = await this.redis();
    return Number((await redis.get(this.keys[0])) ?? 0);
  }

  /** Records an eviction; resolves the clock value it was given. Call it before deleting. */
  async mark(mark: ClockMark): Promise<number> {
    const redis = await this.redis();
    const args =
      'prefix' in mark
        ? ['prefix', mark.prefix]
        : [
            'fields',
            ...('tags' in mark
              ? mark.tags.map((t) => `t:${t}`)
              : 'keyHash' in mark
                ? [`k:${mark.keyHash}`]
                : ['all']),
          ];
    if (args.length === 1) return this.now();
    this.define(redis);
    const result = await (redis as ClockClient).ocMark(
      ...this.keys,
      String(Date.now()),
      String(GENERATION_RETENTION_MS),
      ...args,
    );
    return Number(result);
  }

  /**
   * Reads an entry's bytes in one round trip, unless an eviction overtook it (then it is
   * unlinked, and the read is a miss).
   */
  async read(
    entryKey: string,
    metaKey: string,
    renderedKey: string,
    hash: string,
  ): Promise<Buffer | null> {
    const redis = await this.redis();
    this.define(redis);
    return (redis as ClockClient).ocReadCurrentBuffer(
      entryKey,
      metaKey,
      this.keys[1],
      this.keys[2],
      renderedKey,
      this.keys[0],
      hash,
    );
  }

  /** Teaches a client the clock's scripts, once (then sent as EVALSHA). */
  private define(redis: Redis | Cluster): void {
    if (defined.has(redis)) return;
    redis.defineCommand('ocReadCurrent', { numberOfKeys: 6, lua: READ_CURRENT });
    redis.defineCommand('ocMark', { numberOfKeys: 4, lua: MARK });
    redis.defineCommand('ocOvertaken', { numberOfKeys: 2, lua: OVERTAKEN });
    defined.add(redis);
  }

  /** Whether an entry of these tags, key and path rendered at `renderedAt` was overtaken. */
  async overtaken(
    renderedAt: number,
    keyHash: string,
    path: string,
    tags: readonly string[],
  ): Promise<boolean> {
    const redis = await this.redis();
    this.define(redis);
    const fields = ['all', 'w', `k:${keyHash}`, ...tags.map((t) => `t:${t}`)];
    const result = await (redis as ClockClient).ocOvertaken(
      this.keys[1],
      this.keys[2],
      String(renderedAt),
      path,
      ...fields,
    );
    return Number(result) === 1;
  }
}
