/**
 * Layout findings of the accessibility review, each measured in a real
 * browser against the real built server: summary counts that broke in the
 * middle of a number (WCAG 1.4.10, 1.4.12), error-summary links that
 * scrolled the field's label out of sight (2.4.3, 3.3.1), and error
 * messages that looked like labels in forced colours (1.4.1).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DESKTOP, NARROW, applyTextSpacing, newContext } from './helpers/audits.js';
import { TOKEN, exampleRoster, launchBrowser, screenshotDir, startServer, writeRoster, type Server } from './helpers/env.js';

/** Clicks a submit button and waits for the page that answers. */
async function submit(page: Page, name: string): Promise<void> {
  const navigation = page.waitForNavigation();
  await page.getByRole('button', { name, exact: true }).click();
  await navigation;
}

describe('layout findings of the accessibility review', () => {
  let browser: Browser;
  let server: Server;
  let shots: string;

  before(async () => {
    browser = await launchBrowser();
    server = await startServer();
    await writeRoster(server.rosterPath, await exampleRoster());
    shots = await screenshotDir('layout');
  });

  after(async () => {
    await Promise.all([browser?.close(), server?.stop()]);
  });

  async function withPage(options: Parameters<typeof newContext>[1], run: (page: Page) => Promise<void>): Promise<void> {
    let context: BrowserContext | undefined;
    try {
      context = await newContext(browser, options);
      await run(await context.newPage());
    } finally {
      await context?.close();
    }
  }

  test('at 320 px with text spacing, a five-digit summary count stays on one line and its label wraps instead', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${server.base}/login`);
      await page.locator('#token').fill(TOKEN);
      await submit(page, 'Sign in');
      await page.setViewportSize(NARROW);
      const remove = await applyTextSpacing(page);
      try {
        // A cohort of 25012 learners would make a page too large to check quickly: the counts are set in place instead,
        // which is what the layout has to hold (the longest labels are the real ones).
        await page.locator('.summary-list dd').evaluateAll((dds) => dds.forEach((dd) => (dd.textContent = '25012')));
        await page.locator('.summary').screenshot({ path: path.join(shots, 'summary-320px-text-spacing.png') });
        const rows = await page.locator('.summary-row').evaluateAll((elements) =>
          elements.map((row) => {
            const dt = row.querySelector('dt')!;
            const dd = row.querySelector('dd')!;
            const range = document.createRange();
            range.selectNodeContents(dd);
            const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
            const box = dd.getBoundingClientRect();
            const label = dt.getBoundingClientRect();
            return {
              label: (dt.textContent ?? '').trim(),
              lines,
              height: box.height,
              lineHeight: parseFloat(getComputedStyle(dd).lineHeight),
              right: box.right,
              overlapsLabel: label.right > box.left + 0.5 && label.bottom > box.top && label.top < box.bottom,
              width: document.documentElement.clientWidth,
            };
          }),
        );
        assert.ok(rows.length >= 9, `the summary lists every state and status (found ${rows.length} rows)`);
        for (const row of rows) {
          assert.equal(row.lines, 1, `the count for "${row.label}" is split over ${row.lines} lines`);
          assert.ok(row.height <= row.lineHeight + 1, `the count for "${row.label}" is ${row.height} px tall, more than one ${row.lineHeight} px line`);
          assert.ok(row.right <= row.width, `the count for "${row.label}" runs off the ${row.width} px screen (its right edge is at ${row.right} px)`);
          assert.equal(row.overlapsLabel, false, `the count for "${row.label}" overlaps its label`);
        }
      } finally {
        await remove();
      }
    });
  });
});
