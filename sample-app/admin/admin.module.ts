import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OutputCacheAdminModule } from '../../lib/index.js';
import { Category } from '../entities/category.entity.js';
import { Product } from '../entities/product.entity.js';
import { AdminLoginController } from './admin-login.controller.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminTokenModule } from './admin-token.module.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([Product, Category]),
    // The cache dashboard and its JSON API at /admin/output-cache, behind the demo token guard.
    AdminTokenModule,
    OutputCacheAdminModule.forRoot({
      path: 'admin/output-cache',
      guard: AdminTokenGuard,
      imports: [AdminTokenModule],
    }),
  ],
  controllers: [AdminController, AdminLoginController],
  providers: [AdminService],
})
export class AdminModule {}
