import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BlogPost } from '../entities/blog-post.entity.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import { Setting } from '../entities/setting.entity.js';
import { SEED_CATEGORIES, SEED_POSTS, SEED_PRODUCTS, SEED_SETTINGS } from './seed-data.js';

/** Fills an empty database with the sample shop's content on start. */
@Injectable()
export class SeedService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SeedService.name);

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.dataSource.getRepository(Category).count()) > 0) return;
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
