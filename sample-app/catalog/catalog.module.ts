import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import { Review } from '../entities/review.entity.js';
import { CatalogController } from './catalog.controller.js';
import { CatalogService } from './catalog.service.js';
import { HomeController } from './home.controller.js';
import { ProductApiController } from './product-api.controller.js';
import { ReviewController } from './review.controller.js';
import { ReviewService } from './review.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Category, Product, Review])],
  controllers: [HomeController, CatalogController, ReviewController, ProductApiController],
  providers: [CatalogService, ReviewService],
  exports: [CatalogService],
})
export class CatalogModule {}
