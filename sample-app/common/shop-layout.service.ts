import { Injectable } from '@nestjs/common';
import { SettingsService } from './settings.service.js';

/** What the shared layout shows around every page besides its components. */
export interface ShopLayoutModel {
  storeName: string;
  year: number;
}

/**
 * Builds the layout's data. Pages call it from their handler, so it is part of the cached page
 * and must be the same for every visitor with the same key. The rest of the header comes from
 * view components placed by the layout: the category menu, search box and currency selector
 * (cacheable, frozen into the page) and the mini cart (a hole, rendered for every visitor).
 */
@Injectable()
export class ShopLayoutService {
  constructor(private readonly settings: SettingsService) {}

  async model(): Promise<ShopLayoutModel> {
    // `StoreSettings.*` changes evict every page (CacheRulesService).
    const storeName = await this.settings.getString('StoreSettings.Name', 'Shop');
    return { storeName, year: new Date().getFullYear() };
  }
}
