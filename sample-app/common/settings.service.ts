import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DisplayControl } from '../../lib/index.js';
import { Setting } from '../entities/setting.entity.js';
import { DataLatency } from './data-latency.service.js';

/** Typed access to the `Setting` table. Settings a page reads are announced to the cache. */
@Injectable()
export class SettingsService {
  constructor(
    @InjectRepository(Setting) private readonly settings: Repository<Setting>,
    private readonly latency: DataLatency,
    private readonly displayControl: DisplayControl,
  ) {}

  async getString(key: string, fallback: string): Promise<string> {
    await this.latency.wait();
    const setting = await this.settings.findOneBy({ key });
    // The page now depends on this setting: editing it evicts the page.
    this.displayControl.announce(setting);
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

  /** Changes an existing setting. */
  async update(key: string, value: string): Promise<Setting> {
    const setting = await this.settings.findOneBy({ key });
    if (!setting) throw new NotFoundException(`No setting "${key}"`);
    setting.value = value;
    return this.settings.save(setting);
  }
}
