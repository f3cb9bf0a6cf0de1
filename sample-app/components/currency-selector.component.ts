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
 * its only input, the currency, is part of every page's cache key (the `currency` vary-by), so
 * each cached variant holds the right selector.
 */
@CacheableComponent()
@ViewComponent('CurrencySelector')
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
