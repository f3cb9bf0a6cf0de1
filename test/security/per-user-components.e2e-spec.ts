import 'reflect-metadata';
import { type CanActivate, Controller, Get, Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  Cacheable,
  CacheableComponent,
  type ComponentContext,
  DisplayControl,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { ComponentRegistry } from '../../lib/components/component.registry.js';
import { isVaryRecord } from '../../lib/http/vary-record.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/wait.js';

/**
 * Attacks: automatic holes (a cacheable component found per user) and what a child context
 * bubbles when its component throws, times out or renders asynchronously.
 */

/**
 * Signs in from `Authorization: Bearer name` (roles `member`), the way Express apps usually
 * expose the user: on `req.user`, on `res.locals.user` for the views, and through a helper.
 */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: any): boolean {
    const req = context.switchToHttp().getRequest();
    const res = context.switchToHttp().getResponse();
    req.currentUser = function currentUser(this: any) {
      return this.user;
    };
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
      req.user = { name: auth.slice(7), roles: ['member'] };
      res.locals.user = req.user;
    }
    return true;
  }
}

const nextTick = () => new Promise<void>((r) => setImmediate(r));

/** Reads the user only when the request is signed in (a guest's render reads nothing). */
@CacheableComponent()
@ViewComponent('CondGreeting')
@Injectable()
class CondGreetingComponent implements ViewComponentRenderer {
  async render(_args: unknown, { req }: ComponentContext) {
    await nextTick();
    if (req.headers.authorization === undefined) return '<span>hi guest</span>';
    return `<span>hi ${String(req.user?.name)}</span>`;
  }
}

/** Reads the user through res.locals (the Express convention for views). */
@CacheableComponent()
@ViewComponent('LocalsGreeting')
@Injectable()
class LocalsGreetingComponent implements ViewComponentRenderer {
  render(_args: unknown, { res }: ComponentContext) {
    return `<span>hi ${String(res.locals?.user?.name ?? 'guest')}</span>`;
  }
}

/** Reads the user through a request method (as passport's req.isAuthenticated() does). */
@CacheableComponent()
@ViewComponent('MethodGreeting')
@Injectable()
class MethodGreetingComponent implements ViewComponentRenderer {
  render(_args: unknown, { req }: ComponentContext) {
    return `<span>hi ${String(req.currentUser()?.name ?? 'guest')}</span>`;
  }
}

@CacheableComponent()
@ViewComponent('ThrowsAfterReads')
@Injectable()
class ThrowsAfterReadsComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render(): Promise<string> {
    await this.display.vary('currency');
    this.display.announceTags('t:throws');
    throw new Error('boom');
  }
}

@CacheableComponent()
@ViewComponent({ name: 'Hangs', timeout: 0.05 })
@Injectable()
class HangsComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render() {
    await this.display.vary('currency');
    return new Promise<string>(() => {}); // never settles
  }
}

/** Async reads spread over several turns, two levels deep. */
@CacheableComponent()
@ViewComponent('Outer')
@Injectable()
class OuterComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render() {
    await nextTick();
    this.display.announceTags('t:outer');
    await new Promise((r) => setTimeout(r, 1));
    return `<section>${placeComponent('Inner')}</section>`;
  }
}

@CacheableComponent()
@ViewComponent('Inner')
@Injectable()
class InnerComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render() {
    await nextTick();
    const currency = await this.display.vary('currency');
    await new Promise((r) => setTimeout(r, 1));
    this.display.maxAge(7);
    this.display.announceTags('t:inner');
    return `<b>inner ${String(currency)}</b>`;
  }
}

/** Reads the currency, then says max age 0: becomes a hole (its read must not bubble). */
@CacheableComponent()
@ViewComponent('ZeroAge')
@Injectable()
class ZeroAgeComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render() {
    const currency = await this.display.vary('currency');
    this.display.maxAge(0);
    return `<i>zero ${String(currency)}</i>`;
  }
}

@Controller('rh')
class PerUserController {
  @Get('cond')
  @Cacheable({ varyBy: 'auto', allowAuthenticated: true, ttl: 60 })
  cond() {
    return `<main>${placeComponent('CondGreeting')}</main>`;
  }

  @Get('locals')
  @Cacheable({ varyBy: 'auto', allowAuthenticated: true, ttl: 60 })
  locals() {
    return `<main>${placeComponent('LocalsGreeting')}</main>`;
  }

  @Get('method')
  @Cacheable({ varyBy: 'auto', allowAuthenticated: true, ttl: 60 })
  method() {
    return `<main>${placeComponent('MethodGreeting')}</main>`;
  }

  @Get('throws')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  throws() {
    return `<main>${placeComponent('ThrowsAfterReads')}</main>`;
  }

  @Get('hangs')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  hangs() {
    return `<main>${placeComponent('Hangs')}</main>`;
  }

  @Get('nested')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  nested() {
    return `<main>${placeComponent('Outer')}</main>`;
  }

  @Get('zero')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  zero() {
    return `<main>${placeComponent('ZeroAge')}</main>`;
  }
}

describe('attack: per-user data read by cacheable components (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          reasonHeader: true,
          varyBy: {
            currency: (req: any) => req.headers['x-currency'] ?? 'EUR',
            roles: (req: any) => req.user?.roles ?? [],
          },
        }),
      ],
      controllers: [PerUserController],
      providers: [
        CondGreetingComponent,
        LocalsGreetingComponent,
        MethodGreetingComponent,
        ThrowsAfterReadsComponent,
        HangsComponent,
        OuterComponent,
        InnerComponent,
        ZeroAgeComponent,
        { provide: APP_GUARD, useClass: BearerGuard },
      ],
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  beforeEach(() => cache.invalidateAll());

  const get = (path: string, headers: Record<string, string> = {}) =>
    t.http().get(path).set(headers).expect(200);
  const pages = async () => (await cache.list()).filter((e) => !isVaryRecord(e));
  const ann = { Authorization: 'Bearer ann' };
  const bob = { Authorization: 'Bearer bob' };

  it('a component that reads req.user only when signed in: the guest render inlines it, a signed-in one makes it a hole', async () => {
    expect((await get('/rh/cond')).text).toBe('<main><span>hi guest</span></main>');
    const a = await get('/rh/cond', ann);
    expect(a.headers['x-cache']).toBe('MISS');
    expect(a.text).toBe('<main><span>hi ann</span></main>');
    await until(async () => (await pages()).length === 2, 'the signed-in page');
    const b = await get('/rh/cond', bob);
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.text).toBe('<main><span>hi bob</span></main>');
    for (const page of await pages()) expect(page.key).not.toMatch(/ann/);
    expect(t.app.get(ComponentRegistry).automaticHoles.get('CondGreeting')).toBe('reads req.user');
    expect((await get('/rh/cond')).text).toBe('<main><span>hi guest</span></main>');
  });

  it('a component that reads the user through res.locals.user does not leak one user to another', async () => {
    expect((await get('/rh/locals', ann)).text).toBe('<main><span>hi ann</span></main>');
    await until(async () => (await pages()).length === 1, 'the page');
    const b = await get('/rh/locals', bob);
    expect(b.text).toBe('<main><span>hi bob</span></main>');
  });

  it('a component that reads the user through a request method does not leak one user to another', async () => {
    expect((await get('/rh/method', ann)).text).toBe('<main><span>hi ann</span></main>');
    await until(async () => (await pages()).length === 1, 'the page');
    const b = await get('/rh/method', bob);
    expect(b.text).toBe('<main><span>hi bob</span></main>');
  });

  it('a component that throws after reading and announcing keeps the page out', async () => {
    const r = await get('/rh/throws', { 'x-currency': 'USD' });
    expect(r.headers['x-cache-reason']).toBe('not-stored: component-failed');
    expect((await get('/rh/throws', { 'x-currency': 'EUR' })).headers['x-cache']).toBe('MISS');
  });

  it('a component that times out after reading keeps the page out', async () => {
    const r = await get('/rh/hangs', { 'x-currency': 'USD' });
    expect(r.headers['x-cache-reason']).toBe('not-stored: component-failed');
  });

  it('async reads two levels deep bubble: tags, max age and the vary-by name', async () => {
    const usd = await get('/rh/nested', { 'x-currency': 'USD' });
    expect(usd.text).toBe('<main><section><b>inner USD</b></section></main>');
    await until(async () => (await pages()).length === 1, 'the page');
    const [page] = await pages();
    expect(page.key).toMatch(/\|currency=USD$/);
    expect(page.tags).toEqual(expect.arrayContaining(['t:outer', 't:inner']));
    expect(page.expiresAt - page.createdAt).toBe(7000);
    const eur = await get('/rh/nested', { 'x-currency': 'EUR' });
    expect(eur.headers['x-cache']).toBe('MISS');
    expect(eur.text).toBe('<main><section><b>inner EUR</b></section></main>');
  });

  it('a component that becomes a hole (max age 0) renders per request: its currency never leaks', async () => {
    const usd = await get('/rh/zero', { 'x-currency': 'USD' });
    expect(usd.text).toBe('<main><i>zero USD</i></main>');
    await until(async () => (await pages()).length === 1, 'the page');
    const eur = await get('/rh/zero', { 'x-currency': 'EUR' });
    expect(eur.headers['x-cache']).toBe('HIT');
    expect(eur.text).toBe('<main><i>zero EUR</i></main>');
  });
});
