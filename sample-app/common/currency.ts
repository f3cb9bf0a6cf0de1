/** The currencies the shop sells in, with a fixed rate from USD (a real shop would fetch them). */
export const CURRENCIES = {
  USD: { rate: 1, locale: 'en-US' },
  EUR: { rate: 0.92, locale: 'en-IE' },
  GBP: { rate: 0.79, locale: 'en-GB' },
} as const;

export type CurrencyCode = keyof typeof CURRENCIES;

export const DEFAULT_CURRENCY: CurrencyCode = 'USD';

export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && Object.hasOwn(CURRENCIES, value);
}

/**
 * The visitor's currency, from the `currency` cookie. Unknown values fall back to USD, so that a
 * made-up cookie cannot create extra cache entries. Used both by the output cache's `varyBy` and
 * by the pages, so the key and the rendered prices always agree.
 */
export function currencyOf(req: { cookies?: Record<string, unknown> }): CurrencyCode {
  const value = req.cookies?.currency;
  return isCurrencyCode(value) ? value : DEFAULT_CURRENCY;
}

/** Formats a USD amount in the given currency, e.g. `$49.00`, `€45.08` or `£38.71`. */
export function formatPrice(usd: number, currency: CurrencyCode): string {
  const { rate, locale } = CURRENCIES[currency];
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(usd * rate);
}
