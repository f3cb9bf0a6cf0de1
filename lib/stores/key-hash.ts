import { createHash } from 'node:crypto';

/** SHA-256 of a cache key, base64url (43 characters): the id under which stores keep it. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
