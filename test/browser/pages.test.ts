/**
 * Every page state a person can meet, in a real browser (Debian's Chromium)
 * against the real built server: axe-core with the WCAG 2.0, 2.1 and 2.2 A
 * and AA rules and best practices, the page shell, the error pattern, focus
 * indicators, reflow at 320 CSS px, forced colours, 200% text, no inline code
 * and a clean console. Each state is also saved as full-page PNGs under
 * test-results/screenshots/pages/ for a person to look at.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  DESKTOP,
  LAYOUT_RULES,
  NARROW,
  PageWatch,
  axeProblems,
  controlContrastProblems,
  errorPatternProblems,
  focusIndicatorProblems,
  forcedColorsProblems,
  fullPageScreenshot,
  newContext,
  reflowProblems,
  structureOf,
  textSizeProblems,
  textSpacingProblems,
} from './helpers/audits.js';
import {
  EMPTY_ROSTER,
  TOKEN,
  UNREADABLE_ROSTER,
  exampleRoster,
  largeRoster,
  launchBrowser,
  screenshotDir,
  startGitHubServer,
  startServer,
  writeRoster,
  type GitHubServer,
  type RosterFile,
  type Server,
} from './helpers/env.js';

interface State {
  name: string;
  /** The limited server has no facilitator token and a limit of 2 POSTs a window; the GitHub servers are in GitHub mode against the simulator (their roster comes from it). */
  server?: 'main' | 'limited' | 'github' | 'github-failing';
  roster?: () => Promise<RosterFile | string>;
  status: number;
  h1: string;
  /** The title before " - GLOW Companion" (and after "Error: " on a form with errors). */
  title?: string;
  /** How many links the error summary must have after a failed submit. */
  errors?: number;
  open: (page: Page, server: Server) => Promise<void>;
}

/** Clicks a submit button and waits for the page that answers. */
async function submit(page: Page, name: string): Promise<void> {
  const navigation = page.waitForNavigation();
  await page.getByRole('button', { name, exact: true }).click();
  await navigation;
}

/** Signs in and asks, from the dashboard's bulk form, to mark the first two learners acknowledged: the confirmation page. */
async function askToMarkFirstTwoAcknowledged(page: Page, s: Server): Promise<void> {
  await signIn(page, s);
  await page.locator('#select-1').check();
  await page.locator('#select-2').check();
  await page.locator('input[name="operation"][value="acked"]').check();
  await submit(page, 'Continue');
}

/** Reloads the dashboard until its main content matches (background work in GitHub mode takes a moment). */
async function waitForText(page: Page, server: Server, pattern: RegExp, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await page.goto(`${server.base}/dashboard`);
    if (pattern.test(await page.locator('main').innerText())) return;
    if (Date.now() > deadline) throw new Error(`the dashboard never showed ${pattern}`);
    await page.waitForTimeout(250);
  }
}

async function signIn(page: Page, server: Server): Promise<void> {
  await page.goto(`${server.base}/login`);
  await page.locator('#token').fill(TOKEN);
  await submit(page, 'Sign in');
  assert.equal(new URL(page.url()).pathname, '/dashboard', 'signing in should open the dashboard');
}

/** Signs in, opens Ada's learner page, and sends her notes as `text`. */
async function saveAdasNotes(page: Page, server: Server, text: string): Promise<void> {
  await signIn(page, server);
  await page.goto(`${server.base}/learners/spring-2026/ada-lovelace`);
  await page.locator('#notes').fill(text);
  await submit(page, 'Save notes');
}

async function registerForm(page: Page, server: Server, fields: { handle?: string; cohort?: string; path?: string }): Promise<void> {
  await page.goto(`${server.base}/register`);
  if (fields.handle !== undefined) await page.locator('#github_handle').fill(fields.handle);
  if (fields.cohort !== undefined) {
    const radio = page.locator(`input[name="cohort_id"][value="${fields.cohort}"]`);
    if ((await radio.count()) > 0) await radio.check();
    else await page.locator('#cohort_id').fill(fields.cohort);
  }
  if (fields.path !== undefined) {
    // A value no radio offers, as a tampered form would send.
    await page.locator('#path').evaluate((el, value) => {
      (el as HTMLInputElement).value = value;
      (el as HTMLInputElement).checked = true;
    }, fields.path);
  }
}

const example = exampleRoster;
const REGISTER = 'Register for the GLOW workshop';

const STATES: State[] = [
  {
    name: 'register-empty',
    roster: example,
    status: 200,
    h1: REGISTER,
    open: async (page, s) => void (await page.goto(`${s.base}/register`)),
  },
  {
    name: 'register-error-username-missing',
    roster: example,
    status: 400,
    h1: REGISTER,
    errors: 1,
    open: async (page, s) => {
      await registerForm(page, s, { cohort: 'spring-2026' });
      await submit(page, 'Register');
    },
  },
  {
    name: 'register-error-username-invalid',
    roster: example,
    status: 400,
    h1: REGISTER,
    errors: 1,
    open: async (page, s) => {
      await registerForm(page, s, { handle: '-not--a-valid-username-because-it-is-far-too-long-', cohort: 'spring-2026' });
      await submit(page, 'Register');
    },
  },
  {
    name: 'register-error-cohort',
    roster: example,
    status: 400,
    h1: REGISTER,
    errors: 1,
    open: async (page, s) => {
      await registerForm(page, s, { handle: 'ada-lovelace' });
      await submit(page, 'Register');
    },
  },
  {
    name: 'register-error-path',
    roster: example,
    status: 400,
    h1: REGISTER,
    errors: 1,
    open: async (page, s) => {
      await registerForm(page, s, { handle: 'ada-lovelace', cohort: 'spring-2026', path: 'weekend' });
      await submit(page, 'Register');
      // WCAG 3.3.7: what the person entered is still there.
      assert.equal(await page.locator('#github_handle').inputValue(), 'ada-lovelace', 'the username is kept after an error');
      assert.equal(await page.locator('input[name="cohort_id"][value="spring-2026"]').isChecked(), true, 'the cohort is kept after an error');
    },
  },
  {
    name: 'register-errors-all',
    roster: example,
    status: 400,
    h1: REGISTER,
    errors: 3,
    open: async (page, s) => {
      await registerForm(page, s, { path: 'weekend' });
      await submit(page, 'Register');
    },
  },
  {
    name: 'register-no-cohorts-listed',
    roster: async () => EMPTY_ROSTER,
    status: 200,
    h1: REGISTER,
    open: async (page, s) => void (await page.goto(`${s.base}/register`)),
  },
  {
    name: 'register-no-cohorts-listed-error-cohort',
    roster: async () => EMPTY_ROSTER,
    status: 400,
    h1: REGISTER,
    errors: 1,
    open: async (page, s) => {
      await registerForm(page, s, { handle: 'ada-lovelace', cohort: 'spring 2026!' });
      await submit(page, 'Register');
      assert.equal(await page.locator('#cohort_id').inputValue(), 'spring 2026!', 'the cohort typed is kept after an error');
    },
  },
  {
    name: 'register-unreadable-roster',
    roster: async () => UNREADABLE_ROSTER,
    status: 503,
    h1: 'The roster file could not be read',
    open: async (page, s) => void (await page.goto(`${s.base}/register`)),
  },
  {
    name: 'register-submit-unreadable-roster',
    roster: example,
    status: 503,
    h1: 'The roster file could not be read',
    open: async (page, s) => {
      await registerForm(page, s, { handle: 'ada-lovelace', cohort: 'spring-2026' });
      await writeRoster(s.rosterPath, UNREADABLE_ROSTER);
      await submit(page, 'Register');
    },
  },
  {
    name: 'success',
    roster: example,
    status: 200,
    h1: 'Registration received',
    open: async (page, s) => {
      await registerForm(page, s, { handle: '@Katherine-Johnson', cohort: 'autumn-2026' });
      await submit(page, 'Register');
      assert.equal(new URL(page.url()).pathname, '/register/success');
    },
  },
  {
    name: 'login-empty',
    status: 200,
    h1: 'Facilitator sign-in',
    open: async (page, s) => void (await page.goto(`${s.base}/login`)),
  },
  {
    name: 'login-error-wrong-token',
    status: 401,
    h1: 'Facilitator sign-in',
    errors: 1,
    open: async (page, s) => {
      await page.goto(`${s.base}/login`);
      await page.locator('#token').fill('not-the-token');
      await submit(page, 'Sign in');
    },
  },
  {
    name: 'login-error-token-missing',
    status: 400,
    h1: 'Facilitator sign-in',
    errors: 1,
    open: async (page, s) => {
      await page.goto(`${s.base}/login`);
      await submit(page, 'Sign in');
    },
  },
  {
    name: 'login-session-ended',
    status: 200,
    // A status region present at load is usually not announced: the heading and the title say what happened.
    h1: 'Your session has ended',
    title: 'Your session has ended - Facilitator sign-in',
    open: async (page, s) => void (await page.goto(`${s.base}/login?expired=1&next=%2Fdashboard`)),
  },
  {
    name: 'login-not-configured',
    server: 'limited',
    status: 200,
    h1: 'Facilitator sign-in',
    open: async (page, s) => void (await page.goto(`${s.base}/login`)),
  },
  {
    name: 'signed-out',
    status: 200,
    h1: 'You have signed out',
    title: 'You have signed out - Facilitator sign-in',
    open: async (page, s) => {
      await signIn(page, s);
      await submit(page, 'Sign out');
      assert.equal(new URL(page.url()).search, '?signed_out=1');
    },
  },
  {
    name: 'dashboard-empty-roster',
    roster: async () => EMPTY_ROSTER,
    status: 200,
    h1: 'Cohort dashboard',
    open: signIn,
  },
  {
    name: 'dashboard-example-roster',
    roster: example,
    status: 200,
    h1: 'Cohort dashboard',
    open: signIn,
  },
  {
    name: 'dashboard-filtered',
    roster: example,
    status: 200,
    h1: 'Cohort dashboard: Spring 2026 cohort',
    title: 'Cohort dashboard: Spring 2026 cohort',
    open: async (page, s) => {
      await signIn(page, s);
      await page.locator('#cohort').selectOption('spring-2026');
      await submit(page, 'Show');
    },
  },
  {
    name: 'dashboard-filtered-no-learners',
    roster: example,
    status: 200,
    h1: 'Cohort dashboard: Autumn 2026 cohort',
    title: 'Cohort dashboard: Autumn 2026 cohort',
    open: async (page, s) => {
      await signIn(page, s);
      await page.goto(`${s.base}/dashboard?cohort=autumn-2026`);
    },
  },
  {
    name: 'dashboard-200-learners',
    roster: () => largeRoster(200),
    status: 200,
    h1: 'Cohort dashboard',
    open: signIn,
  },
  {
    name: 'dashboard-unreadable-roster',
    roster: example,
    status: 503,
    h1: 'The roster file could not be read',
    open: async (page, s) => {
      await signIn(page, s);
      await writeRoster(s.rosterPath, UNREADABLE_ROSTER);
      await page.goto(`${s.base}/dashboard`);
    },
  },
  {
    name: 'dashboard-unknown-cohort',
    roster: example,
    status: 200,
    h1: 'Cohort dashboard',
    open: async (page, s) => {
      await signIn(page, s);
      await page.goto(`${s.base}/dashboard?cohort=no-such-cohort`);
      assert.match(await page.locator('main').innerText(), /There is no cohort "no-such-cohort"\. Showing all cohorts\./);
    },
  },
  {
    name: 'dashboard-github-progress',
    server: 'github',
    status: 200,
    h1: 'Cohort dashboard',
    open: async (page, s) => {
      await signIn(page, s);
      await waitForText(page, s, /Progress as read from GitHub at/);
      const main = await page.locator('main').innerText();
      assert.match(main, /Stuck on Challenge 2/);
      assert.match(main, /Provisioning failed/);
      assert.match(main, /Registrations waiting to be sent\s*0/);
    },
  },
  {
    name: 'dashboard-github-failure',
    server: 'github-failing',
    status: 200,
    h1: 'Cohort dashboard',
    open: async (page, s) => {
      await signIn(page, s);
      await waitForText(page, s, /Progress as read from GitHub at/);
      (s as GitHubServer).admin.sim.faults.revokeToken((s as GitHubServer).admin.token);
      await waitForText(page, s, /Problem reading progress[^]*Problem with GitHub|Problem with GitHub[^]*Problem reading progress/);
      assert.match(await page.locator('main').innerText(), /did not accept the token/);
    },
  },
  {
    name: 'dashboard-filtered-sorted-attention',
    roster: () => largeRoster(200),
    status: 200,
    h1: 'Cohort dashboard',
    open: async (page, s) => {
      await signIn(page, s);
      await page.locator('#state').selectOption('failed');
      await page.locator('#attention').check();
      await submit(page, 'Filter learners');
      await page.getByRole('link', { name: 'Registered', exact: true }).click();
      await page.waitForURL(/sort=registered/);
      assert.match(await page.locator('#learners-caption').innerText(), /provisioning state failed, needing attention, sorted by registration time \(ascending\)/);
    },
  },
  {
    name: 'dashboard-second-page',
    roster: () => largeRoster(200),
    status: 200,
    h1: 'Cohort dashboard',
    open: async (page, s) => {
      await signIn(page, s);
      await page.getByRole('navigation', { name: 'Pages of learners' }).getByRole('link', { name: 'Next page' }).click();
      await page.waitForURL(/page=2/);
      assert.match(await page.locator('#learners-caption').innerText(), /page 2 of 4/);
    },
  },
  {
    name: 'register-form-expired',
    roster: example,
    status: 400,
    h1: REGISTER,
    title: REGISTER,
    // The summary says the form had expired, with no link: no field is at fault.
    errors: 0,
    open: async (page, s) => {
      await registerForm(page, s, { handle: 'mary-jackson', cohort: 'spring-2026' });
      await page.locator('input[name="csrf_token"]').evaluate((el) => ((el as HTMLInputElement).value = 'forged-token'));
      await submit(page, 'Register');
      // WCAG 3.3.7: the answers are still there, and the summary says what happened.
      assert.equal(await page.locator('#github_handle').inputValue(), 'mary-jackson');
      assert.match(await page.locator('.error-summary').innerText(), /Your form had expired/);
    },
  },
  {
    name: 'error-400-csrf',
    status: 400,
    h1: 'Your form could not be accepted',
    open: async (page, s) => {
      await page.goto(`${s.base}/login`);
      await page.locator('#token').fill('anything');
      await page.locator('input[name="csrf_token"]').evaluate((el) => ((el as HTMLInputElement).value = 'forged-token'));
      await submit(page, 'Sign in');
    },
  },
  {
    name: 'error-404',
    status: 404,
    h1: 'Page not found',
    open: async (page, s) => void (await page.goto(`${s.base}/no-such-page`)),
  },
  {
    name: 'error-404-signed-in',
    status: 404,
    h1: 'Page not found',
    open: async (page, s) => {
      await signIn(page, s);
      await page.goto(`${s.base}/dashboard/no-such-page`);
    },
  },
  {
    name: 'error-405',
    status: 405,
    h1: 'That action is not available here',
    open: async (page, s) => void (await page.goto(`${s.base}/logout`)),
  },
  {
    name: 'error-429',
    server: 'limited',
    status: 429,
    h1: 'Too many attempts',
    open: async (page, s) => {
      await page.goto(`${s.base}/register`);
      // The limit is 2 a window: the first two get the form back with errors, the third is refused.
      for (let i = 0; i < 3; i += 1) await submit(page, 'Register');
    },
  },
  {
    name: 'learner-page-github',
    server: 'github',
    status: 200,
    h1: 'Learner: ada-lovelace',
    open: async (page, s) => {
      await signIn(page, s);
      // Like waitForText, on the learner's page: progress is read in the background.
      const deadline = Date.now() + 15_000;
      for (;;) {
        await page.goto(`${s.base}/learners/spring-2026/ada-lovelace`);
        if (/Status \(derived from GitHub\)/.test(await page.locator('main').innerText())) break;
        if (Date.now() > deadline) throw new Error('the learner page never showed derived progress');
        await page.waitForTimeout(250);
      }
      assert.match(await page.locator('main').innerText(), /Open: the current challenge/);
    },
  },
  {
    name: 'learner-page-local',
    roster: example,
    status: 200,
    h1: 'Learner: ada-lovelace',
    open: async (page, s) => {
      await signIn(page, s);
      await page.goto(`${s.base}/learners/spring-2026/ada-lovelace`);
      assert.match(await page.locator('main').innerText(), /This companion is in local mode: it is not connected to GitHub/);
    },
  },
  {
    name: 'learner-notes-too-long',
    roster: example,
    status: 400,
    h1: 'Learner: ada-lovelace',
    errors: 1,
    open: async (page, s) => {
      await saveAdasNotes(page, s, 'x'.repeat(2001));
      assert.equal(await page.locator('#notes').inputValue(), 'x'.repeat(2001), 'the notes typed are kept after an error');
    },
  },
  {
    name: 'operation-confirm-notes',
    roster: example,
    status: 200,
    h1: 'Check and confirm: Save notes for ada-lovelace',
    open: async (page, s) => {
      await saveAdasNotes(page, s, 'Uses NVDA with Firefox.\nAsked for a second reminder before Day 2.');
    },
  },
  {
    name: 'operation-result-notes',
    roster: example,
    status: 200,
    h1: 'Save notes for ada-lovelace: done',
    open: async (page, s) => {
      await saveAdasNotes(page, s, 'Saved by the browser suite.');
      await submit(page, 'Confirm: save notes');
      assert.match((await page.locator('[role="status"]').innerText()).trim(), /^Done\. Notes saved for ada-lovelace in the roster file\.$/);
    },
  },
  {
    name: 'dashboard-bulk-errors',
    server: 'github',
    status: 400,
    h1: 'Cohort dashboard',
    errors: 2,
    open: async (page, s) => {
      await signIn(page, s);
      await submit(page, 'Continue');
    },
  },
  {
    name: 'operation-confirm-bulk',
    server: 'github',
    status: 200,
    h1: 'Check and confirm: Mark acknowledged for 2 learners',
    open: async (page, s) => {
      await askToMarkFirstTwoAcknowledged(page, s);
    },
  },
  {
    name: 'operation-result-bulk',
    server: 'github',
    status: 200,
    h1: 'Mark acknowledged for 2 learners: 1 done, 1 not done',
    open: async (page, s) => {
      await askToMarkFirstTwoAcknowledged(page, s);
      await submit(page, 'Confirm: mark acknowledged for 1 learner');
      assert.match(await page.locator('[role="status"]').innerText(), /Of 2 learners: 1 done, 1 not done\./);
    },
  },
  {
    name: 'operation-confirm-provisioning',
    server: 'github',
    status: 200,
    h1: 'Check and confirm: a dry run of provisioning',
    open: async (page, s) => {
      await signIn(page, s);
      await page.locator('#dry_run').check();
      await submit(page, 'Start provisioning');
    },
  },
];

/** Servers handed to one test at a time: a state owns its server's roster from writing it to the end of its checks. */
class ServerPool {
  private readonly waiting: Array<(server: Server) => void> = [];
  constructor(private readonly free: Server[]) {}

  async acquire(): Promise<Server> {
    const server = this.free.pop();
    return server ?? new Promise<Server>((resolve) => this.waiting.push(resolve));
  }

  release(server: Server): void {
    const next = this.waiting.shift();
    if (next) next(server);
    else this.free.push(server);
  }
}

/** Two states are checked at a time (the machine this runs on has two cores), each with its own server. */
const CONCURRENCY = 2;

describe('every page state in a real browser', { concurrency: CONCURRENCY }, () => {
  let browser: Browser;
  let servers: Server[] = [];
  let mainPool: ServerPool;
  let limitedPool: ServerPool;
  let githubPool: ServerPool;
  let failingPool: ServerPool;
  let shots: string;
  /** The kinds of focusable element whose focus indicator has been checked, in each colour mode. */
  const focusChecked = { normal: new Set<string>(), forced: new Set<string>() };

  before(async () => {
    browser = await launchBrowser();
    // The main servers have a facilitator token; the limited one has none and allows 2 POSTs a window.
    // Every server that did start is kept for `after` to stop, even when another failed to.
    const started = await Promise.allSettled([
      startServer({ COMPANION_FACILITATOR_TOKEN: '', COMPANION_RATE_LIMIT_MAX: '2', COMPANION_RATE_LIMIT_WINDOW: '600' }),
      startGitHubServer(),
      startGitHubServer(),
      ...Array.from({ length: CONCURRENCY }, () => startServer()),
    ]);
    servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    limitedPool = new ServerPool(servers.slice(0, 1));
    githubPool = new ServerPool(servers.slice(1, 2));
    failingPool = new ServerPool(servers.slice(2, 3));
    mainPool = new ServerPool(servers.slice(3));
    shots = await screenshotDir('pages');
  });

  after(async () => {
    await Promise.all([browser?.close(), ...servers.map((server) => server.stop())]);
  });

  test('the list of states covers every page and status', () => {
    const statuses = new Set(STATES.map((s) => s.status));
    for (const status of [200, 400, 401, 404, 405, 429, 503]) assert.ok(statuses.has(status), `no state answers ${status}`);
    assert.equal(new Set(STATES.map((s) => s.name)).size, STATES.length, 'state names must be unique');
  });

  STATES.forEach((state, i) => {
    const n = String(i + 1).padStart(2, '0');
    test(`${state.name}: axe finds nothing; shell, focus, reflow at 320 px, forced colours, 200% text and console all pass`, async (t) => {
      const pool = { limited: limitedPool, github: githubPool, 'github-failing': failingPool, main: mainPool }[state.server ?? 'main'];
      const server = await pool.acquire();
      const problems: string[] = [];
      const file = (variant: string) => path.join(shots, `${n}-${state.name}${variant}.png`);
      let context: BrowserContext | undefined;
      try {
        // In GitHub mode the roster is the simulator's roster of record, not a file put in place here.
        if (state.server !== 'github' && state.server !== 'github-failing') await writeRoster(server.rosterPath, state.roster ? await state.roster() : EMPTY_ROSTER);
        context = await newContext(browser);
        const page = await context.newPage();
        const watch = await PageWatch.attach(page);
        await state.open(page, server);
        await page.waitForLoadState('load');

        const status = watch.document?.status;
        if (status !== state.status) problems.push(`the page answered ${status}, expected ${state.status}`);
        const structure = await structureOf(page);
        problems.push(...structure.problems);
        if (structure.h1 !== state.h1) problems.push(`the h1 is "${structure.h1}", expected "${state.h1}"`);
        const title = `${state.errors !== undefined ? 'Error: ' : ''}${state.title ?? state.h1} - GLOW Companion`;
        if (structure.title !== title) problems.push(`the title is "${structure.title}", expected "${title}"`);
        if (state.errors !== undefined) problems.push(...(await errorPatternProblems(page, state.errors)));
        else if (structure.activeElement !== 'body') problems.push(`focus starts on ${structure.activeElement}, not at the top of the page`);

        problems.push(...(await axeProblems(page)).map((p) => `[1024 px] ${p}`));
        problems.push(...(await controlContrastProblems(page)).map((p) => `[control contrast] ${p}`));
        await fullPageScreenshot(page, file(''), DESKTOP);
        problems.push(...(await focusIndicatorProblems(page, focusChecked.normal, file('-focus'))).map((p) => `[focus] ${p}`));

        problems.push(...(await textSpacingProblems(page)).map((p) => `[text spacing] ${p}`));

        await page.setViewportSize(NARROW);
        problems.push(...(await reflowProblems(page)).map((p) => `[320 px] ${p}`));
        problems.push(...(await axeProblems(page, LAYOUT_RULES)).map((p) => `[320 px] ${p}`));
        await fullPageScreenshot(page, file('-320px'), NARROW);
        await page.setViewportSize(DESKTOP);

        await page.emulateMedia({ forcedColors: 'active' });
        problems.push(...(await forcedColorsProblems(page)).map((p) => `[forced colours] ${p}`));
        problems.push(...(await focusIndicatorProblems(page, focusChecked.forced, file('-forced-colours-focus'))).map((p) => `[forced colours, focus] ${p}`));
        await fullPageScreenshot(page, file('-forced-colours'), DESKTOP);
        await page.emulateMedia({ forcedColors: 'none' });

        problems.push(...(await textSizeProblems(page)).map((p) => `[200% text] ${p}`));
        await fullPageScreenshot(page, file('-text-200'), DESKTOP);

        problems.push(...watch.problems().map((p) => `[console] ${p}`));
      } finally {
        await context?.close();
        pool.release(server);
      }
      assert.deepEqual(problems, [], `${state.name} has ${problems.length} accessibility problem(s):\n- ${problems.join('\n- ')}\nserver output (end):\n${server.output().slice(-2000)}`);
    });
  });
});
