import { Controller, Get, Param, Query, Render } from '@nestjs/common';
import { Cacheable } from '../../lib/index.js';
import { Currency } from '../common/currency.decorator.js';
import { type CurrencyCode, formatPrice } from '../common/currency.js';
import { SettingsService } from '../common/settings.service.js';
import { ShopLayoutService } from '../common/shop-layout.service.js';
import { CatalogService, PRODUCT_SORTS, type ProductSort } from './catalog.service.js';
import { toProductCard } from './product-card.js';

const SORT_LABELS: Record<ProductSort, string> = {
  name: 'Name',
  'price-asc': 'Price: low to high',
  'price-desc': 'Price: high to low',
};

@Controller()
export class CatalogController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly layout: ShopLayoutService,
    private readonly settings: SettingsService,
  ) {}

  /**
   * Route id `Catalog/category`. Only `page` and `sort` are part of the key: tracking parameters
   * such as `?utm_source=...` share the entry.
   */
  @Cacheable({ query: ['page', 'sort'] })
  @Get('category/:slug')
  @Render('category')
  async category(
    @Param('slug') slug: string,
    @Query('page') pageParam: string | undefined,
    @Query('sort') sortParam: string | undefined,
    @Currency() currency: CurrencyCode,
  ) {
    const sort: ProductSort =
      sortParam && Object.hasOwn(PRODUCT_SORTS, sortParam) ? (sortParam as ProductSort) : 'name';
    const page = Math.max(1, Number.parseInt(pageParam ?? '1', 10) || 1);
    const [shop, category, pageSize] = await Promise.all([
      this.layout.model(currency),
      this.catalog.categoryBySlug(slug),
      this.settings.getNumber('CatalogSettings.ProductsPerPage', 6),
    ]);
    const { items, total } = await this.catalog.productsInCategory(category, {
      page,
      pageSize,
      sort,
    });
    const pageCount = Math.max(1, Math.ceil(total / pageSize));
    return {
      title: category.name,
      shop,
      category,
      total,
      products: items.map((product) => toProductCard(product, currency)),
      sorts: (Object.keys(SORT_LABELS) as ProductSort[]).map((value) => ({
        value,
        label: SORT_LABELS[value],
        active: value === sort,
      })),
      sort,
      pages: Array.from({ length: pageCount }, (_, i) => ({
        number: i + 1,
        active: i + 1 === page,
      })),
    };
  }

  /** Route id `Catalog/product`; kept five minutes, evicted as soon as the product is edited. */
  @Cacheable({ ttl: 300 })
  @Get('product/:slug')
  @Render('product')
  async product(@Param('slug') slug: string, @Currency() currency: CurrencyCode) {
    const [shop, product, showSku] = await Promise.all([
      this.layout.model(currency),
      this.catalog.productBySlug(slug),
      this.settings.getBoolean('CatalogSettings.ShowProductSku', false),
    ]);
    return {
      title: product.name,
      shop,
      product: {
        id: product.id,
        name: product.name,
        sku: showSku ? product.sku : undefined,
        price: formatPrice(product.price, currency),
        description: product.description,
        category: product.category,
      },
      freeShippingFrom: formatPrice(150, currency),
    };
  }
}
