import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseIntPipe,
  Patch,
  Post,
} from '@nestjs/common';
import { AdminService } from './admin.service.js';
import { UpdateCategoryDto } from './update-category.dto.js';
import { UpdateProductDto } from './update-product.dto.js';

/**
 * A minimal JSON back office. A real shop puts a guard here; the output cache never serves
 * `/admin/**` (the module's `exclude` option), even if a handler here were made cacheable.
 */
@Controller('admin')
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  /** `PATCH /admin/products/7` with `{ "name": "...", "price": 12.5, "costPrice": 7 }`. */
  @Patch('products/:id')
  updateProduct(@Param('id', ParseIntPipe) id: number, @Body() body: UpdateProductDto) {
    return this.admin.updateProduct(id, body);
  }

  /** `PATCH /admin/categories/2` with `{ "name": "Rucksacks" }`. */
  @Patch('categories/:id')
  updateCategory(@Param('id', ParseIntPipe) id: number, @Body() body: UpdateCategoryDto) {
    return this.admin.updateCategory(id, body);
  }

  /** `PATCH /admin/settings/CatalogSettings.ShowProductSku` with `{ "value": "false" }`. */
  @Patch('settings/:key')
  updateSetting(@Param('key') key: string, @Body() body: unknown) {
    return this.admin.updateSetting(key, body);
  }

  /**
   * What the output cache holds: `{ count, stats, entries, pendingEvictions }` (evictions the
   * store refused, queued until it answers). 503 while the store does not answer.
   */
  @Get('cache')
  cache() {
    return this.admin.cache();
  }

  /** `{ evicted }`; 503 while the store does not answer (the eviction is queued and made later). */
  @Delete('cache')
  clearCache() {
    return this.admin.clearCache();
  }

  /**
   * `POST /admin/outage` with `{ "down": true }` simulates a database outage: every data access
   * of the shop answers 503 until `{ "down": false }`. Cached pages are served stale meanwhile.
   */
  @Post('outage')
  @HttpCode(200)
  setOutage(@Body() body: unknown) {
    return this.admin.setOutage(body);
  }

  /**
   * `POST /admin/reset` (no body): the shop's data back to the seed, the outage off, the cache
   * emptied. Answers `{ "reset": true, "evicted": n }`.
   */
  @Post('reset')
  @HttpCode(200)
  reset(@Body() body: unknown) {
    return this.admin.reset(body);
  }

  /** `{ "down": false }`: whether the simulated outage is on. */
  @Get('outage')
  outage() {
    return this.admin.outage();
  }
}
