import { Injectable } from '@nestjs/common';
import {
  CacheableComponent,
  DisplayControl,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { CatalogService } from '../catalog/catalog.service.js';
import { Category } from '../entities/category.entity.js';
import { escapeHtml } from './html.js';

/**
 * The category navigation. Cacheable, so it is frozen into every cached page: it announces the
 * categories it shows (it renders while the page is being stored, inside that page's
 * DisplayControl context), and renaming, adding or deleting a category evicts every page that
 * shows the menu.
 */
@CacheableComponent()
@ViewComponent('CategoryMenu')
@Injectable()
export class CategoryMenuComponent implements ViewComponentRenderer<Record<string, never>> {
  constructor(
    private readonly catalog: CatalogService,
    private readonly displayControl: DisplayControl,
  ) {}

  async render(): Promise<string> {
    const categories = await this.catalog.allCategories();
    this.displayControl.announceList(Category); // added or deleted categories
    this.displayControl.announce(categories); // renamed ones
    return categories
      .map((c) => `<a href="/category/${escapeHtml(c.slug)}">${escapeHtml(c.name)}</a>`)
      .join('');
  }
}
