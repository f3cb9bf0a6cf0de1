import type { CacheEntry } from '../stores/cache-entry.js';
import { unservableReason } from './entry-validator.js';

const entry = (over: Partial<CacheEntry> = {}): CacheEntry => ({
  key: 'k',
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', vary: ['Origin', 'Accept'] },
  body: Buffer.from('<p>ab</p>'),
  holes: [{ at: 3, name: 'Cart', args: '{"n":1}' }],
  tags: [],
  path: '/',
  routeId: 'R/r',
  createdAt: 0,
  expiresAt: 1,
  ...over,
});
const known = (name: string) => name === 'Cart';

describe('unservableReason', () => {
  it('accepts a well-formed entry', () => {
    expect(unservableReason(entry(), known)).toBeUndefined();
    expect(unservableReason(entry({ holes: undefined }), () => false)).toBeUndefined();
  });

  it.each([
    ['a status outside 200-599', { status: 700 }, /status 700/],
    ['a 1xx status', { status: 101 }, /status 101/],
    ['a fractional status', { status: 200.5 }, /status/],
    ['CR/LF in a header value', { headers: { 'x-a': 'a\r\nSet-Cookie: x=1' } }, /x-a/],
    ['an invalid header name', { headers: { 'bad name': 'v' } }, /bad name/],
    ['a header value that is not text', { headers: { 'x-n': 5 as unknown as string } }, /x-n/],
    ['a body that is not bytes', { body: 'text' as unknown as Buffer }, /bytes/],
    ['a hole past the body', { holes: [{ at: 99, name: 'Cart', args: '{}' }] }, /outside/],
    [
      'holes out of order',
      {
        holes: [
          { at: 5, name: 'Cart', args: '{}' },
          { at: 2, name: 'Cart', args: '{}' },
        ],
      },
      /outside/,
    ],
    ['an unknown component', { holes: [{ at: 1, name: 'Gone', args: '{}' }] }, /Gone/],
    ['arguments that are not JSON', { holes: [{ at: 1, name: 'Cart', args: '{x' }] }, /JSON/],
  ])('refuses %s', (_what, over, reason) => {
    expect(unservableReason(entry(over as Partial<CacheEntry>), known)).toMatch(reason);
  });
});
