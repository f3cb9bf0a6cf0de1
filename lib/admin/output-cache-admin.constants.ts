/** Token of the admin module's resolved options. */
export const OUTPUT_CACHE_ADMIN_OPTIONS = Symbol('OUTPUT_CACHE_ADMIN_OPTIONS');
