/**
 * The apps of the `fastlane` group (issue 11): one Nest app with a constant route, an ordinary
 * cached page and the same page on the fast lane; a bare `node:http` server answering the same
 * 20 KB page; and Varnish in front of the Nest app, caching everything.
 */
import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Module, Render } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Cacheable, OutputCacheModule } from '../lib/index.js';
import { PAGE_HTML, PAGE_VIEW, pageViewModel, viewsDir } from './fixtures.js';

/** A constant route, the page cached the ordinary way, and the page on the fast lane. */
@Controller()
class FastLaneBenchController {
  /** What serving the finished HTML costs in Nest (no cache). */
  @Get('baseline')
  baseline(): string {
    return PAGE_HTML;
  }

  /** An ordinary hit: Express, Nest's router, the interceptor chain. */
  @Cacheable()
  @Get('cached')
  @Render(PAGE_VIEW)
  cached() {
    return pageViewModel();
  }

  /** A fast-lane hit: the same page, answered at the server's `request` event. */
  @Cacheable({ fastLane: true })
  @Get('fast')
  @Render(PAGE_VIEW)
  fast() {
    return pageViewModel();
  }
}

@Module({
  imports: [OutputCacheModule.forRoot({ defaultTtl: 3600 })],
  controllers: [FastLaneBenchController],
})
class FastLaneBenchModule {}

/** The Nest app of the group (Express, views as in production). */
export async function createFastLaneApp(): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(FastLaneBenchModule, {
    logger: false,
    abortOnError: false,
  });
  app.setBaseViewsDir(viewsDir());
  app.setViewEngine('hbs');
  app.set('view cache', true);
  app.set('view options', { layout: false });
  return app;
}

/**
 * The same app on `@nestjs/platform-fastify`: views through `@fastify/view` with the same
 * handlebars, `/x/` reaching `/x` as on Express. Fastify is loaded only here.
 */
export async function createFastLaneFastifyApp(): Promise<NestExpressApplication> {
  const [{ FastifyAdapter }, hbs] = await Promise.all([
    import('@nestjs/platform-fastify'),
    import('hbs'),
  ]);
  const app = await NestFactory.create(
    FastLaneBenchModule,
    new FastifyAdapter({ routerOptions: { ignoreTrailingSlash: true } } as never),
    { logger: false, abortOnError: false },
  );
  await (app as any).setViewEngine({
    engine: { handlebars: hbs.default.handlebars },
    templates: viewsDir(),
  });
  return app as unknown as NestExpressApplication;
}

/**
 * Quacks like the Nest app the bench server expects (listen, getHttpServer, close, get) around
 * something that is not one.
 */
function facade(parts: {
  listen: () => Promise<void>;
  port: () => number;
  close: () => Promise<void>;
  get?: (token: unknown, options?: unknown) => unknown;
}): NestExpressApplication {
  return {
    listen: parts.listen,
    getHttpServer: () => ({ address: () => ({ port: parts.port() }) }),
    close: parts.close,
    get:
      parts.get ??
      (() => {
        throw new Error('not a Nest app');
      }),
  } as unknown as NestExpressApplication;
}

/** The same page from a bare `node:http` server: the ceiling for anything written in Node. */
export async function createRawNodeApp(): Promise<NestExpressApplication> {
  const body = Buffer.from(PAGE_HTML);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(body.length),
    });
    res.end(body);
  });
  return facade({
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)),
    port: () => (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  });
}

/** Caches every GET for an hour, whatever the backend says: Varnish at its fastest. */
const BENCH_VCL = (backendPort: number) => `vcl 4.1;
backend app { .host = "127.0.0.1"; .port = "${backendPort}"; }
sub vcl_recv {
  unset req.http.Cookie;
  unset req.http.Authorization;
  return (hash);
}
sub vcl_backend_response {
  unset beresp.http.Set-Cookie;
  set beresp.ttl = 1h;
  set beresp.grace = 0s;
  return (deliver);
}
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Varnish-Cache = "HIT"; } else { set resp.http.X-Varnish-Cache = "MISS"; }
}
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Varnish (Debian's `varnishd`, as the current user, its own working directory) in front of the
 * group's Nest app, with {@link BENCH_VCL}. Requests go to Varnish; `get` reaches the Nest app.
 */
export async function createVarnishApp(): Promise<NestExpressApplication> {
  const nest = await createFastLaneApp();
  let child: ChildProcess | undefined;
  let port = 0;
  const workDir = mkdtempSync(join(tmpdir(), 'oc-bench-varnish-'));
  const close = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(workDir, { recursive: true, force: true });
    await nest.close();
  };
  const listen = async () => {
    await nest.listen(0, '127.0.0.1');
    const backend = (nest.getHttpServer().address() as AddressInfo).port;
    port = await freePort();
    writeFileSync(join(workDir, 'bench.vcl'), BENCH_VCL(backend));
    // prettier-ignore
    child = spawn('varnishd', [
      '-F', '-j', 'none', '-T', 'none', '-a', `127.0.0.1:${port}`,
      '-f', join(workDir, 'bench.vcl'), '-n', join(workDir, 'instance'), '-s', 'malloc,64m',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`varnishd exited: ${output}`);
      const status = await fetch(`http://127.0.0.1:${port}/baseline`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`varnishd did not answer: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return facade({
    listen,
    port: () => port,
    close,
    get: (t, o) => nest.get(t as never, o as never),
  });
}
