import { BadRequestException } from '@nestjs/common';

/** Filters and page of an entries listing (`GET <path>/entries`). */
export interface EntriesQuery {
  /** Only entries of this route id (`Catalog/category`). */
  route?: string;
  /** Only entries carrying this tag (`Product:42`). */
  tag?: string;
  /** Only entries whose normalised path starts with this (`/blog`). */
  prefix?: string;
  /** Entries to pass over. Default 0. */
  skip: number;
  /** Entries to return. Default 50 (or `maxTake` if lower), at most `maxTake`. */
  take: number;
}

/** What a purge selects (`POST <path>/purge`): one of `key`, `route`, `tag`, `prefix`, `all`. */
export type PurgeSelector =
  | { by: 'key'; values: string[] }
  | { by: 'route'; values: string[] }
  | { by: 'tag'; values: string[] }
  | { by: 'prefix'; values: string[] }
  | { by: 'all'; values: [] };

/** A validated purge request. */
export type PurgeRequest = PurgeSelector & { soft: boolean };

const MAX_VALUE = 2048;
const MAX_VALUES = 100;
const MAX_SKIP = 1_000_000;

function bad(message: string): never {
  throw new BadRequestException(message);
}

/** Refuses fields outside `allowed`, naming them. */
function onlyKnown(what: string, input: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(input).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) {
    bad(
      `unknown ${what} field${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; allowed: ${allowed.join(', ')}`,
    );
  }
}

function text(field: string, value: unknown, optional: true): string | undefined;
function text(field: string, value: unknown, optional?: false): string;
function text(field: string, value: unknown, optional = false): string | undefined {
  if (value === undefined || (optional && value === '')) {
    if (optional) return undefined;
    bad(`field "${field}" is required`);
  }
  if (typeof value !== 'string') bad(`field "${field}" must be a string, got ${describe(value)}`);
  if (value.length === 0) bad(`field "${field}" must not be empty`);
  if (value.length > MAX_VALUE) bad(`field "${field}" is longer than ${MAX_VALUE} characters`);
  return value;
}

function integer(
  field: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    bad(`field "${field}" must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return n;
}

function prefixOf(field: string, value: string): string {
  if (!value.startsWith('/'))
    bad(`field "${field}" must be a path starting with "/", got "${value}"`);
  return value;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  return value === null ? 'null' : typeof value;
}

/**
 * Validates the query of an entries listing: `route`, `tag`, `prefix`, `skip`, `take`; anything
 * else, a repeated field or a malformed value answers 400 with a message naming the field.
 */
export function parseEntriesQuery(query: Record<string, unknown>, maxTake: number): EntriesQuery {
  onlyKnown('query', query, ['route', 'tag', 'prefix', 'skip', 'take']);
  const prefix = text('prefix', query.prefix, true);
  return {
    route: text('route', query.route, true),
    tag: text('tag', query.tag, true),
    prefix: prefix === undefined ? undefined : prefixOf('prefix', prefix),
    skip: integer('skip', query.skip, 0, 0, MAX_SKIP),
    take: integer('take', query.take, Math.min(50, maxTake), 1, maxTake),
  };
}

/** Validates the query of a one-entry read: `key`. */
export function parseKeyQuery(query: Record<string, unknown>): string {
  onlyKnown('query', query, ['key']);
  return text('key', query.key);
}

const SELECTORS = ['key', 'route', 'tag', 'prefix', 'all'] as const;

/**
 * Validates a JSON purge: exactly one of `key` (one key), `route`, `tag` (a string or a list of
 * up to 100), `prefix` (a path) or `all: true`; and `soft` (boolean, default false).
 */
export function parsePurgeBody(body: unknown): PurgeRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    bad('the body must be a JSON object such as {"tag": "Product:42"}');
  }
  const input = body as Record<string, unknown>;
  onlyKnown('body', input, [...SELECTORS, 'soft']);
  const given = SELECTORS.filter((name) => input[name] !== undefined);
  if (given.length !== 1) {
    bad(
      `give exactly one of ${SELECTORS.join(', ')}; got ${given.length === 0 ? 'none' : given.join(' and ')}`,
    );
  }
  if (input.soft !== undefined && typeof input.soft !== 'boolean') {
    bad(`field "soft" must be true or false, got ${describe(input.soft)}`);
  }
  const soft = input.soft === true;
  const by = given[0];
  const value = input[by];
  if (by === 'all') {
    if (value !== true) bad(`field "all" must be true, got ${describe(value)}`);
    return { by, values: [], soft };
  }
  if (by === 'key') return { by, values: [text('key', value)], soft };
  if (by === 'prefix') return { by, values: [prefixOf('prefix', text('prefix', value))], soft };
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_VALUES) {
    bad(`field "${by}" must hold 1 to ${MAX_VALUES} values`);
  }
  return {
    by,
    values: list.map((v, i) => text(Array.isArray(value) ? `${by}[${i}]` : by, v)),
    soft,
  };
}

/**
 * Validates a purge posted by the dashboard's form (`application/x-www-form-urlencoded`):
 * `by` (key, route, tag, prefix, all), `value` (except for all), `soft` (`1` when checked),
 * `back` (the dashboard's query to return to).
 */
export function parsePurgeForm(body: unknown): PurgeRequest & { back: string } {
  if (typeof body !== 'object' || body === null) bad('the form is empty');
  const input = body as Record<string, unknown>;
  onlyKnown('form', input, ['by', 'value', 'soft', 'back']);
  const by = text('by', input.by);
  if (!(SELECTORS as readonly string[]).includes(by)) {
    bad(`field "by" must be one of ${SELECTORS.join(', ')}, got "${by.slice(0, 40)}"`);
  }
  if (input.soft !== undefined && input.soft !== '1') bad('field "soft" must be "1" when given');
  const back = text('back', input.back, true) ?? '';
  // Only a query of the dashboard itself: never a redirect elsewhere.
  if (back !== '' && !/^\?[A-Za-z0-9._~%&=+:/-]*$/.test(back))
    bad('field "back" must be a query string');
  const selector =
    by === 'all'
      ? ({ all: true } as Record<string, unknown>)
      : { [by]: text('value', input.value) };
  return { ...parsePurgeBody({ ...selector, soft: input.soft === '1' }), back };
}
