import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { DisplayControl } from '../../lib/index.js';
import { DataLatency } from '../common/data-latency.service.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';

export const PRODUCT_SORTS = {
  name: { name: 'ASC' },
  'price-asc': { price: 'ASC' },
  'price-desc': { price: 'DESC' },
} as const;

export type ProductSort = keyof typeof PRODUCT_SORTS;

/**
 * Reads the catalog. Each method tells the output cache what the page shows: the entities it
 * loads (`Product:7`), and for lists the entity type (`Product`), so that editing a product
 * evicts every page that shows it.
 */
@Injectable()
export class CatalogService {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    @InjectRepository(Category) private readonly categories: Repository<Category>,
    private readonly latency: DataLatency,
    private readonly displayControl: DisplayControl,
  ) {}

  async featuredProducts(take = 8): Promise<Product[]> {
    await this.latency.wait();
    const products = await this.products.find({ order: { id: 'ASC' }, take });
    this.displayControl.announceList(Product);
    this.displayControl.announce(products);
    return products;
  }

  /**
   * Every category, by name. Not announced here: the caller (the `CategoryMenu` component)
   * announces what it shows.
   */
  async allCategories(): Promise<Category[]> {
    await this.latency.wait();
    return this.categories.find({ order: { name: 'ASC' } });
  }

  /** Products whose name contains `query` (case-insensitive), by name. */
  async search(query: string, take = 24): Promise<Product[]> {
    await this.latency.wait();
    // LIKE wildcards typed by the visitor are taken literally.
    const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const products = await this.products
      .createQueryBuilder('product')
      .leftJoinAndSelect('product.category', 'category')
      .where(`UPPER(product.name) LIKE UPPER(:pattern) ESCAPE '\\'`, { pattern })
      .orderBy('product.name', 'ASC')
      .addOrderBy('product.id', 'ASC')
      .take(take)
      .getMany();
    // Inserts and deletes evict `Product`, edits of a listed product its own tag. A product
    // renamed so that it now matches shows up when the entry expires (the cache's TTL).
    this.displayControl.announceList(Product);
    this.displayControl.announce(products);
    return products;
  }

  async categoryBySlug(slug: string): Promise<Category> {
    await this.latency.wait();
    const category = await this.categories.findOneBy({ slug });
    if (!category) throw new NotFoundException(`No category "${slug}"`);
    this.displayControl.announce(category);
    return category;
  }

  async productsInCategory(
    category: Category,
    options: { page: number; pageSize: number; sort: ProductSort },
  ): Promise<{ items: Product[]; total: number }> {
    await this.latency.wait();
    const [items, total] = await this.products.findAndCount({
      where: { category: { id: category.id } },
      order: { ...PRODUCT_SORTS[options.sort], id: 'ASC' },
      skip: (options.page - 1) * options.pageSize,
      take: options.pageSize,
    });
    this.displayControl.announceList(Product);
    this.displayControl.announce(items);
    return { items, total };
  }

  async productBySlug(slug: string): Promise<Product> {
    await this.latency.wait();
    const product = await this.products.findOneBy({ slug });
    if (!product) throw new NotFoundException(`No product "${slug}"`);
    this.displayControl.announce(product);
    this.displayControl.announce(product.category);
    return product;
  }

  async productById(id: number): Promise<Product> {
    await this.latency.wait();
    const product = await this.products.findOneBy({ id });
    if (!product) throw new NotFoundException(`No product ${id}`);
    return product;
  }

  async productsByIds(ids: number[]): Promise<Product[]> {
    if (ids.length === 0) return [];
    await this.latency.wait();
    return this.products.findBy({ id: In(ids) });
  }
}
