import { createHash } from 'node:crypto';
import type { ResolvedCdnOptions } from './cdn.options.js';

/** Prefix of a hashed tag: `h:` and 16 hex digits (64 bits of SHA-256), 18 bytes in all. */
const HASH_PREFIX = 'h:';

/**
 * Turns a page's tags into the value of the CDN's tags header, within the CDN's limits, and a
 * purge's tags into the forms pages may carry. Hashes are lower-case hex (Cloudflare compares
 * tags case-insensitively) and stable across processes and versions.
 *
 * @example
 * ```ts
 * const encoder = new CdnTagEncoder({ separator: ' ', maxHeaderBytes: 16384, maxTagBytes: 1024, hashTags: 'auto' });
 * encoder.header(['route:Shop/product', 'Product:42']); // 'route:Shop/product Product:42'
 * encoder.purgeTags(['Product:42']); // ['Product:42', 'h:…'] (with 'auto', both forms)
 * ```
 */
export class CdnTagEncoder {
  constructor(
    private readonly options: Pick<
      ResolvedCdnOptions,
      'separator' | 'maxHeaderBytes' | 'maxTagBytes' | 'hashTags'
    >,
  ) {}

  /** The short, stable hash a tag is sent as when it cannot be sent as it is. */
  static hash(tag: string): string {
    return HASH_PREFIX + createHash('sha256').update(tag).digest('hex').slice(0, 16);
  }

  /**
   * The header value for `tags`, or undefined when they cannot be sent within the limits
   * (then the page must not be cached by the CDN: nothing could purge it).
   */
  header(tags: readonly string[]): string | undefined {
    if (tags.length === 0) return undefined;
    const { hashTags, separator, maxHeaderBytes } = this.options;
    if (hashTags === true) return this.fit(tags.map(CdnTagEncoder.hash));
    const plain: string[] = [];
    for (const tag of tags) {
      if (this.sendable(tag)) plain.push(tag);
      else if (hashTags === 'auto') plain.push(CdnTagEncoder.hash(tag));
      else return undefined;
    }
    const value = plain.join(separator);
    if (Buffer.byteLength(value) <= maxHeaderBytes) return value;
    return hashTags === 'auto' ? this.fit(tags.map(CdnTagEncoder.hash)) : undefined;
  }

  /** The tags a purge sends for `tags`: every form a page may carry them in. */
  purgeTags(tags: readonly string[]): string[] {
    const { hashTags } = this.options;
    const out = new Set<string>();
    for (const tag of tags) {
      if (hashTags !== true && this.sendable(tag)) out.add(tag);
      if (hashTags !== false) out.add(CdnTagEncoder.hash(tag));
    }
    return [...out];
  }

  /** Printable ASCII without the separator (nor a comma or space), within `maxTagBytes`. */
  private sendable(tag: string): boolean {
    return tag.length > 0 && tag.length <= this.options.maxTagBytes && /^[!-+\--~]+$/.test(tag);
  }

  private fit(hashed: string[]): string | undefined {
    const value = [...new Set(hashed)].join(this.options.separator);
    return Buffer.byteLength(value) <= this.options.maxHeaderBytes ? value : undefined;
  }
}
