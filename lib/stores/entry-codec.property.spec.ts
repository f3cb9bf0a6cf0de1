import fc from 'fast-check';
import { cacheEntryArbitrary } from '../../test/fuzz/cache-entry.arbitrary.js';
import { fuzzParameters } from '../../test/fuzz/fuzz-parameters.js';
import { assertSameEntry } from '../testing/entry-assertions.js';
import { decodeEntry, encodeEntry } from './entry-codec.js';

describe('entry codec (property)', () => {
  it('decodes what it encoded, every field byte for byte, and encodes that to the same bytes', () => {
    fc.assert(
      fc.property(cacheEntryArbitrary(), (entry) => {
        const bytes = encodeEntry(entry);
        const decoded = decodeEntry(bytes);
        if (typeof decoded === 'string') throw new Error(`decoded as ${decoded}`);
        assertSameEntry(decoded, entry);
        // A store that reads an entry and writes it back writes the same bytes.
        expect(encodeEntry(decoded).equals(bytes)).toBe(true);
      }),
      fuzzParameters(300),
    );
  });

  it('reads any change of an entry’s bytes as a miss or as an entry, never by throwing', () => {
    fc.assert(
      fc.property(
        cacheEntryArbitrary(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        (entry, flips, cut) => {
          const bytes = Buffer.from(encodeEntry(entry));
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const damaged = cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
          const decoded = decodeEntry(damaged);
          if (typeof decoded !== 'string') {
            // Read as an entry: then a well-formed one a hit can use.
            expect(Buffer.isBuffer(decoded.body)).toBe(true);
            expect(typeof decoded.key).toBe('string');
          }
        },
      ),
      fuzzParameters(300),
    );
  });
});
