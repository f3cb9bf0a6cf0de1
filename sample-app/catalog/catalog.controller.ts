import { Controller, Get, Param, Query, Render } from '@nestjs/common';
import { Cacheable } from '../../lib/index.js';
import { Currency } from '../common/currency.decorator.js';
import { type CurrencyCode, formatPrice } from '../common/currency.js';
import { SettingsService } from '../common/settings.service.js';
import { ShopLayoutService } from '../common/shop-layout.service.js';
import { CatalogService, PRODUCT_SORTS, type ProductSort } from './catalog.service.js';
import { toProductCard } from './product-card.js';
import { ReviewService } from './review.service.js';

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
    private readonly reviews: ReviewService,
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
      this.layout.model(),
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

  /**
   * Route id `Catalog/product`; evicted as soon as the product (or one of its reviews) changes.
   * The page places two holes, rendered for every visitor even on hits: the recently viewed
   * products and the review form's CSRF token.
   */
  @Cacheable()
  @Get('product/:slug')
  @Render('product')
  async product(@Param('slug') slug: string, @Currency() currency: CurrencyCode) {
    const productWithReviews = this.catalog
      .productBySlug(slug)
      .then(async (product) => ({ product, reviews: await this.reviews.forProduct(product) }));
    const [shop, { product, reviews }, showSku] = await Promise.all([
      this.layout.model(),
      productWithReviews,
      this.settings.getBoolean('CatalogSettings.ShowProductSku', false),
    ]);
    return {
      title: product.name,
      shop,
      product: {
        id: product.id,
        name: product.name,
        slug: product.slug,
        sku: showSku ? product.sku : undefined,
        price: formatPrice(product.price, currency),
        description: product.description,
        category: product.category,
      },
      reviews: reviews.map((review) => ({
        author: review.author,
        stars: '★'.repeat(review.rating) + '☆'.repeat(5 - review.rating),
        rating: review.rating,
        body: review.body,
      })),
      freeShippingFrom: formatPrice(150, currency),
    };
  }

  /**
   * Route id `Catalog/search`. Only `q` is part of the key; every distinct query is an entry
   * (bounded by the cache's `maxEntries`/`maxBytes`).
   */
  @Cacheable({ query: ['q'] })
  @Get('search')
  @Render('search')
  async search(@Query('q') queryParam: unknown, @Currency() currency: CurrencyCode) {
    const query = typeof queryParam === 'string' ? queryParam.trim().slice(0, 100) : '';
    const [shop, products] = await Promise.all([
      this.layout.model(),
      query === '' ? Promise.resolve([]) : this.catalog.search(query),
    ]);
    return {
      title: query === '' ? 'Search' : `Search: ${query}`,
      shop,
      query,
      products: products.map((product) => toProductCard(product, currency)),
    };
  }
}
