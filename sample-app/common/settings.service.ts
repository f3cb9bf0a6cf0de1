import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Setting } from '../entities/setting.entity.js';
import { DataLatency } from './data-latency.service.js';

/**
 * Typed access to the `Setting` table.
 *
 * Settings a page reads are not announced to the cache (that would tag nearly every page with
 * the store name's setting). Which pages a setting affects is declared once instead, with
 * `InvalidationObserver.observeSetting` in CacheRulesService: a page that starts reading a new
 * setting needs a rule there, or it shows the old value until its entry expires.
 */
@Injectable()
export class SettingsService {
  constructor(
    @InjectRepository(Setting) private readonly settings: Repository<Setting>,
    private readonly latency: DataLatency,
  ) {}

  async getString(key: string, fallback: string): Promise<string> {
    await this.latency.wait();
    const setting = await this.settings.findOneBy({ key });
    return setting?.value ?? fallback;
  }

  async getBoolean(key: string, fallback: boolean): Promise<boolean> {
    const value = await this.getString(key, String(fallback));
    return value.toLowerCase() === 'true';
  }

  async getNumber(key: string, fallback: number): Promise<number> {
    const value = Number(await this.getString(key, String(fallback)));
    return Number.isFinite(value) && value > 0 ? value : fallback;
  }

  /**
   * Changes an existing setting. Saved through the repository, so the output cache's TypeORM
   * subscriber sees the change (old and new value) and runs the matching setting observers.
   */
  async update(key: string, value: string): Promise<Setting> {
    const setting = await this.settings.findOneBy({ key });
    if (!setting) throw new NotFoundException(`No setting "${key}"`);
    setting.value = value;
    return this.settings.save(setting);
  }
}
