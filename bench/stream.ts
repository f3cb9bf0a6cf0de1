/**
 * The stream group (issue 14, streamed holes): time to first body byte (TTFB) and to last byte
 * (TTLB) of a hit whose page has one hole that takes 300 ms, written whole, streamed in order
 * and streamed out of order. Measured in this process with raw `node:http` requests against a
 * Nest app (Express) on a loopback port; `concurrency` requests at a time, `requests` in all per
 * form, after one warm-up request each (the miss that stores the page).
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Cacheable,
  OutputCacheModule,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../lib/index.js';

/** How long the page's hole takes to render. */
export const STREAM_HOLE_MS = 300;

export interface StreamOptions {
  /** Requests per form. */
  requests: number;
  /** Requests in flight at a time. */
  concurrency: number;
}

export interface StreamRow {
  form: string;
  path: string;
  requests: number;
  ttfb: { p50: number; p95: number };
  ttlb: { p50: number; p95: number };
  bytes: number;
  problems: string[];
}

export interface StreamResults {
  options: StreamOptions;
  holeMs: number;
  rows: StreamRow[];
}

@ViewComponent('SlowHole')
@Injectable()
class SlowHoleComponent implements ViewComponentRenderer {
  async render(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, STREAM_HOLE_MS));
    return '<div class="cart">3 items</div>';
  }
}

/** ~12 KB: a header with the hole, then the rest of the page (a product list). */
function page(res: any): string {
  res.setHeader('content-type', 'text/html; charset=utf-8');
  const products = Array.from(
    { length: 200 },
    (_, i) => `<li><a href="/p/${i}">Product ${i}</a> <span>€${(i * 1.7).toFixed(2)}</span></li>`,
  ).join('');
  return (
    '<!doctype html><html><head><title>Shop</title><link rel="stylesheet" href="/s.css"></head>' +
    `<body><header><nav>Home · Catalog · Account</nav>${placeComponent('SlowHole')}</header>` +
    `<main><ul>${products}</ul></main><footer>© Shop</footer></body></html>`
  );
}

@Controller('stream')
class StreamBenchController {
  @Cacheable({ ttl: 3600, streamHoles: false })
  @Get('whole')
  whole(@Res({ passthrough: true }) res: any) {
    return page(res);
  }

  @Cacheable({ ttl: 3600, streamHoles: 'in-order' })
  @Get('in-order')
  inOrder(@Res({ passthrough: true }) res: any) {
    return page(res);
  }

  @Cacheable({ ttl: 3600, streamHoles: 'out-of-order' })
  @Get('out-of-order')
  outOfOrder(@Res({ passthrough: true }) res: any) {
    return page(res);
  }
}

@Module({
  imports: [OutputCacheModule.forRoot({ defaultTtl: 3600 })],
  controllers: [StreamBenchController],
  providers: [SlowHoleComponent],
})
class StreamBenchModule {}

/** One request: TTFB (first body byte) and TTLB (end), in ms. */
function timed(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ ttfb: number; ttlb: number; bytes: number; status: number; xCache: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let ttfb = -1;
    let bytes = 0;
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (ttfb < 0) ttfb = performance.now() - start;
        bytes += chunk.length;
      });
      res.on('end', () =>
        resolve({
          ttfb,
          ttlb: performance.now() - start,
          bytes,
          status: res.statusCode ?? 0,
          xCache: String(res.headers['x-cache']),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Runs the group: one app, three forms, measured one after the other. */
export async function runStream(options: StreamOptions): Promise<StreamResults> {
  const app = await NestFactory.create<NestExpressApplication>(StreamBenchModule, {
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const forms: { form: string; path: string; headers: Record<string, string> }[] = [
    { form: 'not streamed', path: '/stream/whole', headers: {} },
    { form: 'in-order', path: '/stream/in-order', headers: {} },
    { form: 'out-of-order', path: '/stream/out-of-order', headers: { cookie: 'oc-js=1' } },
  ];
  const rows: StreamRow[] = [];
  try {
    for (const { form, path, headers } of forms) {
      await timed(port, path, headers); // the miss that stores the page
      const ttfb: number[] = [];
      const ttlb: number[] = [];
      const problems = new Set<string>();
      let bytes = 0;
      let next = 0;
      const worker = async () => {
        while (next < options.requests) {
          next++;
          const r = await timed(port, path, headers);
          if (r.status !== 200) problems.add(`status ${r.status}`);
          if (r.xCache !== 'HIT') problems.add(`X-Cache ${r.xCache}`);
          ttfb.push(r.ttfb);
          ttlb.push(r.ttlb);
          bytes = r.bytes;
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      const row: StreamRow = {
        form,
        path,
        requests: ttfb.length,
        ttfb: { p50: percentile(ttfb, 50), p95: percentile(ttfb, 95) },
        ttlb: { p50: percentile(ttlb, 50), p95: percentile(ttlb, 95) },
        bytes,
        problems: [...problems],
      };
      rows.push(row);
      console.log(
        `  ${form}: TTFB p50 ${row.ttfb.p50.toFixed(1)} ms, TTLB p50 ${row.ttlb.p50.toFixed(1)} ms`,
      );
    }
  } finally {
    await app.close();
  }
  return { options, holeMs: STREAM_HOLE_MS, rows };
}

/** The group's table. */
export function formatStream(results: StreamResults): string {
  const ms = (n: number) => n.toFixed(1);
  const header = ['form', 'TTFB p50 ms', 'TTFB p95 ms', 'TTLB p50 ms', 'TTLB p95 ms', 'bytes'];
  const rows = results.rows.map((r) => [
    r.form,
    ms(r.ttfb.p50),
    ms(r.ttfb.p95),
    ms(r.ttlb.p50),
    ms(r.ttlb.p95),
    String(r.bytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  const out = [
    `Streamed holes: a hit of a ~${Math.round((results.rows[0]?.bytes ?? 0) / 1024)} KB page with ` +
      `one ${results.holeMs} ms hole, ${results.options.requests} requests per form, ` +
      `${results.options.concurrency} at a time (raw node:http; TTFB = first body byte)`,
    line(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line),
  ];
  for (const r of results.rows) for (const p of r.problems) out.push(`  [!] ${r.form}: ${p}`);
  return out.join('\n');
}
