import { type CurrencyCode, formatPrice } from '../common/currency.js';
import type { Product } from '../entities/product.entity.js';

/** A product as the `product-card` partial shows it. */
export interface ProductCard {
  id: number;
  name: string;
  slug: string;
  price: string;
  categoryName: string;
}

export function toProductCard(product: Product, currency: CurrencyCode): ProductCard {
  return {
    id: product.id,
    name: product.name,
    slug: product.slug,
    price: formatPrice(product.price, currency),
    categoryName: product.category.name,
  };
}
