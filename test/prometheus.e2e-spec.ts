import 'reflect-metadata';
import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { register, Registry } from 'prom-client';
import {
  Cacheable,
  DisplayControl,
  OutputCacheConfigError,
  OutputCacheModule,
  OutputCacheProvider,
} from '../lib/index.js';
import { OutputCacheMetrics, OutputCacheMetricsModule } from '../lib/prometheus.js';
import { createSampleApp } from '../sample-app/create-sample-app.js';
import request from 'supertest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { until } from './helpers/wait.js';

@Controller('prom')
class PromController {
  constructor(private readonly display: DisplayControl) {}

  @Cacheable({ ttl: 60 })
  @Get('page')
  page() {
    this.display.announceTags('Prom:page');
    return '<p>page</p>';
  }

  @Cacheable({ ttl: 60 })
  @Get('cookie')
  cookie(@Res({ passthrough: true }) res: Response) {
    res.cookie('pref', 'dark');
    return '<p>cookie</p>';
  }
}

/** `GET /metrics` as an app would write it. */
@Controller('metrics')
class MetricsController {
  constructor(private readonly metrics: OutputCacheMetrics) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}

/** The value of one sample line of a text exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics (e2e)', () => {
  let t: TestApp;
  let registry: Registry;

  beforeAll(async () => {
    registry = new Registry();
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({ sessionCookie: 'sid' }),
        OutputCacheMetricsModule.forRoot({ registry }),
      ],
      controllers: [PromController, MetricsController],
    });
  });
  afterAll(() => t.close());

  it('serves conventional metrics of real requests, scraped over HTTP', async () => {
    const cache = t.app.get(OutputCacheProvider);
    await t.http().get('/prom/page');
    await until(() => cache.stats().stored === 1, 'the page to be stored');
    await t.http().get('/prom/page');
    await t.http().get('/prom/page');
    await t.http().get('/prom/page').set('Cookie', 'sid=1');
    await t.http().get('/prom/cookie');
    await cache.invalidateByTag('Prom:page');
    await until(() => cache.stats().misses === 2, 'both misses to end');

    const scraped = await t.http().get('/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = scraped.text;
    const requests = (route: string, result: string) =>
      sample(text, `output_cache_requests_total{route="${route}",result="${result}"}`);
    expect(requests('Prom/page', 'hit')).toBe(2);
    expect(requests('Prom/page', 'miss')).toBe(1);
    expect(requests('Prom/page', 'bypass')).toBe(1);
    expect(requests('Prom/cookie', 'miss')).toBe(1);
    expect(sample(text, 'output_cache_bypass_total{reason="authenticated"}')).toBe(1);
    expect(sample(text, 'output_cache_not_stored_total{reason="set-cookie"}')).toBe(1);
    expect(sample(text, 'output_cache_evictions_total{cause="tag"}')).toBe(1);
    expect(sample(text, 'output_cache_entries')).toBe(0);
    expect(sample(text, 'output_cache_bytes')).toBe(0);
    expect(sample(text, 'output_cache_store_errors_total')).toBe(0);
    expect(sample(text, 'output_cache_breaker_open')).toBe(0);
    expect(sample(text, 'output_cache_request_duration_seconds_count{result="hit"}')).toBe(2);
    expect(sample(text, 'output_cache_request_duration_seconds_count{result="miss"}')).toBe(2);
    expect(
      sample(text, 'output_cache_request_duration_seconds_bucket{le="+Inf",result="hit"}'),
    ).toBe(2);
    expect(text).toContain('# TYPE output_cache_requests_total counter');
    expect(text).toContain('# TYPE output_cache_request_duration_seconds histogram');

    // The gauges are read when scraped.
    await t.http().get('/prom/page');
    await until(() => cache.stats().stored === 2, 'the page to be stored again');
    const again = (await t.http().get('/metrics')).text;
    expect(sample(again, 'output_cache_entries')).toBe(1);
    expect(sample(again, 'output_cache_bytes')).toBeGreaterThan(0);
  });

  it('uses the default registry unless given one, and leaves it when the app closes', async () => {
    const app = await createTestApp({
      imports: [OutputCacheModule.forRoot(), OutputCacheMetricsModule.forRoot({ prefix: 'shop_' })],
      controllers: [PromController],
    });
    try {
      expect(register.getSingleMetric('shop_output_cache_requests_total')).toBeDefined();
      expect(app.app.get(OutputCacheMetrics).registry).toBe(register);
    } finally {
      await app.close();
    }
    expect(register.getSingleMetric('shop_output_cache_requests_total')).toBeUndefined();
  });

  it('refuses a second app on the same registry with a message that says what to do', async () => {
    await expect(
      createTestApp({
        imports: [OutputCacheModule.forRoot(), OutputCacheMetricsModule.forRoot({ registry })],
        controllers: [PromController],
      }),
    ).rejects.toThrow(/already has a metric named output_cache_requests_total.*own registry/);
  });

  it('checks its options at start-up', () => {
    expect(() => OutputCacheMetricsModule.forRoot({ prefix: 'shop-' })).toThrow(
      OutputCacheConfigError,
    );
    expect(() => OutputCacheMetricsModule.forRoot({ buckets: [1, 0.5] })).toThrow(
      /buckets.*increasing/,
    );
    expect(() => OutputCacheMetricsModule.forRoot({ registry: {} as unknown as Registry })).toThrow(
      /prom-client Registry/,
    );
  });
});

describe('Prometheus metrics of the sample shop (e2e)', () => {
  it('serves GET /metrics with the counts of real page views', async () => {
    const app = await createSampleApp({ database: ':memory:', dbDelayMs: 0, logger: false });
    try {
      await app.listen(0, '127.0.0.1');
      const http = () => request(app.getHttpServer());
      const cache = app.get(OutputCacheProvider);
      expect((await http().get('/')).headers['x-cache']).toBe('MISS');
      await until(() => cache.stats().routes['Home/index']?.stored === 1, 'the home page stored');
      expect((await http().get('/')).headers['x-cache']).toBe('HIT');
      const scraped = await http().get('/metrics');
      expect(scraped.status).toBe(200);
      expect(scraped.headers['content-type']).toMatch(/^text\/plain/);
      expect(
        sample(scraped.text, 'output_cache_requests_total{route="Home/index",result="hit"}'),
      ).toBe(1);
      expect(sample(scraped.text, 'output_cache_entries')).toBeGreaterThanOrEqual(1);
    } finally {
      await app.close();
    }
  });
});
