import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { OutputCacheProvider } from '../../lib/index.js';
import { SettingsService } from '../common/settings.service.js';
import { Product } from '../entities/product.entity.js';
import type { UpdateProductDto } from './update-product.dto.js';

/**
 * Back-office writes. After each save the pages that showed the entity are evicted by its tag
 * (`Product:7`), the tag the catalog announced while rendering them: the next visitor sees the
 * change at once, whatever the TTL.
 */
@Injectable()
export class AdminService {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    private readonly settings: SettingsService,
    private readonly outputCache: OutputCacheProvider,
  ) {}

  async updateProduct(
    id: number,
    changes: UpdateProductDto,
  ): Promise<{ product: Product; evicted: number }> {
    const product = await this.products.findOneBy({ id });
    if (!product) throw new NotFoundException(`No product ${id}`);
    const { name, price, description } = validate(changes);
    if (name !== undefined) product.name = name;
    if (price !== undefined) product.price = price;
    if (description !== undefined) product.description = description;
    await this.products.save(product);
    const evicted = await this.outputCache.invalidateByTag(`Product:${product.id}`);
    return { product, evicted };
  }

  async updateSetting(key: string, value: unknown): Promise<{ key: string; evicted: number }> {
    if (typeof value !== 'string') throw new BadRequestException('"value" must be a string');
    const setting = await this.settings.update(key, value);
    const evicted = await this.outputCache.invalidateByTag(`Setting:${setting.id}`);
    return { key, evicted };
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
}

function validate(body: unknown): UpdateProductDto {
  if (typeof body !== 'object' || body === null) {
    throw new BadRequestException('JSON body expected');
  }
  const { name, price, description } = body as Record<string, unknown>;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new BadRequestException('"name" must be a non-empty string');
  }
  if (price !== undefined && (typeof price !== 'number' || !Number.isFinite(price) || price < 0)) {
    throw new BadRequestException('"price" must be a number >= 0');
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new BadRequestException('"description" must be a string');
  }
  return { name: name?.trim(), price, description };
}
