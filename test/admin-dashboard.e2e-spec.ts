import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { OutputCacheAdminModule, OutputCacheModule } from '../lib/index.js';
import {
  ADMIN_TEST_TOKEN,
  AdminPagesController,
  TokenGuard,
} from './fixtures/admin-pages.controller.js';
import { createTestApp, type TestApp, testPlatform } from './helpers/test-app.js';

/** Debian's `chromium` package (`.ci/run` installs it); `CHROMIUM_PATH` overrides. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Where the screenshot goes: a temp dir, so that a test run leaves the worktree as it was; with
 * `UPDATE_SCREENSHOT=1`, the README's `docs/dashboard.png` (from the Express run only: one
 * writer, whichever projects run).
 */
const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1' && testPlatform === 'express';
const SCREENSHOT_DIR = UPDATE_SCREENSHOT
  ? join(dirname(fileURLToPath(import.meta.url)), '..', 'docs')
  : mkdtempSync(join(tmpdir(), 'oc-dashboard-'));
const SCREENSHOT = join(SCREENSHOT_DIR, 'dashboard.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('admin dashboard in a real browser (Chromium)', () => {
  let t: TestApp;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: this test drives a real browser. Install it ` +
          '(apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH.',
      );
    }
    t = await createTestApp({
      imports: [
        OutputCacheModule.forRoot({
          defaultTtl: 300,
          grace: 60,
          varyBy: { currency: (req) => req.headers['x-currency'] ?? 'USD' },
        }),
        OutputCacheAdminModule.forRoot({ guard: TokenGuard }),
      ],
      controllers: [AdminPagesController],
    });
    origin = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    if (!UPDATE_SCREENSHOT) await rm(SCREENSHOT_DIR, { recursive: true, force: true });
  });

  it('shows a requested page, purges its tag with the page button, and it is gone', async () => {
    // Traffic: pages rendered (misses), then served again (hits) in two currencies.
    for (const id of [42, 7, 8]) await fetch(`${origin}/shop/products/${id}`);
    await fetch(`${origin}/shop/products/42`, { headers: { 'x-currency': 'EUR' } });
    for (const slug of ['hello-world', 'release-notes']) await fetch(`${origin}/shop/blog/${slug}`);
    await fetch(`${origin}/shop/search?q=${encodeURIComponent('<script>alert(1)</script>')}`);
    for (let i = 0; i < 5; i++) await fetch(`${origin}/shop/products/42`);
    for (let i = 0; i < 3; i++) await fetch(`${origin}/shop/blog/hello-world`);

    const context = await browser.newContext({ viewport: { width: 1180, height: 860 } });
    await context.addCookies([{ name: 'admin', value: ADMIN_TEST_TOKEN, url: origin }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('dialog', (dialog) => {
      problems.push(`a dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });

    const response = await page.goto(`${origin}/admin/output-cache`);
    expect(response?.status()).toBe(200);
    const rows = page.locator('[data-testid="entries"] tbody tr');
    await rows.filter({ hasText: '/shop/products/42' }).first().waitFor();
    expect(await rows.count()).toBe(7);
    expect(await rows.filter({ hasText: '/shop/products/42' }).count()).toBe(2);
    // The tag made of the query shows as text; no script of it ran (no dialog, no CSP report).
    await page.getByText('Search:<script>alert(1)</script>').waitFor();
    await page.getByText('healthy').first().waitFor();

    await rm(SCREENSHOT, { force: true }); // the file checked below is this run's
    await page.screenshot({ path: SCREENSHOT });
    const png = await readFile(SCREENSHOT);
    expect(png.length).toBeGreaterThan(PNG_SIGNATURE.length);
    expect(png.subarray(0, PNG_SIGNATURE.length)).toEqual(PNG_SIGNATURE);

    // Purge the tag of product 42 with the tag's button in its row; the form posts and
    // redirects back.
    await Promise.all([
      page.waitForURL(/purged=2/),
      page.getByRole('button', { name: 'Purge tag Product:42' }).first().click(),
    ]);
    await page.getByText('Purged 2 entries (by tag).').waitFor();
    expect(await rows.filter({ hasText: '/shop/products/42' }).count()).toBe(0);
    expect(await rows.count()).toBe(5);
    expect(await rows.filter({ hasText: '/shop/blog/hello-world' }).count()).toBe(1);

    // The cache agrees: the page renders anew.
    expect((await fetch(`${origin}/shop/products/42`)).headers.get('x-cache')).toBe('MISS');
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('filters the table by route with the filter form', async () => {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'admin', value: ADMIN_TEST_TOKEN, url: origin }]);
    const page = await context.newPage();
    await page.goto(`${origin}/admin/output-cache`);
    await page.getByLabel('Route', { exact: true }).fill('AdminPages/post');
    await Promise.all([
      page.waitForURL(/route=AdminPages%2Fpost/),
      page.getByRole('button', { name: 'Filter' }).click(),
    ]);
    const paths = await page.locator('[data-testid="entries"] tbody td.path').allTextContents();
    expect(paths.sort()).toEqual(['/shop/blog/hello-world', '/shop/blog/release-notes']);
    await context.close();
  }, 60_000);

  it('is refused without the token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${origin}/admin/output-cache`);
    expect(response?.status()).toBe(403);
    await context.close();
  }, 60_000);
});

// With UPDATE_SCREENSHOT=1 the screenshot goes to docs/ (in the repository, shown by the README).
beforeAll(() => mkdir(SCREENSHOT_DIR, { recursive: true }));
