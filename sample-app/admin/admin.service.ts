import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { OutputCacheProvider } from '../../lib/index.js';
import { DataLatency } from '../common/data-latency.service.js';
import { SettingsService } from '../common/settings.service.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import type { Setting } from '../entities/setting.entity.js';
import type { UpdateCategoryDto } from './update-category.dto.js';
import type { UpdateProductDto } from './update-product.dto.js';

/**
 * Back-office writes. None of them evicts anything by hand: each one saves through a TypeORM
 * repository, and the output cache's subscriber evicts, once the write has committed, the pages
 * that announced the entity (`Product:7`, `Category:2`), or runs the rules of CacheRulesService
 * (settings, a product's cost price). `save` resolves after that eviction, so the next request
 * already renders the change.
 */
@Injectable()
export class AdminService {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    @InjectRepository(Category) private readonly categories: Repository<Category>,
    private readonly settings: SettingsService,
    private readonly outputCache: OutputCacheProvider,
    private readonly database: DataLatency,
  ) {}

  async updateProduct(id: number, changes: unknown): Promise<{ product: Product }> {
    const product = await this.products.findOneBy({ id });
    if (!product) throw new NotFoundException(`No product ${id}`);
    const { name, price, costPrice, description } = validateProduct(changes);
    if (name !== undefined) product.name = name;
    if (price !== undefined) product.price = price;
    if (costPrice !== undefined) product.costPrice = costPrice;
    if (description !== undefined) product.description = description;
    return { product: await this.products.save(product) };
  }

  async updateCategory(id: number, changes: unknown): Promise<{ category: Category }> {
    const category = await this.categories.findOneBy({ id });
    if (!category) throw new NotFoundException(`No category ${id}`);
    const { name } = validateCategory(changes);
    if (name !== undefined) category.name = name;
    return { category: await this.categories.save(category) };
  }

  async updateSetting(key: string, value: unknown): Promise<{ setting: Setting }> {
    if (typeof value !== 'string') throw new BadRequestException('"value" must be a string');
    return { setting: await this.settings.update(key, value) };
  }

  async cache() {
    const [count, entries] = await Promise.all([
      this.outputCache.count(),
      this.outputCache.list({ take: 50 }),
    ]);
    return { count, stats: this.outputCache.stats(), entries };
  }

  async clearCache(): Promise<{ evicted: number }> {
    return { evicted: await this.outputCache.invalidateAll() };
  }

  setOutage(down: unknown): { down: boolean } {
    if (typeof down !== 'boolean') throw new BadRequestException('"down" must be true or false');
    this.database.setDown(down);
    return this.outage();
  }

  outage(): { down: boolean } {
    return { down: this.database.down };
  }
}

function validateProduct(body: unknown): UpdateProductDto {
  if (typeof body !== 'object' || body === null) {
    throw new BadRequestException('JSON body expected');
  }
  const { name, price, costPrice, description } = body as Record<string, unknown>;
  checkName(name);
  for (const [field, value] of Object.entries({ price, costPrice })) {
    if (
      value !== undefined &&
      (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    ) {
      throw new BadRequestException(`"${field}" must be a number >= 0`);
    }
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new BadRequestException('"description" must be a string');
  }
  return {
    name: name?.trim(),
    price: price as number | undefined,
    costPrice: costPrice as number | undefined,
    description,
  };
}

function validateCategory(body: unknown): UpdateCategoryDto {
  if (typeof body !== 'object' || body === null) {
    throw new BadRequestException('JSON body expected');
  }
  const { name } = body as Record<string, unknown>;
  checkName(name);
  return { name: name?.trim() };
}

function checkName(name: unknown): asserts name is string | undefined {
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new BadRequestException('"name" must be a non-empty string');
  }
}
