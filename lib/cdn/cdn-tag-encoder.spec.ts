import { CdnTagEncoder } from './cdn-tag-encoder.js';

const limits = { separator: ' ', maxHeaderBytes: 16384, maxTagBytes: 1024 } as const;

describe('CdnTagEncoder', () => {
  it('hashes to h: and 16 lower-case hex digits, the same every time', () => {
    const hash = CdnTagEncoder.hash('Product:42');
    expect(hash).toMatch(/^h:[0-9a-f]{16}$/);
    expect(CdnTagEncoder.hash('Product:42')).toBe(hash);
    // SHA-256 of the tag, so any process (or another language) computes the same.
    expect(hash).toBe('h:e2829be11eed0038');
    expect(CdnTagEncoder.hash('Product:43')).not.toBe(hash);
  });

  it("'auto' hashes only the tags that cannot be sent as they are", () => {
    const encoder = new CdnTagEncoder({ ...limits, hashTags: 'auto' });
    const odd = ['with space', 'comma,inside', 'Ünïcode', ''];
    const value = encoder.header(['Product:1', ...odd])!;
    expect(value.split(' ')).toEqual(['Product:1', ...odd.map(CdnTagEncoder.hash)]);
  });

  it('the same tags give one header whatever the separator, and duplicates of hashes go', () => {
    const comma = new CdnTagEncoder({ ...limits, separator: ',', hashTags: true });
    expect(comma.header(['a', 'b'])).toBe(`${CdnTagEncoder.hash('a')},${CdnTagEncoder.hash('b')}`);
    expect(comma.header([])).toBeUndefined();
  });

  it('purges every form a page may carry', () => {
    const auto = new CdnTagEncoder({ ...limits, hashTags: 'auto' });
    expect(auto.purgeTags(['a', 'b c'])).toEqual([
      'a',
      CdnTagEncoder.hash('a'),
      CdnTagEncoder.hash('b c'),
    ]);
    const never = new CdnTagEncoder({ ...limits, hashTags: false });
    expect(never.purgeTags(['a', 'b c'])).toEqual(['a']);
    const always = new CdnTagEncoder({ ...limits, hashTags: true });
    expect(always.purgeTags(['a'])).toEqual([CdnTagEncoder.hash('a')]);
  });

  it('drops the header when even the hashes pass the limit', () => {
    const small = new CdnTagEncoder({ ...limits, maxHeaderBytes: 64, hashTags: 'auto' });
    expect(small.header(['a', 'b', 'c'])).toBe('a b c');
    // 4 hashes: 4 × 18 + 3 = 75 bytes.
    expect(small.header(['x'.repeat(40), 'y'.repeat(40), 'z', 'w'])).toBeUndefined();
    expect(small.header(['x'.repeat(40), 'y'.repeat(40)])).toBe(
      `${CdnTagEncoder.hash('x'.repeat(40))} ${CdnTagEncoder.hash('y'.repeat(40))}`,
    );
  });
});
