/**
 * One HTTP request to a purge API: rejects on a network error, a timeout, or a status other than
 * 2xx (with the status and the start of the body, for the failure log).
 *
 * @internal Shared by the built-in purgers.
 * @example
 * ```ts
 * await purgeRequest('https://api.fastly.com/service/x/purge', { method: 'POST' }, 5000);
 * ```
 */
export async function purgeRequest(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<string> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (response.status < 200 || response.status > 299) {
    const excerpt = text.replace(/\s+/g, ' ').slice(0, 200);
    throw new Error(
      `${init.method} ${url} answered ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
    );
  }
  return text;
}

/** `base` without trailing slashes. */
export function trimBase(base: string): string {
  return base.replace(/\/+$/, '');
}
