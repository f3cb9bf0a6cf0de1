/** The cookie that holds the shopper's display name: not a session, so pages stay cached. */
export const SHOPPER_COOKIE = 'shopper';

/** Longest name kept, in characters: a longer one is refused at `POST /account/name`. */
export const MAX_SHOPPER_NAME_LENGTH = 40;

/**
 * The display name in a `shopper` cookie, tidied (control characters dropped, white space
 * collapsed, at most {@link MAX_SHOPPER_NAME_LENGTH} characters), or undefined when there is
 * none. The cookie comes from the client, so it is cut here too, not only where it is set; the
 * `Greeting` hole escapes it.
 *
 * @example
 * ```ts
 * shopperName('  Ada   Lovelace ') // 'Ada Lovelace'
 * ```
 */
export function shopperName(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const name = raw
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return name === '' ? undefined : [...name].slice(0, MAX_SHOPPER_NAME_LENGTH).join('');
}
