import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isVaryRecord, OutputCacheProvider } from '../../lib/index.js';
import { DataLatency } from '../common/data-latency.service.js';
import { SettingsService } from '../common/settings.service.js';
import { SeedService } from '../seed/seed.service.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import type { Setting } from '../entities/setting.entity.js';
import type { UpdateCategoryDto } from './update-category.dto.js';
import type { UpdateProductDto } from './update-product.dto.js';
import { storeUnavailable } from './store-unavailable.js';

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
    private readonly seed: SeedService,
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

  async updateSetting(key: string, body: unknown): Promise<{ setting: Setting }> {
    const { value } = checkBody(body, 'PATCH /admin/settings/:key', ['value']);
    if (typeof value !== 'string') throw new BadRequestException('"value" must be a string');
    return { setting: await this.settings.update(key, value) };
  }

  async cache() {
    const [count, entries] = await Promise.all([
      this.outputCache.count(),
      this.outputCache.list({ take: 50 }),
    ]).catch(storeUnavailable('the listing', { eviction: false }));
    // Evictions the store refused wait to be made again: how many (0 once it took them all).
    const pendingEvictions = this.outputCache.pendingEvictions;
    // Pages only: a URL's vary record (which vary-by names its page read) is not one.
    const pages = entries.filter((entry) => !isVaryRecord(entry));
    return { count, stats: this.outputCache.stats(), entries: pages, pendingEvictions };
  }

  async clearCache(): Promise<{ evicted: number }> {
    // While the store is down this is a 503 saying so, not a bare 500: the provider queued the
    // eviction and makes it once the store answers.
    return { evicted: await this.outputCache.invalidateAll().catch(storeUnavailable('the purge')) };
  }

  setOutage(body: unknown): { down: boolean } {
    const { down } = checkBody(body, 'POST /admin/outage', ['down']);
    if (typeof down !== 'boolean') throw new BadRequestException('"down" must be true or false');
    this.database.setDown(down);
    return this.outage();
  }

  outage(): { down: boolean } {
    return { down: this.database.down };
  }

  /**
   * Puts the shop back as it started: every product, category, post, setting and review is
   * deleted and the seed data written again (with the same ids), the simulated outage ends and
   * the whole output cache is evicted.
   */
  async reset(body: unknown): Promise<{ reset: true; evicted: number }> {
    checkBody(body ?? {}, 'POST /admin/reset', []);
    this.database.setDown(false);
    await this.seed.reset();
    // The seed's writes evicted what showed the old data; this takes the rest (pages that
    // showed a review, say) so that nothing rendered before the reset is served after it.
    const evicted = await this.outputCache
      .invalidateAll()
      .catch(storeUnavailable('the purge after the reset (the data is reset)'));
    return { reset: true, evicted };
  }
}

/**
 * `body` as an object with only `known` fields: an unknown one (a typo such as "nmae") answers
 * 400 naming it, instead of 200 with nothing changed.
 */
function checkBody(
  body: unknown,
  endpoint: string,
  known: readonly string[],
): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException(`${endpoint}: a JSON object body expected`);
  }
  const unknown = Object.keys(body).filter((field) => !known.includes(field));
  if (unknown.length > 0) {
    const takes =
      known.length > 0 ? `it takes ${known.map((f) => `"${f}"`).join(', ')}` : 'it takes no fields';
    const near = known.find((field) => closeTo(unknown[0]!, field));
    throw new BadRequestException(
      `${endpoint}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')}; ${takes}${near ? ` (did you mean "${near}"?)` : ''}`,
    );
  }
  return body as Record<string, unknown>;
}

/** A near miss: other casing, or one edit away on a name of 4 letters or more. */
function closeTo(given: string, field: string): boolean {
  const a = given.toLowerCase();
  const b = field.toLowerCase();
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1 || b.length < 4) return false;
  const sorted = (text: string) => [...text].sort().join('');
  return sorted(a) === sorted(b) || a.includes(b) || b.includes(a) || editsAtMostOne(a, b);
}

function editsAtMostOne(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  let edits = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
      continue;
    }
    if (++edits > 1) return false;
    if (a.length > b.length) i++;
    else if (b.length > a.length) j++;
    else {
      i++;
      j++;
    }
  }
  return edits + (a.length - i) + (b.length - j) <= 1;
}

function validateProduct(body: unknown): UpdateProductDto {
  const { name, price, costPrice, description } = checkBody(body, 'PATCH /admin/products/:id', [
    'name',
    'price',
    'costPrice',
    'description',
  ]);
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
  const { name } = checkBody(body, 'PATCH /admin/categories/:id', ['name']);
  checkName(name);
  return { name: name?.trim() };
}

function checkName(name: unknown): asserts name is string | undefined {
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new BadRequestException('"name" must be a non-empty string');
  }
}
