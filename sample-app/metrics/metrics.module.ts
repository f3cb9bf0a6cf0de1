import { type DynamicModule, Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { OutputCacheMetricsModule } from '../../lib/prometheus.js';
import { MetricsController } from './metrics.controller.js';

/**
 * The shop's Prometheus metrics at `/metrics`. A registry of its own per app, so that several
 * shops in one process (the tests start a few) never register the same metric twice; a real
 * app would usually take prom-client's default registry: `OutputCacheMetricsModule.forRoot()`.
 */
@Module({})
export class MetricsModule {
  static forRoot(): DynamicModule {
    return {
      module: MetricsModule,
      imports: [OutputCacheMetricsModule.forRoot({ registry: new Registry() })],
      controllers: [MetricsController],
    };
  }
}
