import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

/**
 * When tags, keys, prefixes and "everything" were last evicted, on a logical clock. A render
 * notes the clock when it starts; if anything it would be stored under was evicted after that,
 * it is not stored: its data may predate the change (no stale write-back).
 */
@Injectable()
export class EvictionLog {
  private clock = 0;
  private allAt = 0;
  // Bounded: a render outlives at most this many evictions before its record may be lost.
  private readonly marks = new LRUCache<string, number>({ max: 100_000 });
  private readonly prefixes: { prefix: string; at: number }[] = [];

  /** The current clock; note it when a render starts. */
  now(): number {
    return this.clock;
  }

  evictedTags(tags: readonly string[]): void {
    const at = ++this.clock;
    for (const tag of tags) this.marks.set(`t:${tag}`, at);
  }

  evictedKey(key: string): void {
    this.marks.set(`k:${key}`, ++this.clock);
  }

  evictedPrefix(prefix: string): void {
    this.prefixes.push({ prefix, at: ++this.clock });
    if (this.prefixes.length > 1000) this.prefixes.shift();
  }

  evictedAll(): void {
    this.allAt = ++this.clock;
  }

  /** Whether an entry of `key`/`path`/`tags`, rendered from `since`, was evicted meanwhile. */
  evictedSince(since: number, key: string, path: string, tags: readonly string[]): boolean {
    if (this.clock === since) return false;
    if (this.allAt > since) return true;
    if ((this.marks.get(`k:${key}`) ?? 0) > since) return true;
    for (const tag of tags) if ((this.marks.get(`t:${tag}`) ?? 0) > since) return true;
    for (let i = this.prefixes.length - 1; i >= 0 && this.prefixes[i].at > since; i--) {
      if (path.startsWith(this.prefixes[i].prefix)) return true;
    }
    return false;
  }
}
