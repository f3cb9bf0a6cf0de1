/**
 * The bytes of a body in memory of their own. `Buffer.from(string)` slices small strings out of
 * a shared 8 KB pool, and one cached 2 KB page would keep its whole slab alive: the memory bound
 * would count 2 KB while 8 KB stay in use.
 */
export function ownBuffer(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 'utf8');
  return bytes;
}
