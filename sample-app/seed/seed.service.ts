import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BlogPost } from '../entities/blog-post.entity.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import { Review } from '../entities/review.entity.js';
import { Setting } from '../entities/setting.entity.js';
import { SEED_CATEGORIES, SEED_POSTS, SEED_PRODUCTS, SEED_SETTINGS } from './seed-data.js';

/** Fills an empty database with the sample shop's content on start. */
@Injectable()
export class SeedService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SeedService.name);

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.dataSource.getRepository(Category).count()) > 0) return;
    await this.seed();
  }

  /**
   * Deletes every row of the shop's tables, restarts their ids (so `/product/1` is the first
   * seeded product again) and seeds them anew: `POST /admin/reset`.
   */
  async reset(): Promise<void> {
    const tables = this.dataSource.entityMetadatas.map((metadata) => metadata.tablePath);
    const quote = (path: string) =>
      path
        .split('.')
        .map((part) => `"${part.replace(/"/g, '""')}"`)
        .join('.');
    await this.dataSource.transaction(async (manager) => {
      if (this.dataSource.options.type === 'postgres') {
        await manager.query(`TRUNCATE ${tables.map(quote).join(', ')} RESTART IDENTITY CASCADE`);
        return;
      }
      // SQLite: children before parents (foreign keys), then the AUTOINCREMENT counters.
      for (const entity of [Review, Product, Category, BlogPost, Setting]) {
        await manager.createQueryBuilder().delete().from(entity).execute();
      }
      const names = tables.map((table) => `'${table.replace(/'/g, "''")}'`).join(', ');
      const counters = await manager.query(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`,
      );
      if (counters.length > 0)
        await manager.query(`DELETE FROM sqlite_sequence WHERE name IN (${names})`);
    });
    await this.seed();
  }

  private async seed(): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const categories = await manager.save(
        SEED_CATEGORIES.map((c) => manager.create(Category, c)),
      );
      const bySlug = new Map(categories.map((c) => [c.slug, c]));
      await manager.save(
        SEED_PRODUCTS.map(({ category, ...product }) =>
          manager.create(Product, {
            ...product,
            slug: slugify(product.name),
            // A made-up margin: the cost price is only ever seen in the back office.
            costPrice: Math.round(product.price * 55) / 100,
            category: bySlug.get(category),
          }),
        ),
      );
      await manager.save(
        SEED_POSTS.map((post) =>
          manager.create(BlogPost, { ...post, publishedAt: new Date(post.publishedAt) }),
        ),
      );
      await manager.save(SEED_SETTINGS.map((s) => manager.create(Setting, s)));
    });
    this.logger.log(
      `seeded ${SEED_CATEGORIES.length} categories, ${SEED_PRODUCTS.length} products, ${SEED_POSTS.length} blog posts`,
    );
  }
}

function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}
