import { randomBytes } from 'node:crypto';

/**
 * A name no other run uses, for anything on a shared server (PostgreSQL schemas, Redis key
 * prefixes and channels, MariaDB table prefixes): `{prefix}_{pid}_{random}`, lower case, letters,
 * digits and `_` only, so it is a valid unquoted SQL identifier too. Several suites (and other
 * people's runs) use the same servers at once; a fixed name lets one run delete another's data.
 *
 * @example
 * ```ts
 * const schema = uniqueName('oc_invalidation'); // oc_invalidation_1f3k_9a0c2e
 * const prefix = `${uniqueName('oc_lock')}:`;
 * ```
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid.toString(36)}_${randomBytes(3).toString('hex')}`.toLowerCase();
}
