import { BadRequestException, Controller, Get, Param, Query } from '@nestjs/common';
import { Cacheable } from '../../lib/index.js';
import {
  CURRENCIES,
  type CurrencyCode,
  DEFAULT_CURRENCY,
  formatPrice,
  isCurrencyCode,
} from '../common/currency.js';
import type { Category } from '../entities/category.entity.js';
import type { Product } from '../entities/product.entity.js';
import { CatalogService, PRODUCT_SORTS, type ProductSort } from './catalog.service.js';

/** Products per page of `GET /api/categories/:slug/products`. */
const API_PAGE_SIZE = 20;

/** A product as the JSON API sends it. */
export interface ProductJson {
  id: number;
  name: string;
  slug: string;
  description: string;
  price: { amount: number; currency: CurrencyCode; formatted: string };
  category: { id: number; name: string; slug: string };
}

/**
 * The catalog as JSON, for a storefront script or a mobile app: the pages a shop puts behind a
 * CDN. Unlike the HTML pages they have no holes (no cart, no CSRF token, nothing per visitor),
 * and the currency is in the URL (`?currency=EUR`) rather than in a cookie, so a shared cache,
 * which keys on the URL, serves every visitor the right variant. With `SAMPLE_CDN=varnish` these
 * responses carry their tags (`Product:7`, `Category:2`, `route:ProductApi/product`) in
 * `Surrogate-Key`, and a product edit bans them from Varnish too.
 *
 * Both routes opt out of the shop's `currency` vary-by (a cookie the CDN cannot see: with it,
 * the CDN would get no tags and keep nothing) and key on the `currency` query parameter instead.
 * An unknown currency answers 400 (not stored), so made-up values create no entries.
 */
@Controller('api')
export class ProductApiController {
  constructor(private readonly catalog: CatalogService) {}

  /** Route id `ProductApi/product`: `GET /api/products/ridgeline-2-tent?currency=EUR`. */
  @Cacheable({ varyBy: [], query: ['currency'] })
  @Get('products/:slug')
  async product(
    @Param('slug') slug: string,
    @Query('currency') currencyParam: unknown,
  ): Promise<ProductJson> {
    const currency = currencyFrom(currencyParam);
    // productBySlug announces the product and its category: their edits evict this entry.
    return toProductJson(await this.catalog.productBySlug(slug), currency);
  }

  /**
   * Route id `ProductApi/categoryProducts`: `GET /api/categories/tents/products?page=2&sort=name`,
   * twenty a page. Tagged with the category, every listed product and `Product` (the list: an
   * inserted or deleted product evicts it).
   */
  @Cacheable({ varyBy: [], query: ['currency', 'page', 'sort'] })
  @Get('categories/:slug/products')
  async categoryProducts(
    @Param('slug') slug: string,
    @Query('currency') currencyParam: unknown,
    @Query('page') pageParam: unknown,
    @Query('sort') sortParam: unknown,
  ) {
    const currency = currencyFrom(currencyParam);
    const sort = sortParam ?? 'name';
    if (typeof sort !== 'string' || !Object.hasOwn(PRODUCT_SORTS, sort)) {
      throw new BadRequestException(
        `sort must be one of ${Object.keys(PRODUCT_SORTS).join(', ')}, got ${String(sort)}`,
      );
    }
    const page = pageParam === undefined ? 1 : Number(pageParam);
    if (!Number.isInteger(page) || page < 1) {
      throw new BadRequestException(
        `page must be a whole number, 1 or more, got ${String(pageParam)}`,
      );
    }
    const category = await this.catalog.categoryBySlug(slug);
    const { items, total } = await this.catalog.productsInCategory(category, {
      page,
      pageSize: API_PAGE_SIZE,
      sort: sort as ProductSort,
    });
    return {
      category: categoryJson(category),
      page,
      pageSize: API_PAGE_SIZE,
      total,
      products: items.map((product) => toProductJson(product, currency)),
    };
  }
}

/** The `currency` query parameter: USD when absent, 400 when not a currency the shop sells in. */
function currencyFrom(value: unknown): CurrencyCode {
  if (value === undefined) return DEFAULT_CURRENCY;
  if (isCurrencyCode(value)) return value;
  throw new BadRequestException(
    `currency must be one of ${Object.keys(CURRENCIES).join(', ')}, got ${String(value)}`,
  );
}

function toProductJson(product: Product, currency: CurrencyCode): ProductJson {
  return {
    id: product.id,
    name: product.name,
    slug: product.slug,
    description: product.description,
    price: {
      amount: Math.round(product.price * CURRENCIES[currency].rate * 100) / 100,
      currency,
      formatted: formatPrice(product.price, currency),
    },
    category: categoryJson(product.category),
  };
}

function categoryJson(category: Category) {
  return { id: category.id, name: category.name, slug: category.slug };
}
