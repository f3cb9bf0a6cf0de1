import fc from 'fast-check';
import type { CacheEntry, HoleRef } from '../../lib/index.js';

/** Text of any code point (no lone surrogates: they are not text, and UTF-8 cannot carry them). */
const text = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });
const bytes = (maxLength: number) =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const headerValue = fc.string({ unit: 'grapheme-ascii', maxLength: 60 });

/** Sets only the fields whose value is defined (an entry leaves optional fields out). */
function withOptional<T extends object>(base: T, optional: Record<string, unknown>): T {
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined) (base as Record<string, unknown>)[name] = value;
  }
  return base;
}

export interface EntryShape {
  /** Timestamps from this range (stores need them in the future). */
  timestamps: fc.Arbitrary<number>;
}

/**
 * Any entry a store may be given: status, headers (multi-valued too), a body of any bytes with
 * holes inside it (JSON arguments, some inside JSON strings), tags, timestamps, an ETag and
 * variants (none, "tried, none worth keeping", one or both).
 */
export function cacheEntryArbitrary(
  shape: EntryShape = { timestamps: fc.maxSafeNat() },
): fc.Arbitrary<CacheEntry> {
  const optionalTime = fc.option(shape.timestamps, { nil: undefined });
  return fc
    .record({
      key: text(200),
      status: fc.integer({ min: 100, max: 599 }),
      headers: fc.dictionary(
        headerName,
        fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 4 })),
        { maxKeys: 6 },
      ),
      body: bytes(2048),
      holes: fc.option(
        fc.array(
          fc.record({
            at: fc.nat(),
            name: text(30),
            args: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
            json: fc.boolean(),
          }),
          { maxLength: 5 },
        ),
        { nil: undefined },
      ),
      tags: fc.array(text(60), { maxLength: 8 }),
      path: text(120),
      routeId: text(40),
      createdAt: shape.timestamps,
      expiresAt: shape.timestamps,
      graceUntil: optionalTime,
      retainUntil: optionalTime,
      renderedAt: fc.option(fc.nat(), { nil: undefined }),
      etag: fc.option(headerValue, { nil: undefined }),
      variants: fc.option(fc.record({ gzip: bytes(256), br: bytes(256) }, { requiredKeys: [] }), {
        nil: undefined,
      }),
    })
    .map(({ holes, body, graceUntil, retainUntil, renderedAt, etag, variants, ...rest }) => {
      // Holes sit inside the body, in body order; `json` is set only when true.
      const placed = holes
        ?.map((h): HoleRef =>
          withOptional(
            { at: h.at % (body.length + 1), name: h.name, args: h.args },
            { json: h.json || undefined },
          ),
        )
        .sort((a, b) => a.at - b.at);
      return withOptional({ ...rest, body } as CacheEntry, {
        holes: placed,
        graceUntil,
        retainUntil,
        renderedAt,
        etag,
        variants,
      });
    });
}
