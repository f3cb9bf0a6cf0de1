import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import { CatalogController } from './catalog.controller.js';
import { CatalogService } from './catalog.service.js';
import { HomeController } from './home.controller.js';

@Module({
  imports: [TypeOrmModule.forFeature([Category, Product])],
  controllers: [HomeController, CatalogController],
  providers: [CatalogService],
  exports: [CatalogService],
})
export class CatalogModule {}
