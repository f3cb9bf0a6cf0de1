import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { OutputCacheMetrics } from '../../lib/prometheus.js';

/** `GET /metrics`: the Prometheus text exposition of the shop's registry (cache metrics). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: OutputCacheMetrics) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    const registry = this.metrics.registry;
    res.type(registry.contentType).send(await registry.metrics());
  }
}
