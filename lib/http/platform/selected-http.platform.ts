import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { OutputCacheConfigError } from '../../errors/output-cache-config.error.js';
import type { StoredHeaders } from '../../stores/cache-entry.js';
import { ExpressPlatform } from './express.platform.js';
import { FastifyPlatform } from './fastify.platform.js';
import {
  type FastLaneHandler,
  HttpPlatform,
  type InternalDispatch,
  type InternalRequest,
  type UncapturedEnd,
} from './http-platform.js';

/**
 * The {@link HttpPlatform} of the app the module runs in, picked from its HTTP adapter
 * (`HttpAdapterHost.httpAdapter.getType()`): `'express'` → {@link ExpressPlatform},
 * `'fastify'` → {@link FastifyPlatform}. Any other adapter stops `app.init()` with an
 * {@link OutputCacheConfigError}. Neither platform loads its framework's package: both work on
 * the objects the adapter hands to routes.
 *
 * The adapter is known only once the app is created (a testing module compiles its providers
 * before `createNestApplication(adapter)`), so the choice is made on first use, at the latest
 * in `onModuleInit`.
 *
 * @example
 * // Inject HttpPlatform as usual; the module provides this class for it.
 * constructor(private readonly platform: HttpPlatform) {}
 * const url = this.platform.url(req);
 */
@Injectable()
export class SelectedHttpPlatform extends HttpPlatform implements OnModuleInit {
  private selected?: HttpPlatform;

  constructor(private readonly adapterHost: HttpAdapterHost) {
    super();
  }

  onModuleInit(): void {
    // A start-up error for an adapter the cache cannot serve; no adapter (an application
    // context without HTTP) needs no platform.
    if (this.adapterHost.httpAdapter) void this.target;
  }

  /** The platform chosen for the app's adapter. */
  get target(): HttpPlatform {
    return (this.selected ??= this.select());
  }

  /** The adapter's type: `'express'`, `'fastify'`, or another. */
  protected adapterType(): string | undefined {
    const adapter = this.adapterHost.httpAdapter as { getType?: () => string } | undefined;
    return adapter?.getType?.();
  }

  protected select(): HttpPlatform {
    const type = this.adapterType();
    if (type === 'express') return new ExpressPlatform();
    if (type === 'fastify') return new FastifyPlatform();
    throw new OutputCacheConfigError(
      type === undefined
        ? 'OutputCacheModule: no HTTP adapter: the output cache serves HTTP routes of an app ' +
            'created with NestFactory.create() on @nestjs/platform-express or ' +
            '@nestjs/platform-fastify'
        : `OutputCacheModule: the HTTP adapter "${type}" is not supported: the output cache ` +
            'runs on @nestjs/platform-express (ExpressAdapter) and @nestjs/platform-fastify ' +
            '(FastifyAdapter); create the app with one of them',
    );
  }

  method(req: any): string {
    return this.target.method(req);
  }
  url(req: any): string {
    return this.target.url(req);
  }
  protocol(req: any): string {
    return this.target.protocol(req);
  }
  host(req: any): string {
    return this.target.host(req);
  }
  headers(req: any): IncomingHttpHeaders {
    return this.target.headers(req);
  }
  override isInternal(req: any, marker: symbol): boolean {
    return this.target.isInternal(req, marker);
  }
  dispatchInternal(req: any, request: InternalRequest): InternalDispatch | undefined {
    return this.target.dispatchInternal(req, request);
  }
  override installFastLane(adapter: any, handler: FastLaneHandler): boolean {
    return this.target.installFastLane(adapter, handler);
  }
  status(res: any): number {
    return this.target.status(res);
  }
  responseHeaders(res: any): OutgoingHttpHeaders {
    return this.target.responseHeaders(res);
  }
  setHeader(res: any, name: string, value: string | string[]): void {
    this.target.setHeader(res, name, value);
  }
  removeHeader(res: any, name: string): void {
    this.target.removeHeader(res, name);
  }
  headersSent(res: any): boolean {
    return this.target.headersSent(res);
  }
  captureBody(
    res: any,
    onBody: (body: Buffer | string, send: (body: Buffer | string) => void) => void,
  ): void {
    this.target.captureBody(res, onBody);
  }
  onHeadersWritten(
    res: any,
    listener: (status: number, headers: OutgoingHttpHeaders) => void,
  ): void {
    this.target.onHeadersWritten(res, listener);
  }
  onClose(res: any, listener: (end: UncapturedEnd) => void): void {
    this.target.onClose(res, listener);
  }
  wrapRender(res: any, wrap: <T>(render: () => T) => T): void {
    this.target.wrapRender(res, wrap);
  }
  writeResponse(res: any, status: number, body: Buffer | undefined, ...headers: StoredHeaders[]) {
    this.target.writeResponse(res, status, body, ...headers);
  }
  streamResponse(res: any, status: number | undefined, ...headers: StoredHeaders[]) {
    return this.target.streamResponse(res, status, ...headers);
  }
}
