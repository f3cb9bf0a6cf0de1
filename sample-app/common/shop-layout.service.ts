import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DisplayControl } from '../../lib/index.js';
import { Category } from '../entities/category.entity.js';
import { CURRENCIES, type CurrencyCode } from './currency.js';
import { DataLatency } from './data-latency.service.js';
import { SettingsService } from './settings.service.js';

/** What the shared layout shows around every page: store name, navigation, currency switcher. */
export interface ShopLayoutModel {
  storeName: string;
  categories: { name: string; slug: string }[];
  currencies: { code: CurrencyCode; active: boolean }[];
  year: number;
}

/**
 * Builds the layout's data. Pages call it from their handler, so the layout is part of the
 * cached page: it must only hold what is the same for every visitor with the same key (the cart
 * count, per visitor, is fetched by the browser from `GET /cart`).
 */
@Injectable()
export class ShopLayoutService {
  constructor(
    @InjectRepository(Category) private readonly categories: Repository<Category>,
    private readonly settings: SettingsService,
    private readonly latency: DataLatency,
    private readonly displayControl: DisplayControl,
  ) {}

  async model(currency: CurrencyCode): Promise<ShopLayoutModel> {
    const storeName = await this.settings.getString('StoreSettings.Name', 'Shop');
    await this.latency.wait();
    const categories = await this.categories.find({ order: { name: 'ASC' } });
    // The navigation lists every category: a new, renamed or deleted one changes every page.
    this.displayControl.announceList(Category);
    this.displayControl.announce(categories);
    return {
      storeName,
      categories: categories.map(({ name, slug }) => ({ name, slug })),
      currencies: (Object.keys(CURRENCIES) as CurrencyCode[]).map((code) => ({
        code,
        active: code === currency,
      })),
      year: new Date().getFullYear(),
    };
  }
}
