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
import { EMPTY_ROSTER, TOKEN, exampleRoster, launchBrowser, screenshotDir, startServer, writeRoster, type RosterFile, type Server } from './helpers/env.js';

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
    await writeRoster(server.rosterPath, await exampleRoster());
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

  /**
   * Follows each error-summary link by keyboard, with script off as in the
   * keyboard journeys, and checks that the field has focus and that its label
   * (or its group's legend), hint and error message are in the window with it.
   */
  async function followSummaryLinks(page: Page, where: string): Promise<string[]> {
    const problems: string[] = [];
    const links = await page.locator('.error-summary a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    assert.ok(links.length > 0, `${where}: the page has no error-summary links`);
    for (const href of links) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.locator(`.error-summary a[href="${href}"]`).focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction((id) => document.activeElement?.id === id, href.slice(1), { timeout: 2_000 }).catch(() => undefined);
      const seen = await page.evaluate((id) => {
        const field = document.getElementById(id);
        if (!field) return null;
        const label = field.closest('fieldset')?.querySelector('legend') ?? document.querySelector(`label[for="${id}"]`);
        return {
          focus: document.activeElement?.id ?? '',
          label: (label?.textContent ?? '').trim(),
          labelTop: label?.getBoundingClientRect().top ?? Number.NaN,
          fieldBottom: field.getBoundingClientRect().bottom,
          height: window.innerHeight,
        };
      }, href.slice(1));
      if (!seen) {
        problems.push(`${where}: ${href} does not exist`);
        continue;
      }
      if (seen.focus !== href.slice(1)) problems.push(`${where}: following ${href} put focus on "${seen.focus}"`);
      if (!(seen.labelTop >= 0)) problems.push(`${where}: following ${href} leaves its label "${seen.label}" above the window (its top is at ${Math.round(seen.labelTop)} px)`);
      if (seen.fieldBottom > seen.height) problems.push(`${where}: following ${href} leaves the field below the window (its bottom is at ${Math.round(seen.fieldBottom)} px of ${seen.height})`);
    }
    return problems;
  }

  const FORMS: Array<{ name: string; roster: () => Promise<RosterFile>; open: (page: Page) => Promise<void> }> = [
    {
      name: 'registration, cohorts listed',
      roster: exampleRoster,
      open: async (page) => {
        await page.goto(`${server.base}/register`);
        // Every field in error: no username, no cohort, a path no radio offers.
        await page.locator('#path').evaluate((el) => {
          (el as HTMLInputElement).value = 'weekend';
          (el as HTMLInputElement).checked = true;
        });
        await submit(page, 'Register');
      },
    },
    {
      name: 'registration, cohort typed',
      roster: async () => EMPTY_ROSTER,
      open: async (page) => {
        await page.goto(`${server.base}/register`);
        await page.locator('#cohort_id').fill('spring 2026!');
        await submit(page, 'Register');
      },
    },
    {
      name: 'sign-in',
      roster: async () => EMPTY_ROSTER,
      open: async (page) => {
        await page.goto(`${server.base}/login`);
        await page.locator('#token').fill('not-the-token');
        await submit(page, 'Sign in');
      },
    },
  ];

  for (const form of FORMS) {
    test(`${form.name}: following an error-summary link keeps the field's label, hint and error in view at 1024 px, at 320 px, and at 320 px with text spacing`, async () => {
      await writeRoster(server.rosterPath, await form.roster());
      const problems: string[] = [];
      await withPage({ javaScriptEnabled: false }, async (page) => {
        await form.open(page);
        problems.push(...(await followSummaryLinks(page, '1024 px')));
        await page.setViewportSize(NARROW);
        problems.push(...(await followSummaryLinks(page, '320 px')));
        const remove = await applyTextSpacing(page);
        try {
          problems.push(...(await followSummaryLinks(page, '320 px with text spacing')));
          await page.screenshot({ path: path.join(shots, `summary-link-${form.name.replace(/\W+/g, '-')}-320px.png`) });
        } finally {
          await remove();
        }
        await page.setViewportSize(DESKTOP);
      });
      assert.deepEqual(problems, []);
    });
  }

  test('in forced colours every error message shows its "Error:" prefix, so it cannot be taken for a label', async () => {
    await writeRoster(server.rosterPath, await exampleRoster());
    await withPage({ javaScriptEnabled: false }, async (page) => {
      await page.goto(`${server.base}/register`);
      await page.locator('#path').evaluate((el) => {
        (el as HTMLInputElement).value = 'weekend';
        (el as HTMLInputElement).checked = true;
      });
      await submit(page, 'Register');
      await page.emulateMedia({ forcedColors: 'active' });
      assert.equal(await page.evaluate(() => matchMedia('(forced-colors: active)').matches), true, 'forced colours are active');
      await page.locator('.form-group-error').first().screenshot({ path: path.join(shots, 'error-message-forced-colours.png') });
      const prefixes = await page.locator('.error-message').evaluateAll((messages) =>
        messages.map((message) => {
          // In the window, where what covers it can be seen.
          message.scrollIntoView({ block: 'center' });
          const walker = document.createTreeWalker(message, NodeFilter.SHOW_TEXT);
          let node: Node | null = walker.nextNode();
          while (node && !(node.textContent ?? '').includes('Error:')) node = walker.nextNode();
          if (!node) return { id: message.id, problem: 'has no "Error:" text' };
          const range = document.createRange();
          const start = node.textContent!.indexOf('Error:');
          range.setStart(node, start);
          range.setEnd(node, start + 'Error:'.length);
          const box = range.getBoundingClientRect();
          const fontSize = parseFloat(getComputedStyle(node.parentElement!).fontSize);
          if (box.width < fontSize * 2 || box.height < fontSize * 0.8) return { id: message.id, problem: `is drawn ${box.width} by ${box.height} px` };
          // Clipped by itself or by anything between it and the message: a clip path, a clip rectangle, or a box smaller than the text with its overflow hidden.
          for (let el: Element | null = node.parentElement; el && el !== message.parentElement; el = el.parentElement) {
            const style = getComputedStyle(el);
            const rect = el.getBoundingClientRect();
            const hides = ['hidden', 'clip'].includes(style.overflowX) || ['hidden', 'clip'].includes(style.overflowY);
            const inside = rect.left <= box.left + 0.5 && rect.right >= box.right - 0.5 && rect.top <= box.top + 0.5 && rect.bottom >= box.bottom - 0.5;
            if (style.clipPath !== 'none' || (style.clip !== 'auto' && style.position === 'absolute') || (hides && !inside) || style.visibility === 'hidden' || Number(style.opacity) === 0) {
              return { id: message.id, problem: `is hidden by <${el.tagName.toLowerCase()} class="${String(el.className)}">` };
            }
          }
          const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          if (!hit || !(hit === node.parentElement || node.parentElement!.contains(hit))) return { id: message.id, problem: `is covered by ${hit?.tagName ?? 'nothing'}` };
          return { id: message.id, problem: '' };
        }),
      );
      assert.equal(prefixes.length, 3, 'the page shows three error messages');
      assert.deepEqual(
        prefixes.filter((p) => p.problem !== '').map((p) => `the "Error:" prefix of #${p.id} ${p.problem}`),
        [],
      );
    });
  });
});
