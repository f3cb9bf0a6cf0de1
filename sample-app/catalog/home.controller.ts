import { Controller, Get, Render } from '@nestjs/common';
import { Cacheable } from '../../lib/index.js';
import { Currency } from '../common/currency.decorator.js';
import type { CurrencyCode } from '../common/currency.js';
import { ShopLayoutService } from '../common/shop-layout.service.js';
import { CatalogService } from './catalog.service.js';
import { toProductCard } from './product-card.js';

@Controller()
export class HomeController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly layout: ShopLayoutService,
  ) {}

  /** Route id `Home/index`: one entry per currency, evicted when a featured product changes. */
  @Cacheable()
  @Get()
  @Render('home')
  async index(@Currency() currency: CurrencyCode) {
    const [shop, featured] = await Promise.all([
      this.layout.model(),
      this.catalog.featuredProducts(),
    ]);
    return {
      title: 'Home',
      shop,
      featured: featured.map((product) => toProductCard(product, currency)),
    };
  }
}
