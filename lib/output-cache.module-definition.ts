import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { OutputCacheModuleOptions } from './output-cache.options.js';

/** Token of the options with every default applied. */
export const RESOLVED_OPTIONS = Symbol('OUTPUT_CACHE_RESOLVED_OPTIONS');

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: OUTPUT_CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<OutputCacheModuleOptions>({ moduleName: 'OutputCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createOutputCacheOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
