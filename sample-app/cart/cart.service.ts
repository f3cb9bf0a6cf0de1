import { Injectable } from '@nestjs/common';
import { CatalogService } from '../catalog/catalog.service.js';
import { type CurrencyCode, formatPrice } from '../common/currency.js';

/** Most items a cart cookie holds (a cookie is limited to about 4 KB). */
const MAX_ITEMS = 100;

export interface CartLine {
  productId: number;
  name: string;
  slug: string;
  quantity: number;
  unitPrice: string;
  lineTotal: string;
}

export interface CartSummary {
  count: number;
  lines: CartLine[];
  total: string;
  currency: CurrencyCode;
}

/**
 * A cookie cart: the `cart` cookie lists product ids, once per unit (`3,3,7`). Nothing about it
 * is cached: pages show it only through the `MiniCart` hole, rendered for every response.
 */
@Injectable()
export class CartService {
  constructor(private readonly catalog: CatalogService) {}

  /** The product ids of a `cart` cookie value, ignoring anything malformed. */
  parse(cookie: unknown): number[] {
    if (typeof cookie !== 'string' || cookie === '') return [];
    return cookie
      .split(',')
      .map((id) => Number(id))
      .filter((id) => Number.isSafeInteger(id) && id > 0)
      .slice(0, MAX_ITEMS);
  }

  /** Adds one unit of a product and returns the new cookie value. */
  async add(cookie: unknown, productId: number): Promise<{ ids: number[]; cookie: string }> {
    await this.catalog.productById(productId); // 404 for an unknown product
    const ids = [...this.parse(cookie), productId].slice(-MAX_ITEMS);
    return { ids, cookie: ids.join(',') };
  }

  async summary(ids: number[], currency: CurrencyCode): Promise<CartSummary> {
    const products = await this.catalog.productsByIds([...new Set(ids)]);
    const quantities = new Map<number, number>();
    for (const id of ids) quantities.set(id, (quantities.get(id) ?? 0) + 1);
    let total = 0;
    const lines = products.map((product) => {
      const quantity = quantities.get(product.id) ?? 0;
      total += product.price * quantity;
      return {
        productId: product.id,
        name: product.name,
        slug: product.slug,
        quantity,
        unitPrice: formatPrice(product.price, currency),
        lineTotal: formatPrice(product.price * quantity, currency),
      };
    });
    return {
      count: lines.reduce((n, line) => n + line.quantity, 0),
      lines,
      total: formatPrice(total, currency),
      currency,
    };
  }
}
