import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Setting } from '../entities/setting.entity.js';
import { CurrencyController } from './currency.controller.js';
import { DataLatency } from './data-latency.service.js';
import { SettingsService } from './settings.service.js';
import { ShopLayoutService } from './shop-layout.service.js';

/** What every feature uses: settings, the layout's data, the simulated data latency. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([Setting])],
  controllers: [CurrencyController],
  providers: [DataLatency, SettingsService, ShopLayoutService],
  exports: [DataLatency, SettingsService, ShopLayoutService],
})
export class CommonModule {}
