import { Global, Module } from '@nestjs/common';
import { SeedService } from './seed.service.js';

/** Seeds an empty database on start; global so that the back office can reset the data. */
@Global()
@Module({ providers: [SeedService], exports: [SeedService] })
export class SeedModule {}
