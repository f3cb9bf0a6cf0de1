/**
 * The vary-by values written into a plain cache key
 * (`…#Catalog%2Fcategory|v3|currency=EUR|roles[]=a,b`), by name: a string, a list for a set of
 * values (`roles`), `''` for no value; `undefined` for a key stored as a digest (`sha256:…`, keys
 * over 1 KB), which keeps none readable.
 *
 * @example
 * ```ts
 * varyValuesOfKey('http://shop/p?#Catalog%2Fproduct|1.0.0|currency=EUR'); // { currency: 'EUR' }
 * ```
 */
export function varyValuesOfKey(key: string): Record<string, string | string[]> | undefined {
  if (key.startsWith('sha256:')) return undefined;
  // The first `#` ends the URL part: host, path and query are escaped, so none holds one.
  const hash = key.indexOf('#');
  if (hash === -1) return undefined;
  // routeId | appVersion | name=value | name[]=a,b | name (no value) ...
  const parts = key.slice(hash + 1).split('|');
  const vary: Record<string, string | string[]> = {};
  for (const part of parts.slice(2)) {
    const eq = part.indexOf('=');
    let name = eq === -1 ? part : part.slice(0, eq);
    const list = name.endsWith('[]');
    if (list) name = name.slice(0, -2);
    const raw = eq === -1 ? '' : part.slice(eq + 1);
    try {
      vary[decodeURIComponent(name)] = list
        ? raw === ''
          ? []
          : raw.split(',').map((v) => decodeURIComponent(v))
        : decodeURIComponent(raw);
    } catch {
      vary[name] = raw;
    }
  }
  return vary;
}
