import type { HttpAdapterHost } from '@nestjs/core';
import { OutputCacheConfigError } from '../../errors/output-cache-config.error.js';
import { ExpressPlatform } from './express.platform.js';
import { FastifyPlatform } from './fastify.platform.js';
import { SelectedHttpPlatform } from './selected-http.platform.js';

const hostOf = (type: string | undefined) =>
  ({
    httpAdapter: type === undefined ? undefined : { getType: () => type },
  }) as unknown as HttpAdapterHost;

describe('SelectedHttpPlatform', () => {
  it.each([
    ['express', ExpressPlatform],
    ['fastify', FastifyPlatform],
  ])('picks the platform of a %s adapter', (type, expected) => {
    const platform = new SelectedHttpPlatform(hostOf(type));
    platform.onModuleInit();
    expect(platform.target).toBeInstanceOf(expected);
    // Delegates: the chosen platform answers.
    expect(platform.method({ method: 'HEAD' })).toBe('HEAD');
  });

  it('stops the start-up on any other adapter, naming it', () => {
    const platform = new SelectedHttpPlatform(hostOf('koa'));
    expect(() => platform.onModuleInit()).toThrow(OutputCacheConfigError);
    expect(() => platform.onModuleInit()).toThrow(/"koa" is not supported.*platform-fastify/);
  });

  it('waits for the adapter: an app context without HTTP starts, and a use says why it cannot', () => {
    const platform = new SelectedHttpPlatform(hostOf(undefined));
    expect(() => platform.onModuleInit()).not.toThrow();
    expect(() => platform.url({ url: '/' })).toThrow(/no HTTP adapter/);
  });

  it('finds the marker of an internal request on the raw request behind a Fastify request', () => {
    const marker = Symbol('test');
    const platform = new FastifyPlatform();
    expect(platform.isInternal({ raw: { [marker]: true } }, marker)).toBe(true);
    expect(platform.isInternal({ raw: {} }, marker)).toBe(false);
  });
});
