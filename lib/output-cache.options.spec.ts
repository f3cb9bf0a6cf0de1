import { OutputCacheConfigError } from './errors/output-cache-config.error.js';
import {
  didYouMean,
  OUTPUT_CACHE_DEFAULTS,
  type OutputCacheModuleOptions,
  resolveOutputCacheOptions,
} from './output-cache.options.js';
import { MemoryOutputCacheStore } from './stores/memory.store.js';

/** The error `options` raise (the test fails when they raise none). */
function errorOf(options: unknown): OutputCacheConfigError {
  try {
    resolveOutputCacheOptions(options as OutputCacheModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(OutputCacheConfigError);
    return error as OutputCacheConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

const message = (options: unknown) => errorOf(options).message;

describe('resolveOutputCacheOptions', () => {
  describe('defaults', () => {
    it('applies every default, the two new timeouts included', () => {
      const resolved = resolveOutputCacheOptions();
      expect(resolved).toMatchObject(OUTPUT_CACHE_DEFAULTS);
      expect(resolved.operationTimeout).toBe(5);
      expect(resolved.shutdownTimeout).toBe(2);
      expect(resolved).toMatchObject({
        varyBy: {},
        routes: [],
        exclude: [],
        dataSources: [],
        sessionCookie: [],
      });
    });

    it('treats an option set to undefined as unset', () => {
      expect(resolveOutputCacheOptions({ grace: undefined, store: undefined }).grace).toBe(0);
    });

    it('accepts a full valid configuration and keeps its values', () => {
      const store = new MemoryOutputCacheStore();
      class Setting {}
      const token = () => 't';
      const resolved = resolveOutputCacheOptions({
        enabled: false,
        defaultTtl: 300,
        grace: 0,
        staleIfError: 600,
        hitForMiss: 0,
        precompress: false,
        store,
        maxEntries: 5000,
        maxBytes: 1024,
        maxEntryBytes: 512.5,
        varyBy: { currency: () => 'EUR', language: { header: 'Accept-Language' } },
        routes: ['Catalog/category', 'Blog/Blog/list', 'vc:Menu'],
        appVersion: '1.4.2',
        exclude: ['/admin/**', '**/private', '{/a,/b}/**'],
        sessionCookie: 'sid',
        headers: false,
        collapseTimeout: 3,
        storeTimeout: 0.1,
        componentTimeout: 1,
        maxComponentDepth: 2,
        csrf: { token, fieldName: '_token' },
        invalidation: false,
        dataSources: [{}],
        settings: { entity: Setting, keyColumn: 'name' },
        circuitBreaker: { failures: 5, openFor: 0.5 },
        distributedLock: true,
        lockTimeout: 1,
        operationTimeout: 10,
        shutdownTimeout: 0.5,
      });
      expect(resolved.store).toBe(store);
      expect(resolved.sessionCookie).toEqual(['sid']);
      expect(resolved.operationTimeout).toBe(10);
      expect(resolved.shutdownTimeout).toBe(0.5);
      expect(resolved.csrf?.token).toBe(token);
    });

    it('copies the arrays, so that changing the given options later cannot bypass the checks', () => {
      const exclude = ['/admin/**'];
      const resolved = resolveOutputCacheOptions({ exclude });
      exclude.push(42 as unknown as string);
      expect(resolved.exclude).toEqual(['/admin/**']);
    });
  });

  describe('the attacks of the bug report', () => {
    it('grace: -5 fails instead of answering 500 on every cached route', () => {
      expect(message({ grace: -5 })).toBe(
        'OutputCacheModule: option "grace" must be a number of seconds, 0 or more (0 turns it off), got -5. Example: grace: 30',
      );
    });

    it("grace: 'abc' fails instead of answering 500 on every cached route", () => {
      expect(message({ grace: 'abc' })).toMatch(
        /^OutputCacheModule: option "grace" must be a number of seconds.*got the string 'abc'/,
      );
    });

    it('staleIfError: -1 fails instead of answering 500 on every cached route', () => {
      expect(message({ staleIfError: -1 })).toMatch(
        /^OutputCacheModule: option "staleIfError" must be a number of seconds, 0 or more.*got -1/,
      );
    });

    it("store: 'redis' fails instead of starting and silently caching nothing", () => {
      expect(message({ store: 'redis' })).toMatch(
        /^OutputCacheModule: option "store" must be a store instance such as new RedisOutputCacheStore\(\{\.\.\.\}\), got the string 'redis'/,
      );
    });

    it("exclude: '/admin/**' fails instead of crashing each request with options.exclude.map is not a function", () => {
      expect(message({ exclude: '/admin/**' })).toBe(
        "OutputCacheModule: option \"exclude\" must be an array of path patterns, got the string '/admin/**'; write exclude: ['/admin/**']",
      );
    });
  });

  describe('numbers', () => {
    it.each([
      ['defaultTtl', 0],
      ['defaultTtl', -1],
      ['storeTimeout', 0],
      ['collapseTimeout', Number.NaN],
      ['componentTimeout', Number.POSITIVE_INFINITY],
      ['lockTimeout', -3],
      ['operationTimeout', 0],
      ['shutdownTimeout', -1],
      ['maxEntryBytes', 0],
    ])('%s: %p fails: it must be greater than 0', (name, value) => {
      expect(message({ [name]: value })).toMatch(
        new RegExp(`^OutputCacheModule: option "${name}" must be a positive number of`),
      );
    });

    it.each([
      ['grace', 0],
      ['staleIfError', 0],
      ['hitForMiss', 0],
    ])('%s: 0 is allowed (it turns the feature off)', (name, value) => {
      expect(resolveOutputCacheOptions({ [name]: value })).toMatchObject({ [name]: 0 });
    });

    it.each([['hitForMiss', -1]])('%s: %p fails: it must be 0 or more', (name, value) => {
      expect(message({ [name]: value })).toMatch(/0 or more \(0 turns it off\), got -1/);
    });

    it.each([
      ['maxEntries', 10.5],
      ['maxBytes', 0],
      ['maxComponentDepth', 2.5],
      ['maxEntries', -1],
    ])('%s: %p fails: it must be a positive whole number', (name, value) => {
      expect(message({ [name]: value })).toMatch(
        new RegExp(
          `^OutputCacheModule: option "${name}" must be a positive whole number, got ${value}`,
        ),
      );
    });

    it("defaultTtl: '300' (a string) fails and says to drop the quotes", () => {
      expect(message({ defaultTtl: '300' })).toBe(
        'OutputCacheModule: option "defaultTtl" must be a positive number of seconds, got the string \'300\'; write the number without quotes: defaultTtl: 300',
      );
    });

    it('maxEntries: 10n (a bigint) fails', () => {
      expect(message({ maxEntries: 10n })).toMatch(/got the bigint 10n/);
    });
  });

  describe('booleans and strings', () => {
    it.each(['enabled', 'precompress', 'headers', 'invalidation', 'distributedLock'])(
      "%s: 'false' (a string) fails and says to drop the quotes",
      (name) => {
        expect(message({ [name]: 'false' })).toBe(
          `OutputCacheModule: option "${name}" must be true or false, got the string 'false'; write it without quotes: ${name}: false`,
        );
      },
    );

    it('enabled: 0 fails', () => {
      expect(message({ enabled: 0 })).toMatch(/option "enabled" must be true or false, got 0/);
    });

    it('appVersion: 2 (a number) fails and shows it as a string', () => {
      expect(message({ appVersion: 2 })).toMatch(
        /option "appVersion" must be a string, got 2; write it as a string: appVersion: '2'/,
      );
    });
  });

  describe('store', () => {
    it('store: the class instead of an instance fails and shows new', () => {
      expect(message({ store: MemoryOutputCacheStore })).toBe(
        'OutputCacheModule: option "store" must be a store instance, got the class MemoryOutputCacheStore; create one: store: new MemoryOutputCacheStore({ ... })',
      );
    });

    it('store: an object without the store methods fails and lists the missing ones', () => {
      expect(message({ store: { get: async () => undefined } })).toMatch(
        /option "store" must implement OutputCacheStore .* has no set\(\), delete\(\), evictTags\(\), evictPrefix\(\), clear\(\), count\(\), list\(\)/,
      );
    });

    it('store: a Promise fails and points to forRootAsync', () => {
      expect(message({ store: Promise.resolve(new MemoryOutputCacheStore()) })).toMatch(
        /got a Promise; create the store in forRootAsync/,
      );
    });

    it('store: null fails', () => {
      expect(message({ store: null })).toMatch(/option "store" must be a store instance.*got null/);
    });
  });

  describe('lists', () => {
    it('exclude: an element that is not a string fails with its index', () => {
      expect(message({ exclude: ['/admin/**', 5] })).toMatch(
        /option "exclude" must hold only strings \(path patterns\), got 5 at index 1/,
      );
    });

    it("exclude: 'admin/**' without the leading slash fails: it never matches", () => {
      expect(message({ exclude: ['admin/**'] })).toMatch(
        /option "exclude" holds 'admin\/\*\*', which never matches: request paths start with '\/'; write '\/admin\/\*\*'/,
      );
    });

    it("routes: 'Catalog/category' (a string) fails and shows the array", () => {
      expect(message({ routes: 'Catalog/category' })).toBe(
        "OutputCacheModule: option \"routes\" must be an array of route ids, got the string 'Catalog/category'; write routes: ['Catalog/category']",
      );
    });

    it("routes: 'category' (no controller) fails: it is not a route id", () => {
      expect(message({ routes: ['category'] })).toMatch(
        /option "routes" holds 'category', which is not a route id; write '\{Controller\}\/\{handler\}'/,
      );
    });

    it("routes: 'CatalogController/category' fails: route ids drop the Controller suffix", () => {
      expect(message({ routes: ['CatalogController/category'] })).toMatch(
        /drop the "Controller" suffix .* write 'Catalog\/category'/,
      );
    });

    it('sessionCookie: a string or an array of names is accepted', () => {
      expect(resolveOutputCacheOptions({ sessionCookie: ['sid', 'auth'] }).sessionCookie).toEqual([
        'sid',
        'auth',
      ]);
    });

    it.each([[5], [['sid', 3]], ['sid=1'], [['']]])('sessionCookie: %p fails', (value) => {
      expect(message({ sessionCookie: value })).toMatch(
        /^OutputCacheModule: option "sessionCookie" must/,
      );
    });

    it('dataSources: a lone DataSource (not an array) fails', () => {
      expect(message({ dataSources: {} })).toMatch(
        /option "dataSources" must be an array of TypeORM DataSource instances, got an object/,
      );
    });

    it('dataSources: a class instead of an instance fails', () => {
      class DataSource {}
      expect(message({ dataSources: [DataSource] })).toMatch(/not its class/);
    });
  });

  describe('object options', () => {
    it('varyBy: a resolver that is a string fails, as today', () => {
      expect(message({ varyBy: { currency: 'EUR' } })).toMatch(
        /option "varyBy" entry "currency" must be a function \(req\) => value or \{ header: 'name' \}, got the string 'EUR'/,
      );
    });

    it("varyBy: { headers: 'accept-language' } fails and suggests header", () => {
      expect(message({ varyBy: { language: { headers: 'accept-language' } } })).toMatch(
        /"headers" is not a key of it\. Did you mean "header"\?/,
      );
    });

    it('varyBy: an array fails', () => {
      expect(message({ varyBy: [() => 'x'] })).toMatch(
        /option "varyBy" must be an object of named resolvers, got an array/,
      );
    });

    it('csrf: the token function itself fails and shows the object', () => {
      const generateCsrfToken = () => 't';
      expect(message({ csrf: generateCsrfToken })).toMatch(
        /option "csrf" must be \{ token: .* got the function generateCsrfToken; write csrf: \{ token: generateCsrfToken \}/,
      );
    });

    it('csrf: { getToken } fails and suggests token', () => {
      expect(message({ csrf: { getToken: () => 't' } })).toMatch(
        /option "csrf" has an unknown key "getToken"\. Did you mean "token"\?/,
      );
    });

    it("csrf: { token: 'abc' } fails", () => {
      expect(message({ csrf: { token: 'abc' } })).toMatch(
        /option "csrf.token" must be a function \(req, res\) => string/,
      );
    });

    it('circuitBreaker: failures 0, 2.5 or openFor -1 fail', () => {
      expect(message({ circuitBreaker: { failures: 0 } })).toMatch(
        /option "circuitBreaker.failures" must be a positive whole number, got 0\. Example: circuitBreaker: \{ failures: 3 \}/,
      );
      expect(message({ circuitBreaker: { failures: 2.5 } })).toMatch(/positive whole number/);
      expect(message({ circuitBreaker: { openFor: -1 } })).toMatch(
        /option "circuitBreaker.openFor" must be a positive number of seconds, got -1/,
      );
    });

    it('circuitBreaker: false or { failure } fail', () => {
      expect(message({ circuitBreaker: false })).toMatch(
        /must be \{ failures, openFor \}, got false/,
      );
      expect(message({ circuitBreaker: { failure: 3 } })).toMatch(/Did you mean "failures"\?/);
    });

    it('settings: without an entity class fails', () => {
      expect(message({ settings: { entity: 'Setting' } })).toMatch(
        /option "settings.entity" must be the settings entity class, got the string 'Setting'/,
      );
    });
  });

  describe('streamed holes', () => {
    it('keeps false by default and the three values as given', () => {
      expect(resolveOutputCacheOptions().streamHoles).toBe(false);
      for (const value of [false, 'in-order', 'out-of-order'] as const) {
        expect(resolveOutputCacheOptions({ streamHoles: value }).streamHoles).toBe(value);
      }
      const nonce = () => 'n';
      expect(resolveOutputCacheOptions({ cspNonce: nonce }).cspNonce).toBe(nonce);
    });

    it('refuses other values, showing how to write them', () => {
      expect(message({ streamHoles: true })).toBe(
        `OutputCacheModule: option "streamHoles" must be false, 'in-order' or 'out-of-order', got true. Example: streamHoles: 'in-order'`,
      );
      expect(message({ streamHoles: 'false' })).toContain(
        'write it without quotes: streamHoles: false',
      );
      expect(message({ streamHoles: ' In-Order' })).toContain(`write streamHoles: 'in-order'`);
      expect(message({ streamHoles: 'bigpipe' })).toContain(`got the string 'bigpipe'`);
      expect(message({ cspNonce: 'abc' })).toBe(
        `OutputCacheModule: option "cspNonce" must be a function (req, res) => string | undefined returning the response's CSP nonce, got the string 'abc'. Example: cspNonce: (req, res) => res.locals.cspNonce`,
      );
    });
  });

  describe('option names', () => {
    it('an unknown option close to a known one fails with a suggestion', () => {
      expect(message({ gracee: 30 })).toBe(
        'OutputCacheModule: unknown option "gracee". Did you mean "grace"?',
      );
      expect(message({ defaultTTL: 30 })).toMatch(/Did you mean "defaultTtl"\?/);
      expect(message({ storeTimout: 1 })).toMatch(/Did you mean "storeTimeout"\?/);
      expect(message({ ttl: 30 })).toMatch(/unknown option "ttl"\. Did you mean "defaultTtl"\?/);
    });

    it('an unknown option far from every known one fails and lists the options', () => {
      expect(message({ colour: 'red' })).toMatch(
        /unknown option "colour"\. The options are enabled, defaultTtl, .*shutdownTimeout\b.*\.$/,
      );
    });

    it('isGlobal inside the options fails and says where it belongs', () => {
      expect(message({ isGlobal: false })).toMatch(/belongs next to useFactory/);
    });

    it('options that are not an object fail', () => {
      expect(message(null)).toMatch(/the options must be an object, got null/);
    });
  });
});

describe('didYouMean', () => {
  it('suggests a typo, a swap, another casing or a name inside another', () => {
    expect(didYouMean('tll', ['ttl', 'grace'])).toBe(' Did you mean "ttl"?');
    expect(didYouMean('VARYBY', ['varyBy'])).toBe(' Did you mean "varyBy"?');
    expect(didYouMean('getToken', ['token', 'fieldName'])).toBe(' Did you mean "token"?');
    expect(didYouMean('colour', ['grace', 'ttl'])).toBe('');
  });
});
