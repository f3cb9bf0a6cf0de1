/**
 * A wrong option of `OutputCacheModule.forRoot()` / `forRootAsync()`, or of a route's
 * `@Cacheable()`. Thrown while the app starts (when the module is compiled, or by `app.init()` for
 * route policies), never per request; the message names the option or the route, says what was
 * wrong and how to write it instead.
 *
 * @example
 * ```ts
 * try {
 *   await app.init();
 * } catch (error) {
 *   if (error instanceof OutputCacheConfigError) console.error(error.message);
 *   // OutputCacheModule: option "grace" must be a number of seconds, 0 or more ...
 *   throw error;
 * }
 * ```
 */
export class OutputCacheConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputCacheConfigError';
  }
}
