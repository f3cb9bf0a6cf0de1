import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const libDir = dirname(fileURLToPath(import.meta.url));

/** Specifiers a module loads when it runs (type-only imports and exports are erased). */
function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  const statement = /^(import|export)\s+(type\s+)?([^;]*?)\s*from\s*'([^']+)'/gms;
  for (const match of source.matchAll(statement)) {
    const [, , typeOnly, clause, specifier] = match;
    if (typeOnly) continue;
    const braces = /^\{([^}]*)\}$/s.exec(clause.trim());
    if (braces) {
      const names = braces[1]
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      // `import { type A, type B }` is erased too (isolatedModules, no verbatim syntax).
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    }
    found.push(specifier);
  }
  for (const match of source.matchAll(/^import\s+'([^']+)'/gm)) found.push(match[1]);
  return found;
}

/**
 * Every package a module of lib/ loads, following relative imports: statically, or later through
 * a dynamic `import('…')` of a package; and the modules of lib/ it reaches.
 */
function packagesLoadedBy(entry: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/import\(\s*'([^'.][^']*)'\s*\)/g)) packages.add(match[1]);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.'))
        visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(join(libDir, entry));
  return packages;
}

describe('public API', () => {
  it('the main entry loads neither ioredis nor TypeORM (a memory-store app installs neither)', () => {
    const modules = new Set<string>();
    const loaded = packagesLoadedBy('index.ts', modules);
    expect(loaded.has('@nestjs/common')).toBe(true); // the walk does see packages
    for (const optional of ['ioredis', 'typeorm', '@nestjs/typeorm', 'prom-client']) {
      expect(loaded.has(optional)).toBe(false);
    }
    const reached = [...modules].map((m) => m.slice(libDir.length + 1));
    for (const store of ['redis.store.ts', 'tiered.store.ts', 'typeorm.store.ts']) {
      expect(reached).not.toContain(join('stores', store));
    }
  });

  it('the subpaths reach the stores they name', () => {
    // The same walk finds them where they are meant to be: it would see them in the main entry.
    expect(packagesLoadedBy('redis.ts').has('ioredis')).toBe(true);
    const typeorm = new Set<string>();
    packagesLoadedBy('typeorm.ts', typeorm);
    expect([...typeorm].some((m) => m.endsWith('typeorm.store.ts'))).toBe(true);
    expect(packagesLoadedBy('prometheus.ts').has('prom-client')).toBe(true);
  });

  it('the store contract suite is a subpath of its own (`/testing`), never loaded by the main entry', () => {
    const main = new Set<string>();
    packagesLoadedBy('index.ts', main);
    const fromMain = [...main].map((m) => m.slice(libDir.length + 1));
    expect(fromMain.filter((m) => m === 'testing.ts' || m.startsWith('testing/'))).toEqual([]);
    const testing = new Set<string>();
    const loaded = packagesLoadedBy('testing.ts', testing);
    expect([...testing].some((m) => m.endsWith(join('testing', 'store-suite.ts')))).toBe(true);
    // It asserts with node:assert and takes the runner's functions at run time: no test runner,
    // and no optional store peer, is imported.
    expect(loaded.has('node:assert/strict')).toBe(true);
    for (const pkg of ['jest', '@jest/globals', 'vitest', 'ioredis', 'typeorm', 'fast-check']) {
      expect(loaded.has(pkg)).toBe(false);
    }
    const exported = JSON.parse(readFileSync(join(libDir, '..', 'package.json'), 'utf8')).exports;
    expect(exported['./testing']).toEqual({
      types: './dist/testing.d.ts',
      default: './dist/testing.js',
    });
  });
});
