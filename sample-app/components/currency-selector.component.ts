import { Injectable } from '@nestjs/common';
import {
  CacheableComponent,
  type ComponentContext,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { CURRENCIES, type CurrencyCode, currencyOf } from '../common/currency.js';

/**
 * Links to `/currency/{code}`, the active one marked. Cacheable although it reads the request:
 * it declares its one input, the currency, so every page that shows it is keyed by the currency
 * too (its route lists no vary-by names: the declaration bubbles up to the page).
 */
@CacheableComponent()
@ViewComponent({ name: 'CurrencySelector', varyBy: ['currency'] })
@Injectable()
export class CurrencySelectorComponent implements ViewComponentRenderer<Record<string, never>> {
  render(_args: Record<string, never>, { req }: ComponentContext): string {
    const active = currencyOf(req);
    const links = (Object.keys(CURRENCIES) as CurrencyCode[]).map(
      (code) =>
        `<a href="/currency/${code}" rel="nofollow"${code === active ? ' class="active"' : ''}>${code}</a>`,
    );
    return `<span class="currency">${links.join('')}</span>`;
  }
}
