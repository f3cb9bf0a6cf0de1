import 'reflect-metadata';
import { type CanActivate, Controller, Get, Injectable } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  Cacheable,
  CacheableComponent,
  DisplayControl,
  OutputCacheModule,
  OutputCacheProvider,
  placeComponent,
  ViewComponent,
  type ViewComponentRenderer,
} from '../../lib/index.js';
import { isVaryRecord } from '../../lib/http/vary-record.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClock } from '../helpers/test-clock.js';
import { until } from '../helpers/wait.js';

/**
 * Attacks: `varyBy: 'auto'` vary records under races, evictions, shrinking and separators.
 */

interface Gate {
  promise: Promise<void>;
  open: () => void;
}
const newGate = (): Gate => {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
};
const world = {
  gates: new Map<string, Gate>(),
  entered: new Set<string>(),
};

/** Signs in from `Authorization: Bearer name`, roles from `x-roles`. */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: any): boolean {
    const req = context.switchToHttp().getRequest();
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) {
      req.user = {
        name: auth.slice(7),
        roles: String(req.headers['x-roles'] ?? 'member').split(','),
      };
    }
    return true;
  }
}

@CacheableComponent()
@ViewComponent('Money')
@Injectable()
class MoneyComponent implements ViewComponentRenderer {
  constructor(private readonly display: DisplayControl) {}
  async render() {
    const currency = String(await this.display.vary('currency'));
    // A short-lived variant (e.g. a flash sale shown only in USD).
    if (currency === 'USD') this.display.maxAge(1);
    return `<b>money ${currency}</b>`;
  }
}

@Controller('rv')
class VaryRecordsController {
  constructor(private readonly display: DisplayControl) {}

  /** Role a reads the currency, any other role the theme; each request waits at its gate. */
  @Get('race')
  @Cacheable({ varyBy: 'auto', allowAuthenticated: true, ttl: 60 })
  async race() {
    const roles = (await this.display.vary('roles')) as string[];
    const id = roles.join(',');
    world.entered.add(id);
    await world.gates.get(id)?.promise;
    if (roles.includes('a'))
      return `<main>role a, currency ${String(await this.display.vary('currency'))}</main>`;
    return `<main>role ${id}, theme ${String(await this.display.vary('theme'))}</main>`;
  }

  @Get('sep')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  async sep() {
    const currency = await this.display.vary('currency');
    const theme = await this.display.vary('theme');
    return `<main>[${String(currency)}][${String(theme)}]</main>`;
  }

  @Get('life')
  @Cacheable({ varyBy: 'auto', ttl: 60 })
  life() {
    return `<main>${placeComponent('Money')}</main>`;
  }
}

describe('attack: vary records of varyBy auto (e2e)', () => {
  let t: TestApp;
  let cache: OutputCacheProvider;
  const clock = new TestClock();

  beforeAll(async () => {
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          reasonHeader: true,
          varyBy: {
            currency: (req: any) => req.headers['x-currency'] ?? 'EUR',
            // No default: an absent theme is keyed as absent.
            theme: (req: any) => req.headers['x-theme'],
            roles: (req: any) => req.user?.roles ?? [],
          },
        }),
      ],
      controllers: [VaryRecordsController],
      providers: [MoneyComponent, { provide: APP_GUARD, useClass: BearerGuard }],
    });
    cache = t.app.get(OutputCacheProvider);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    world.gates.clear();
    world.entered.clear();
    await cache.invalidateAll();
  });
  afterEach(() => clock.restore());

  const get = (path: string, headers: Record<string, string> = {}) =>
    t.http().get(path).set(headers).expect(200);
  const records = async () => (await cache.list()).filter(isVaryRecord);
  const pages = async () => (await cache.list()).filter((e) => !isVaryRecord(e));

  it('two concurrent first renders that read different names: no variant reaches another visitor', async () => {
    world.gates.set('a', newGate());
    world.gates.set('b', newGate());
    const a = get('/rv/race', { Authorization: 'Bearer ann', 'x-roles': 'a', 'x-currency': 'EUR' });
    const b = get('/rv/race', { Authorization: 'Bearer bob', 'x-roles': 'b', 'x-theme': 'dark' });
    const pa = a.then((r) => r);
    const pb = b.then((r) => r);
    await until(() => world.entered.size === 2, 'both renders to start (no record yet)');
    world.gates.get('a')!.open();
    expect((await pa).text).toBe('<main>role a, currency EUR</main>');
    await until(async () => (await records()).length === 1, 'the first record');
    world.gates.get('b')!.open();
    expect((await pb).text).toBe('<main>role b, theme dark</main>');
    await until(async () => (await pages()).length === 2, 'both pages');
    world.gates.clear();
    // The record now lists what the last writer read (it may have shrunk): every visitor must
    // still get a page made for their own values.
    const cases: [Record<string, string>, string][] = [
      [
        { Authorization: 'Bearer cy', 'x-roles': 'a', 'x-currency': 'USD' },
        '<main>role a, currency USD</main>',
      ],
      [
        { Authorization: 'Bearer di', 'x-roles': 'a', 'x-currency': 'EUR' },
        '<main>role a, currency EUR</main>',
      ],
      [
        { Authorization: 'Bearer ed', 'x-roles': 'b', 'x-theme': 'light' },
        '<main>role b, theme light</main>',
      ],
      [
        { Authorization: 'Bearer fi', 'x-roles': 'b', 'x-theme': 'dark' },
        '<main>role b, theme dark</main>',
      ],
      [
        { Authorization: 'Bearer gu', 'x-roles': 'a', 'x-currency': 'GBP', 'x-theme': 'dark' },
        '<main>role a, currency GBP</main>',
      ],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [headers, expected] of cases)
        expect((await get('/rv/race', headers)).text).toBe(expected);
    }
  });

  it('vary values holding the key separators | = & # % [ ] , never share a page', async () => {
    const combos: [string | undefined, string | undefined][] = [
      ['EUR', 'dark'],
      ['EUR|theme=dark', undefined],
      ['EUR|theme', undefined],
      ['EUR', undefined],
      ['EUR', ''],
      ['EUR&theme=dark', undefined],
      ['EUR#x', undefined],
      ['EUR%23x', undefined],
      ['EUR%7Ctheme%3Ddark', undefined],
      ['EUR[]=a,b', undefined],
      ['EUR', '|'],
      ['', 'EUR'],
    ];
    const headersOf = ([c, th]: [string | undefined, string | undefined]) => ({
      ...(c === undefined ? {} : { 'x-currency': c }),
      ...(th === undefined ? {} : { 'x-theme': th }),
    });
    for (let round = 0; round < 2; round++) {
      for (const combo of combos) {
        const res = await get('/rv/sep', headersOf(combo));
        expect(res.text).toBe(`<main>[${combo[0] ?? 'EUR'}][${String(combo[1])}]</main>`);
        if (round === 1) expect(res.headers['x-cache']).toBe('HIT');
      }
    }
  });

  it('a record evicted on its own (pages kept) never serves a wrong variant', async () => {
    await get('/rv/sep', { 'x-currency': 'EUR', 'x-theme': 'dark' });
    await get('/rv/sep', { 'x-currency': 'USD', 'x-theme': 'light' });
    await until(async () => (await records()).length === 1, 'the record');
    const [record] = await records();
    await cache.remove(record.key);
    expect((await get('/rv/sep', { 'x-currency': 'USD', 'x-theme': 'dark' })).text).toBe(
      '<main>[USD][dark]</main>',
    );
    expect((await get('/rv/sep', { 'x-currency': 'EUR', 'x-theme': 'light' })).text).toBe(
      '<main>[EUR][light]</main>',
    );
  });

  it('a short-lived variant does not cut the record of a long-lived one short', async () => {
    clock.install();
    const eur = await get('/rv/life', { 'x-currency': 'EUR' });
    expect(eur.text).toContain('money EUR');
    await until(async () => (await records()).length === 1, 'the record');
    const usd = await get('/rv/life', { 'x-currency': 'USD' });
    expect(usd.text).toContain('money USD');
    await until(async () => (await pages()).length === 2, 'both pages');
    const eurPage = (await pages()).find((e) => e.key.endsWith('currency=EUR'))!;
    const [record] = await records();
    // The EUR page lives 60 s; the record that finds it must live as long.
    expect(eurPage.expiresAt - eurPage.createdAt).toBe(60_000);
    clock.advance(2_000);
    const again = await get('/rv/life', { 'x-currency': 'EUR' });
    expect(again.text).toContain('money EUR');
    // The EUR page is fresh for 58 s more, but its record (rewritten by the USD store with the
    // USD page's 1 s lifetime) has expired: the lookup misses on the bare key and re-renders.
    expect(again.headers['x-cache']).toBe('HIT');
    expect(record.expiresAt).toBeGreaterThanOrEqual(eurPage.expiresAt);
  });
});
