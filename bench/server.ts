/**
 * The bench server process, forked by {@link AppHost}: creates the apps of `apps.ts` on demand,
 * listens on random ports of 127.0.0.1 and answers the runner's requests over IPC.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { OutputCacheProvider, OutputCacheStats } from '../lib/index.js';
import type { HostReply, HostRequest, ServerSample } from './app-host.js';
import { type AppName, APPS, type BenchApp } from './apps.js';

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

/** USER_HZ: 100 on every Linux Node runs on. */
const CLOCK_TICKS = 100;

/** utime + stime of the main thread from /proc (its tid is the pid), µs; null off Linux. */
function mainThreadCpu(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

const apps = new Map<AppName, Promise<NestExpressApplication>>();

function app(name: AppName): Promise<NestExpressApplication> {
  let created = apps.get(name);
  if (!created) {
    const spec: BenchApp | undefined = APPS[name];
    if (!spec) return Promise.reject(new Error(`unknown bench app "${name}"`));
    created = spec.create().then(async (nest) => {
      await nest.listen(0, '127.0.0.1');
      const { port } = nest.getHttpServer().address() as AddressInfo;
      for (const path of spec.prime ?? []) await get(`http://127.0.0.1:${port}${path}`);
      return nest;
    });
    apps.set(name, created);
  }
  return created;
}

/** One GET on its own connection; rejects unless it answers 200. */
function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`GET ${url}: ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
}

/** A provider of the app, or undefined when the app has none (e.g. no OutputCacheModule). */
function optional<T>(
  nest: NestExpressApplication,
  token: new (...args: any[]) => T,
): T | undefined {
  try {
    return nest.get(token, { strict: false });
  } catch {
    return undefined;
  }
}

async function handle(message: HostRequest): Promise<unknown> {
  switch (message.type) {
    case 'start': {
      const address = (await app(message.app)).getHttpServer().address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return { port: address.port };
    }
    case 'sample': {
      const stats = optional(await app(message.app), OutputCacheStats);
      const memory = process.memoryUsage();
      const sample: ServerSample = {
        cpu: process.cpuUsage(),
        mainThreadCpu: mainThreadCpu(),
        gcMs,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        stats: stats ? stats.snapshot() : null,
      };
      return sample;
    }
    case 'gc':
      globalThis.gc?.();
      return undefined;
    case 'clear': {
      const provider = optional(await app(message.app), OutputCacheProvider);
      return provider ? provider.invalidateAll() : 0;
    }
    case 'close': {
      const closing = [...apps].map(async ([name, created]) => {
        const nest = await created.catch(() => undefined); // failed to start: nothing to close
        if (!nest) return;
        const spec: BenchApp = APPS[name];
        await (spec.close ? spec.close(nest) : nest.close());
      });
      apps.clear();
      const failed = (await Promise.allSettled(closing)).filter((r) => r.status === 'rejected');
      if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
      return undefined;
    }
  }
}

let closing = false;

process.on('message', (message: HostRequest) => {
  if (message.type === 'close') closing = true;
  handle(message).then(
    (result) => reply({ id: message.id, ok: true, result }, message.type === 'close'),
    (error: unknown) =>
      reply(
        {
          id: message.id,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        },
        message.type === 'close',
      ),
  );
});

/** Sends a reply; after the reply to `close`, leaves the IPC channel so that the process exits. */
function reply(message: HostReply, last: boolean): void {
  process.send?.(message, undefined, {}, () => {
    if (last) process.disconnect();
  });
}

// The runner went away (crash, Ctrl-C): do not linger. After `close`, exit even if some handle
// (a store's timer, say) would keep the process up.
process.on('disconnect', () => {
  if (!closing) process.exit(1);
  setTimeout(() => process.exit(0), 2000).unref();
});
