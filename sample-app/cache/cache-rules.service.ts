import { Injectable, type OnModuleInit } from '@nestjs/common';
import { EntityTagRegistry, InvalidationObserver } from '../../lib/index.js';
import { Product } from '../entities/product.entity.js';
import { Review } from '../entities/review.entity.js';

/**
 * The shop's invalidation rules, beside the defaults of the output cache's TypeORM subscriber
 * (an edited entity evicts the pages that announced it; an inserted or deleted one also the
 * lists of its type).
 */
@Injectable()
export class CacheRulesService implements OnModuleInit {
  constructor(
    private readonly observer: InvalidationObserver,
    private readonly tags: EntityTagRegistry,
  ) {}

  onModuleInit(): void {
    // A review is part of its product's page: announcing one, or writing one, means its product.
    this.tags.register(Review, (review) => [`Product:${review.productId}`]);

    // The cost price is back-office data that no page shows: an edit of nothing else evicts
    // nothing. Any other changed column falls through to the default (the product's tags).
    this.observer.observeEntity(Product, (event) => {
      const { kind, changedColumns } = event;
      if (kind === 'update' && changedColumns.length > 0) {
        event.handled = changedColumns.every((column) => column === 'costPrice');
      }
    });

    // Settings are not announced by the pages that read them (SettingsService); each one says
    // here which pages it changes. Observers run only when the value really changed.
    this.observer.observeSetting('CatalogSettings.ShowProductSku', async ({ cache }) => {
      // Only the product page shows the SKU; product cards do not.
      await cache.invalidateByRoute('Catalog/product');
    });
    this.observer.observeSetting('CatalogSettings.ProductsPerPage', async ({ cache }) => {
      await cache.invalidateByRoute('Catalog/category');
    });
    // The store name is in every page's title and header: without an observer, a change of a
    // matching setting evicts everything.
    this.observer.observeSetting('StoreSettings.*');
  }
}
