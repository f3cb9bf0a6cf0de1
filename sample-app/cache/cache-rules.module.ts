import { Module } from '@nestjs/common';
import { CacheRulesService } from './cache-rules.service.js';

/** Registers the shop's invalidation rules with the output cache at start. */
@Module({ providers: [CacheRulesService] })
export class CacheRulesModule {}
