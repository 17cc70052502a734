/**
 * Keyboard journeys in a real browser against the real built server, with
 * JavaScript switched off in the browser, so that every journey is proved to
 * work without any script: the skip link, the focus order, registering,
 * recovering from errors through the error summary, signing in, filtering
 * the dashboard, scrolling the learners table and signing out.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DESKTOP, focusSettled, NARROW, newContext } from './helpers/audits.js';
import { TOKEN, exampleRoster, launchBrowser, readRoster, screenshotDir, startGitHubServer, startServer, writeRoster, type GitHubServer, type Server } from './helpers/env.js';
import { ENROLLMENT_REPO } from '../helpers/github.js';

/** What has focus, in words: "#id" for an element with an id, otherwise its tag and text. */
async function focused(page: Page): Promise<string> {
  // No named functions in here: the page runs without script and without the __name helper.
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    if (el.id) return `#${el.id}`;
    return `${el.tagName.toLowerCase()}${el.classList.length ? `.${[...el.classList].join('.')}` : ''} "${(el.textContent ?? '').replace(/\s+/g, ' ').trim()}"`;
  });
}

async function press(page: Page, key: string, times = 1): Promise<void> {
  for (let i = 0; i < times; i += 1) await page.keyboard.press(key);
}

/** Presses a key that submits a form or follows a link, and waits for the page that answers. */
async function pressAndWait(page: Page, key: string): Promise<void> {
  const navigation = page.waitForNavigation();
  await page.keyboard.press(key);
  await navigation;
}

/** Tabs until `target` has focus; fails after `limit` presses. Returns the stops passed through, target included. */
async function tabTo(page: Page, target: string, key = 'Tab', limit = 40): Promise<string[]> {
  const stops: string[] = [];
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press(key);
    stops.push(await focused(page));
    if (stops.at(-1) === target) return stops;
  }
  assert.fail(`pressing ${key} ${limit} times never reached ${target}; it went through: ${stops.join(', ')}`);
}

/** The order Tab should follow: focusable elements in document order, one stop per radio group. */
async function expectedTabOrder(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const groups = new Set<string>();
    for (const el of document.querySelectorAll<HTMLElement>('a[href], button, input:not([type="hidden"]), select, textarea, [tabindex]')) {
      if (el.tabIndex < 0 || el.hasAttribute('disabled')) continue;
      let stop: Element = el;
      if (el instanceof HTMLInputElement && el.type === 'radio') {
        if (groups.has(el.name)) continue;
        groups.add(el.name);
        stop = document.querySelector(`input[type="radio"][name="${el.name}"]:checked`) ?? el;
      }
      out.push(stop.id ? `#${stop.id}` : `${stop.tagName.toLowerCase()}${stop.classList.length ? `.${[...stop.classList].join('.')}` : ''} "${(stop.textContent ?? '').replace(/\s+/g, ' ').trim()}"`);
    }
    return out;
  });
}

/** The accessible role, name and description the browser gives assistive technology for one element. */
async function accessible(page: Page, selector: string): Promise<{ role: string; name: string; description: string }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Accessibility.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    assert.ok(nodeId, `${selector} is not in the page`);
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const node = nodes[0];
    const value = (property: { value?: unknown } | undefined) => String(property?.value ?? '').replace(/\s+/g, ' ').trim();
    return { role: value(node?.role), name: value(node?.name), description: value(node?.description) };
  } finally {
    await cdp.detach();
  }
}

describe('keyboard journeys, with JavaScript off', () => {
  let browser: Browser;
  let server: Server;
  let context: BrowserContext;
  let page: Page;
  let shots: string;

  before(async () => {
    browser = await launchBrowser();
    server = await startServer();
    shots = await screenshotDir('keyboard');
  });

  after(async () => {
    await context?.close();
    await Promise.all([browser?.close(), server?.stop()]);
  });

  beforeEach(async () => {
    await context?.close();
    await writeRoster(server.rosterPath, await exampleRoster());
    context = await newContext(browser, { javaScriptEnabled: false });
    page = await context.newPage();
  });

  async function signIn(): Promise<void> {
    await page.goto(`${server.base}/login`);
    await page.locator('#token').fill(TOKEN);
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname, '/dashboard');
  }

  for (const [label, url, signedIn] of [
    ['registration', '/register', false],
    ['success', '/register/success?handle=ada-lovelace', false],
    ['sign-in', '/login', false],
    ['dashboard', '/dashboard', true],
    ['not found', '/no-such-page', false],
  ] as const) {
    test(`${label} page: the first Tab reaches a visible skip link, which moves focus into main`, async () => {
      if (signedIn) await signIn();
      await page.goto(`${server.base}${url}`);
      await press(page, 'Tab');
      assert.equal(await focused(page), 'a.skip-link "Skip to main content"');
      const box = await page.locator('.skip-link').boundingBox();
      assert.ok(box && box.y >= 0 && box.x >= 0 && box.width >= 24 && box.height >= 24, `the focused skip link must be on screen and at least 24 px: ${JSON.stringify(box)}`);
      if (label === 'registration') await page.screenshot({ path: path.join(shots, 'skip-link-focused.png') });
      await press(page, 'Enter');
      assert.equal(await focused(page), '#main-content');
      assert.equal(new URL(page.url()).hash, '#main-content');
      await press(page, 'Tab');
      assert.ok(await page.evaluate(() => document.querySelector('main')!.contains(document.activeElement)), `after the skip link, Tab must stay in main; focus is on ${await focused(page)}`);
    });

    test(`${label} page: Tab follows the page order, reaches every control once and is never trapped`, async () => {
      if (signedIn) await signIn();
      await page.goto(`${server.base}${url}`);
      const expected = await expectedTabOrder(page);
      const stops: string[] = [];
      for (let i = 0; i < expected.length; i += 1) {
        await press(page, 'Tab');
        stops.push(await focused(page));
      }
      assert.deepEqual(stops, expected, 'Tab order');
      // Past the last control focus leaves the page, and the next Tab starts again at the skip link.
      const wrapped = await tabTo(page, expected[0]!, 'Tab', 3);
      assert.ok(wrapped.length <= 2, `Tab must leave the page after the last control: ${wrapped.join(', ')}`);
      // Shift+Tab from the skip link leaves the page too, comes back at the last control, and walks the same order backwards.
      const around = await tabTo(page, expected.at(-1)!, 'Shift+Tab', 3);
      assert.ok(around.length <= 2, `Shift+Tab must leave the page before the first control: ${around.join(', ')}`);
      const backwards: string[] = [];
      for (let i = 0; i < expected.length - 1; i += 1) {
        await press(page, 'Shift+Tab');
        backwards.push(await focused(page));
      }
      assert.deepEqual(backwards, expected.slice(0, -1).reverse(), 'Shift+Tab order');
    });
  }

  test('the registration form can be completed and submitted with the keyboard alone', async () => {
    await page.goto(`${server.base}/register`);
    const stops = await tabTo(page, '#github_handle');
    assert.deepEqual(stops, ['a.skip-link "Skip to main content"', 'a "GLOW Companion"', 'a "Register"', 'a "Facilitator sign-in"', '#github_handle']);
    await page.keyboard.type('@Keyboard-Learner');
    // The cohort radios: Tab enters the group on its first radio; Space selects it, an arrow key moves and selects.
    await press(page, 'Tab');
    assert.equal(await focused(page), '#cohort_id');
    await press(page, 'Space');
    assert.equal(await page.locator('#cohort_id').isChecked(), true, 'Space selects the focused radio');
    await press(page, 'ArrowDown');
    assert.equal(await focused(page), '#cohort_id-2');
    assert.equal(await page.locator('#cohort_id-2').isChecked(), true, 'an arrow key moves to and selects the next radio');
    // The path radios: Tab enters the group on the selected radio.
    await press(page, 'Tab');
    assert.equal(await focused(page), '#path');
    await press(page, 'ArrowDown');
    assert.equal(await page.locator('#path-2').isChecked(), true);
    await press(page, 'Tab');
    assert.equal(await focused(page), 'button.button "Register"');
    await pressAndWait(page, 'Enter');

    assert.equal(new URL(page.url()).pathname, '/register/success');
    assert.equal(await page.title(), 'Registration received - GLOW Companion');
    const status = page.locator('[role="status"]');
    assert.match((await status.textContent()) ?? '', /Thank you, Keyboard-Learner\. Your registration for the GLOW workshop has been received\./);
    assert.equal(await status.getAttribute('aria-live'), 'polite');
    const learner = (await readRoster(server.rosterPath)).learners.find((l) => l.github_handle === 'Keyboard-Learner');
    assert.deepEqual(
      learner && { cohort_id: learner.cohort_id, path: learner.path, provision_state: learner.provision_state },
      { cohort_id: 'autumn-2026', path: 'day2-only', provision_state: 'pending' },
    );
  });

  test('after a failed submit focus is on the error summary, and each summary link puts focus in its field', async () => {
    await page.goto(`${server.base}/register`);
    await tabTo(page, '#github_handle');
    // Enter in the empty username field submits the form with no username and no cohort.
    await pressAndWait(page, 'Enter');
    await focusSettled(page, '.error-summary');
    assert.equal(await page.title(), 'Error: Register for the GLOW workshop - GLOW Companion');
    assert.equal(await focused(page), 'div.error-summary "There is a problem Enter your GitHub username Select your cohort"');
    await page.screenshot({ path: path.join(shots, 'error-summary-focused.png') });
    const summary = await accessible(page, '.error-summary [role="alert"]');
    assert.equal(summary.role, 'alert');
    // The focused box has no name of its own: a name there is read before the same heading inside it. (Chromium
    // exposes a focusable box without a role as an unnamed group.)
    assert.equal((await accessible(page, '.error-summary')).name, '', 'the focused error summary has no accessible name');

    await press(page, 'Tab');
    assert.equal(await focused(page), 'a "Enter your GitHub username"');
    await press(page, 'Enter');
    assert.equal(await focused(page), '#github_handle', 'the first summary link puts focus in the username field');
    assert.deepEqual(await accessible(page, '#github_handle'), {
      role: 'textbox',
      name: 'GitHub username',
      description: 'The name you sign in to GitHub with, for example ada-lovelace. Do not include your email address. Error: Enter your GitHub username',
    });

    // Back up into the summary, to its last link, and follow it.
    await tabTo(page, 'a "Select your cohort"', 'Shift+Tab', 3);
    await press(page, 'Enter');
    assert.equal(await focused(page), '#cohort_id', 'the cohort link puts focus on the first cohort radio');
    const group = await accessible(page, 'fieldset:has(#cohort_id)');
    assert.equal(group.name, 'Which cohort are you joining?');
    assert.equal(group.description, 'Error: Select your cohort');
    const radio = await accessible(page, '#cohort_id');
    assert.equal(radio.role, 'radio');
    assert.equal(radio.name, 'Spring 2026 cohort');
    assert.match(radio.description, /^Starts 2 March 2026/);

    // Correcting the form by keyboard from there registers.
    await press(page, 'Space');
    await tabTo(page, '#github_handle', 'Shift+Tab', 3);
    await page.keyboard.type('grace-hopper');
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname, '/register/success');
  });

  test('sign-in, the dashboard filter and sign-out work with the keyboard alone', async () => {
    await page.goto(`${server.base}/login`);
    const stops = await tabTo(page, '#token');
    assert.deepEqual(stops, ['a.skip-link "Skip to main content"', 'a "GLOW Companion"', 'a "Register"', 'a "Facilitator sign-in"', '#token']);
    assert.deepEqual(await accessible(page, '#token'), {
      role: 'textbox',
      name: 'Facilitator access token',
      description: 'Your workshop lead gives facilitators this token. You can paste it.',
    });

    // WCAG 3.3.8: a password field a password manager can fill and a person can paste into, with no length limit.
    const token = page.locator('#token');
    assert.deepEqual(
      [await token.getAttribute('type'), await token.getAttribute('autocomplete'), await token.getAttribute('maxlength')],
      ['password', 'current-password', null],
    );

    // A wrong token: the error summary takes focus; its link leads back to the (emptied) field.
    await page.keyboard.type('not-the-token');
    await pressAndWait(page, 'Enter');
    assert.equal(await page.title(), 'Error: Facilitator sign-in - GLOW Companion');
    assert.match(await focused(page), /^div\.error-summary "There is a problem That facilitator access token was not recognized\."$/);
    await press(page, 'Tab');
    await press(page, 'Enter');
    assert.equal(await focused(page), '#token');
    assert.equal(await page.locator('#token').inputValue(), '', 'the wrong token is not sent back into the page');

    await page.keyboard.type(TOKEN);
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname, '/dashboard');

    // The cohort filter: choosing an option changes nothing until Show is pressed.
    const toFilter = await tabTo(page, '#cohort');
    assert.deepEqual(toFilter, ['a.skip-link "Skip to main content"', 'a "GLOW Companion"', 'a "Register"', 'a "Cohort dashboard"', 'button.button.button-secondary "Sign out"', '#cohort']);
    assert.deepEqual(await accessible(page, '#cohort'), { role: 'combobox', name: 'Cohort', description: 'Choose a cohort, then select Show.' });
    await press(page, 'ArrowDown');
    assert.equal(await page.locator('#cohort').inputValue(), 'spring-2026');
    await page.waitForTimeout(300);
    assert.equal(new URL(page.url()).search, '', 'choosing an option must not change the page by itself');
    await press(page, 'Tab');
    assert.equal(await focused(page), 'button.button.button-secondary "Show"');
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).search, '?cohort=spring-2026');
    assert.equal(await page.title(), 'Cohort dashboard: Spring 2026 cohort - GLOW Companion');
    assert.equal(await page.locator('#cohort').inputValue(), 'spring-2026', 'the filter shows the chosen cohort');
    assert.equal(await page.locator('#learners-caption').textContent(), 'Learners in Spring 2026 cohort: 2 learners, sorted by username (ascending)');

    // Sign out from the header, by keyboard.
    await tabTo(page, 'button.button.button-secondary "Sign out"');
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?signed_out=1');
    assert.equal(await page.title(), 'You have signed out - Facilitator sign-in - GLOW Companion');
    assert.equal((await page.locator('h1').textContent())?.trim(), 'You have signed out');
    assert.equal((await page.locator('[role="status"]').textContent())?.trim(), 'You have signed out.');
    await page.goto(`${server.base}/dashboard`);
    assert.equal(new URL(page.url()).pathname, '/login', 'after signing out the dashboard asks for sign-in again');
  });

  test('at 320 px the learners table scrolls sideways by keyboard inside its labelled region, and only there', async () => {
    await signIn();
    await page.setViewportSize(NARROW);
    const learners = page.locator('.table-region[aria-labelledby="learners-caption"]');
    await tabTo(page, 'div.table-region "' + (await learners.textContent())!.replace(/\s+/g, ' ').trim() + '"', 'Tab', 80);
    const region = await accessible(page, '.table-region[aria-labelledby="learners-caption"]');
    assert.deepEqual({ role: region.role, name: region.name }, { role: 'region', name: 'Learners in all cohorts: 2 learners, sorted by username (ascending)' });
    const table = await accessible(page, '.table-region[aria-labelledby="learners-caption"] table');
    assert.equal(table.name, 'Learners in all cohorts: 2 learners, sorted by username (ascending)', 'the table is named by its caption');
    const headers = await learners.locator('thead th[scope="col"]').allTextContents();
    assert.deepEqual(headers, ['Username', 'Cohort', 'Path', 'Provisioning', 'Learning Room repository', 'Status', 'Registered', 'Last activity', 'Enrollment issue']);
    assert.equal(await learners.locator('tbody th[scope="row"]').count(), 2, 'each row is headed by the learner username');

    const scroll = () => learners.evaluate((el) => el.scrollLeft);
    assert.equal(await scroll(), 0);
    await press(page, 'ArrowRight', 5);
    // Keyboard scrolling may be animated: give it a moment.
    for (let i = 0; i < 40 && (await scroll()) === 0; i += 1) await page.waitForTimeout(50);
    assert.ok((await scroll()) > 0, 'the arrow keys scroll the focused table region');
    assert.equal(await focused(page), await learners.evaluate((el) => `div.table-region "${(el.textContent ?? '').replace(/\s+/g, ' ').trim()}"`), 'focus stays on the region');
    await page.screenshot({ path: path.join(shots, 'table-region-focused-320px.png') });
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), true, 'the page itself does not scroll sideways');
    await page.setViewportSize(DESKTOP);
  });
});

describe('keyboard journey in GitHub mode, with JavaScript off', () => {
  let browser: Browser;
  let server: GitHubServer;
  let context: BrowserContext;

  before(async () => {
    browser = await launchBrowser();
    server = await startGitHubServer();
  });

  after(async () => {
    await context?.close();
    await Promise.all([browser?.close(), server?.stop()]);
  });

  test('find a stuck learner through the filters, open their page, and come back to the same filtered page', async () => {
    context = await newContext(browser, { javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.base}/login`);
    await page.locator('#token').fill(TOKEN);
    await pressAndWait(page, 'Enter');
    // Progress is read in the background: wait until the dashboard shows it.
    for (let i = 0; i < 60 && !/Progress as read from GitHub at/.test(await page.locator('main').innerText()); i += 1) {
      await page.waitForTimeout(250);
      await page.reload();
    }

    // Only the learners who need attention, by keyboard: the checkbox, then the form's button.
    await tabTo(page, '#attention', 'Tab', 80);
    await press(page, 'Space');
    assert.equal(await page.locator('#attention').isChecked(), true);
    await press(page, 'Tab');
    assert.equal(await focused(page), 'button.button.button-secondary "Filter learners"');
    await pressAndWait(page, 'Enter');
    const filtered = page.url();
    assert.match(new URL(filtered).search, /attention=1/);
    assert.match((await page.locator('#learners-caption').textContent())!, /needing attention/);

    // The stuck learner's row heading is a link to their page.
    await tabTo(page, 'a "ada-lovelace"', 'Tab', 120);
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname, '/learners/spring-2026/ada-lovelace');
    assert.equal((await page.locator('h1').textContent())?.trim(), 'Learner: ada-lovelace');
    assert.match(await page.locator('main').innerText(), /Stuck on Challenge 2/);

    // The browser's Back (Alt+Left; headless Chromium does not wire its own shortcuts) returns to the same filtered page.
    await page.goBack();
    assert.equal(page.url(), filtered);
    assert.equal(await page.locator('#attention').isChecked(), true);
  });

  test('a bulk operation with the keyboard alone: a form sent too soon, its errors followed, learners selected, the operation chosen, checked, confirmed, and the result read', async () => {
    await context?.close();
    context = await newContext(browser, { javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.base}/login`);
    await page.locator('#token').fill(TOKEN);
    await pressAndWait(page, 'Enter');

    // Continue with nothing chosen: the dashboard comes back, focus on the error summary.
    await tabTo(page, 'button.button "Continue"', 'Tab', 120);
    await pressAndWait(page, 'Enter');
    await focusSettled(page, '.error-summary');
    assert.equal(await page.title(), 'Error: Cohort dashboard - GLOW Companion');
    assert.match(await focused(page), /^div\.error-summary "There is a problem Choose what to do for the selected learners Select at least one learner"$/);
    await press(page, 'Tab', 2);
    assert.equal(await focused(page), 'a "Select at least one learner"');
    await press(page, 'Enter');
    assert.equal(await focused(page), '#select-1', 'the summary link puts focus on the first learner\'s check box');
    assert.deepEqual(await accessible(page, '#select-1'), { role: 'checkbox', name: 'Select ada-lovelace (spring-2026)', description: 'Error: Select at least one learner' });

    // Space checks the box; Tab moves through the row to the next one.
    await press(page, 'Space');
    assert.equal(await page.locator('#select-1').isChecked(), true);
    await tabTo(page, '#select-2', 'Tab', 10);
    await press(page, 'Space');
    assert.equal(await page.locator('#select-2').isChecked(), true);

    // Tab enters the operations on the first radio; Space chooses it; Tab reaches Continue.
    await tabTo(page, '#operation', 'Tab', 20);
    const group = await accessible(page, 'fieldset:has(#operation)');
    assert.equal(group.name, 'What to do for the selected learners');
    assert.deepEqual(await accessible(page, '#operation').then((r) => [r.role, r.name]), ['radio', 'Mark acknowledged']);
    await press(page, 'Space');
    assert.equal(await page.locator('#operation').isChecked(), true);
    await press(page, 'Tab');
    assert.equal(await focused(page), 'button.button "Continue"');
    await pressAndWait(page, 'Enter');

    // The confirmation: what will happen to each, and who will see it; nothing done yet.
    assert.equal(await page.title(), 'Check and confirm: Mark acknowledged for 2 learners - GLOW Companion');
    const confirm = await page.locator('main').innerText();
    assert.match(confirm, /ada-lovelace \(spring-2026\): Add the label acked/);
    assert.match(confirm, /grace-hopper \(spring-2026\): Not included\. No enrollment issue is recorded for grace-hopper/);
    assert.match(confirm, /Who will see it/);
    assert.deepEqual(server.admin.sim.state.issue(ENROLLMENT_REPO, 1).labels, []);
    await tabTo(page, 'button.button "Confirm: mark acknowledged for 1 learner"', 'Tab', 30);
    await pressAndWait(page, 'Enter');

    // The result, in the title, the heading and a status region.
    assert.match(new URL(page.url()).pathname, /^\/operations\/results\/[A-Za-z0-9_-]{22}$/);
    assert.equal(await page.title(), 'Mark acknowledged for 2 learners: 1 done, 1 not done - GLOW Companion');
    const status = page.locator('[role="status"]');
    assert.match((await status.innerText()).replace(/\s+/g, ' '), /^Of 2 learners: 1 done, 1 not done\. Each learner's outcome is listed below, with the reason for each one that was not done\.$/);
    assert.match(await page.locator('main').innerText(), /ada-lovelace \(spring-2026\): Done\. The enrollment issue Community-Access\/git-going-with-github#1 now has the label acked\./);
    assert.deepEqual(server.admin.sim.state.issue(ENROLLMENT_REPO, 1).labels, ['acked']);

    await tabTo(page, 'a "Back to the cohort dashboard"', 'Tab', 30);
    await pressAndWait(page, 'Enter');
    assert.equal(new URL(page.url()).pathname, '/dashboard');
  });
});
