import type { ResolvedOutputCacheOptions, VaryByValue } from '../output-cache.options.js';
import { type OutputCacheRequestContext, outputCacheContext } from './request-context.js';

/**
 * A request's value of a registered vary-by name, resolved once per request (the key stage's
 * values are reused; a component's read resolves and remembers it). Throws for a name that is
 * not registered.
 */
export function resolveVaryValue(
  ctx: OutputCacheRequestContext,
  name: string,
  options: Pick<ResolvedOutputCacheOptions, 'varyBy'>,
): VaryByValue | Promise<VaryByValue> {
  if (ctx.varyValues.has(name)) return ctx.varyValues.get(name);
  const resolver = Object.hasOwn(options.varyBy, name) ? options.varyBy[name] : undefined;
  if (resolver === undefined) {
    const registered = Object.keys(options.varyBy);
    throw new Error(
      `vary-by name "${name}" is not registered (registered: ${registered.join(', ') || 'none'}); ` +
        `add it to OutputCacheModule.forRoot({ varyBy: { ${name}: (req) => ... } })`,
    );
  }
  const value =
    typeof resolver === 'function'
      ? resolver(ctx.req)
      : headerValue(ctx.req?.headers, resolver.header.toLowerCase());
  if (value instanceof Promise) {
    return value.then((resolved) => {
      ctx.varyValues.set(name, resolved);
      return resolved;
    });
  }
  ctx.varyValues.set(name, value);
  return value;
}

function headerValue(
  headers: Record<string, string | string[] | undefined> | undefined,
  name: string,
): VaryByValue {
  return headers?.[name];
}

/**
 * The request's value of a registered vary-by name, and a note that what renders now depends on
 * it: the synchronous form of `DisplayControl.vary()`, for code that cannot await or inject
 * (a param decorator, a template helper). Must run while a route or view component handled by
 * the output cache renders; throws for a resolver that returns a promise (use
 * `await displayControl.vary(name)` there).
 *
 * @example
 * ```ts
 * export const Currency = createParamDecorator(() => String(varyValue('currency')));
 * ```
 */
export function varyValue(name: string): VaryByValue {
  const ctx = outputCacheContext.getStore();
  if (!ctx?.varyBy) {
    throw new Error(
      `varyValue("${name}") was called outside a request handled by the output cache; ` +
        'read vary-by values while a route or view component renders',
    );
  }
  const value = resolveVaryValue(ctx, name, { varyBy: ctx.varyBy });
  if (value instanceof Promise) {
    value.catch(() => undefined);
    throw new Error(
      `vary-by "${name}" resolves asynchronously: use await displayControl.vary('${name}')`,
    );
  }
  ctx.varyRead.add(name);
  return value;
}
