/**
 * What the templates tell assistive technology, read from the HTML the app
 * serves (in process, no browser): which navigation link is the current page,
 * the sign-in page's title and heading in each of its states, and the error
 * summary's markup. The browser suites check the same pages as rendered.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Client, startAppWithRoster, type TestApp } from './helpers/app.js';
import { csrfFrom } from './helpers/http.js';

let t: TestApp;
afterEach(async () => t?.close());

const ROSTER = {
  version: 1,
  generated_at: '2026-01-15T09:00:00.000Z',
  cohorts: [{ cohort_id: 'spring-2026', label: 'Spring 2026 cohort' }],
  learners: [],
};

async function withRoster(env: Record<string, string> = {}, deps = {}): Promise<TestApp> {
  return startAppWithRoster(JSON.stringify(ROSTER), env, deps);
}

interface Tag {
  name: string;
  attributes: Map<string, string>;
  source: string;
}

/** The start tags of a page, in order, with their attributes (enough for the site's own, well-formed output). */
function startTags(html: string): Tag[] {
  const tags: Tag[] = [];
  for (const match of html.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/g)) {
    const attributes = new Map<string, string>();
    for (const a of match[2]!.matchAll(/([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
      attributes.set(a[1]!.toLowerCase(), a[2] ?? a[3] ?? a[4] ?? '');
    }
    tags.push({ name: match[1]!.toLowerCase(), attributes, source: match[0] });
  }
  return tags;
}

function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, '')
    .replace(/&amp;/g, '&')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}

function titleOf(html: string): string {
  return text(/<title>([\s\S]*?)<\/title>/.exec(html)?.[1] ?? '');
}

function h1Of(html: string): string[] {
  return [...html.matchAll(/<h1\b[^>]*>([\s\S]*?)<\/h1>/g)].map((m) => text(m[1]!));
}

/** The navigation links marked as the current page, by their text. */
function currentLinks(html: string): string[] {
  return [...html.matchAll(/<a\b[^>]*\baria-current="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)].map((m) => `${text(m[2]!)} (${m[1]})`);
}

/**
 * Elements that ARIA 1.2 does not allow to be named (aria-label or
 * aria-labelledby): no role of their own, or a role whose name is prohibited.
 * A name there is ignored by some screen readers and read twice by others.
 */
const NAMEABLE_ELEMENTS = new Set(['a', 'area', 'article', 'aside', 'button', 'details', 'dialog', 'fieldset', 'form', 'iframe', 'img', 'input', 'main', 'meter', 'nav', 'ol', 'output', 'progress', 'section', 'select', 'svg', 'table', 'textarea', 'ul', 'header', 'footer']);
const NAME_PROHIBITED_ROLES = new Set(['caption', 'code', 'deletion', 'emphasis', 'generic', 'insertion', 'none', 'paragraph', 'presentation', 'strong', 'subscript', 'superscript']);

function namingProblems(html: string): string[] {
  const problems: string[] = [];
  for (const tag of startTags(html)) {
    if (!tag.attributes.has('aria-label') && !tag.attributes.has('aria-labelledby')) continue;
    const role = tag.attributes.get('role');
    const allowed = role !== undefined ? !NAME_PROHIBITED_ROLES.has(role) : NAMEABLE_ELEMENTS.has(tag.name);
    if (!allowed) problems.push(`${tag.source}: a name on an element whose role${role ? ` (${role})` : ' (none, generic)'} cannot be named`);
  }
  return problems;
}

describe('the navigation marks only the page you are on', () => {
  test('the registration page marks Register, and no other link', async () => {
    t = await withRoster();
    const page = await new Client(t.app).get('/register');
    assert.deepEqual(currentLinks(page.body), ['Register (page)']);
  });

  test('the success page is not the registration page: no link is marked as the current page', async () => {
    t = await withRoster();
    const client = new Client(t.app);
    const response = await client.register({ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
    const page = await client.get(response.headers.location as string);
    assert.equal(h1Of(page.body)[0], 'Registration received');
    assert.deepEqual(currentLinks(page.body), []);
  });

  test('the registration page with errors still marks Register', async () => {
    t = await withRoster();
    const page = await new Client(t.app).register({});
    assert.equal(page.statusCode, 400);
    assert.deepEqual(currentLinks(page.body), ['Register (page)']);
  });

  test('the sign-in page marks Facilitator sign-in, and the dashboard marks Cohort dashboard', async () => {
    t = await withRoster();
    const client = new Client(t.app);
    assert.deepEqual(currentLinks((await client.get('/login')).body), ['Facilitator sign-in (page)']);
    await client.signIn();
    assert.deepEqual(currentLinks((await client.get('/dashboard')).body), ['Cohort dashboard (page)']);
  });

  test('an error page marks no link', async () => {
    t = await withRoster();
    assert.deepEqual(currentLinks((await new Client(t.app).get('/no-such-page')).body), []);
  });
});

describe('the sign-in page says in its title and heading what happened', () => {
  // A status region present when the page loads is usually not announced: the title (read first) and the h1 say it too.
  test('signing in: the plain title and heading', async () => {
    t = await withRoster();
    const page = await new Client(t.app).get('/login');
    assert.equal(titleOf(page.body), 'Facilitator sign-in - GLOW Companion');
    assert.deepEqual(h1Of(page.body), ['Facilitator sign-in']);
  });

  test('after signing out: "You have signed out" in the title, the heading and the status region', async () => {
    t = await withRoster();
    const client = new Client(t.app);
    await client.signIn();
    const response = await client.signOut();
    const page = await client.get(response.headers.location as string);
    assert.equal(titleOf(page.body), 'You have signed out - Facilitator sign-in - GLOW Companion');
    assert.deepEqual(h1Of(page.body), ['You have signed out']);
    assert.match(page.body, /role="status"[^>]*>\s*<p>You have signed out\.<\/p>/);
    assert.match(page.body, /<label class="label" for="token">Facilitator access token<\/label>/, 'the sign-in form is still there');
  });

  test('after the session ended: "Your session has ended" in the title, the heading and the status region', async () => {
    let now = Date.parse('2026-03-02T09:00:00Z');
    t = await withRoster({ COMPANION_SESSION_IDLE_MINUTES: '30' }, { now: () => now });
    const client = new Client(t.app);
    await client.signIn();
    now += 31 * 60_000;
    const redirect = await client.get('/dashboard');
    assert.equal(redirect.statusCode, 303);
    const page = await client.get(redirect.headers.location as string);
    assert.equal(titleOf(page.body), 'Your session has ended - Facilitator sign-in - GLOW Companion');
    assert.deepEqual(h1Of(page.body), ['Your session has ended']);
    assert.match(page.body, /role="status"[^>]*>\s*<p>Your session has ended\. Sign in again to continue\.<\/p>/);
  });

  test('the session-ended link on its own says the same', async () => {
    t = await withRoster();
    const page = await new Client(t.app).get('/login?expired=1&next=%2Fdashboard');
    assert.equal(titleOf(page.body), 'Your session has ended - Facilitator sign-in - GLOW Companion');
    assert.deepEqual(h1Of(page.body), ['Your session has ended']);
  });

  test('a wrong token after signing out is a sign-in error, not a sign-out page', async () => {
    t = await withRoster();
    const client = new Client(t.app);
    const page = await client.get('/login?signed_out=1');
    const response = await client.post('/login', { csrf_token: csrfFrom(page.body), token: 'not-the-token' });
    assert.equal(titleOf(response.body), 'Error: Facilitator sign-in - GLOW Companion');
    assert.deepEqual(h1Of(response.body), ['Facilitator sign-in']);
  });
});

describe('the error summary is announced once', () => {
  async function pages(): Promise<Array<[string, string]>> {
    const client = new Client(t.app);
    const register = await client.register({ path: 'weekend' });
    const login = await client.signIn('not-the-token');
    return [
      ['registration with errors', register.body],
      ['sign-in with an error', login.body],
    ];
  }

  test('no element carries a name its role does not allow (the summary container is not named by its heading)', async () => {
    t = await withRoster();
    const client = new Client(t.app);
    const all: Array<[string, string]> = [...(await pages())];
    all.push(['registration', (await client.get('/register')).body]);
    all.push(['not found', (await client.get('/no-such-page')).body]);
    await client.signIn();
    all.push(['dashboard', (await client.get('/dashboard')).body]);
    const problems = all.flatMap(([name, html]) => namingProblems(html).map((p) => `${name}: ${p}`));
    assert.deepEqual(problems, []);
  });

  test('the summary is the focus target on arrival, holds one alert with the heading and links, and is no alert itself', async () => {
    t = await withRoster();
    for (const [name, html] of await pages()) {
      const block = /<div class="error-summary"[\s\S]*?<\/ul>\s*<\/div>\s*<\/div>/.exec(html)?.[0];
      assert.ok(block, `${name}: there is an error summary`);
      const [container, ...inside] = startTags(block);
      assert.equal(container!.attributes.get('tabindex'), '-1', `${name}: the summary can take focus`);
      assert.ok(container!.attributes.has('autofocus'), `${name}: the summary takes focus on arrival, without script`);
      assert.equal(container!.attributes.get('role'), undefined, `${name}: the focused container is not itself an alert or a named group`);
      assert.equal(inside.filter((tag) => tag.attributes.get('role') === 'alert').length, 1, `${name}: one alert inside the summary`);
      assert.equal(inside.filter((tag) => tag.attributes.has('aria-live') || tag.attributes.has('autofocus')).length, 0, `${name}: no second live region or focus target`);
      assert.match(block, /<div role="alert">\s*<h2 class="error-summary-title">There is a problem<\/h2>/, `${name}: the alert starts with the heading`);
      assert.equal((html.match(/\bautofocus\b/g) ?? []).length, 1, `${name}: nothing else on the page asks for focus`);
    }
  });
});

describe('the facilitator operations\' pages', () => {
  const LEARNER = {
    github_handle: 'ada-lovelace',
    cohort_id: 'spring-2026',
    path: 'day1-day2',
    learning_room_repo: null,
    provision_state: 'pending',
    status: 'awaiting-ack',
    registered_at: '2026-01-14T18:22:00.000Z',
    last_signal_at: null,
    notes: 'A note.',
  };

  async function notesForm(notes: string): Promise<{ client: Client; fields: Record<string, string> }> {
    t = await startAppWithRoster(JSON.stringify({ ...ROSTER, learners: [LEARNER] }));
    const client = new Client(t.app);
    await client.signIn();
    const page = (await client.get('/learners/spring-2026/ada-lovelace')).body;
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    return { client, fields: { csrf_token: csrfFrom(page), operation: 'notes', learner: 'ada-lovelace@@spring-2026', notes_seen: seen, notes, back: '/learners/spring-2026/ada-lovelace' } };
  }

  test('notes too long: the learner page with the error summary as everywhere else, the field described by its hint and its error', async () => {
    const { client, fields } = await notesForm('x'.repeat(2001));
    const html = (await client.post('/operations/confirm', fields)).body;
    const block = /<div class="error-summary"[\s\S]*?<\/ul>\s*<\/div>\s*<\/div>/.exec(html)?.[0];
    assert.ok(block, 'there is an error summary');
    const [container] = startTags(block);
    assert.equal(container!.attributes.get('tabindex'), '-1');
    assert.ok(container!.attributes.has('autofocus'));
    assert.equal((html.match(/\bautofocus\b/g) ?? []).length, 1);
    const textarea = startTags(html).find((tag) => tag.name === 'textarea')!;
    assert.equal(textarea.attributes.get('aria-describedby'), 'notes-hint notes-error');
    assert.equal(textarea.attributes.get('aria-invalid'), 'true');
    assert.equal(textarea.attributes.has('maxlength'), false, 'no maxlength: a paste is never cut short without a word');
    assert.equal(titleOf(html), 'Error: Learner: ada-lovelace - GLOW Companion');
    assert.deepEqual(namingProblems(html), []);
  });

  test('the confirmation and the result mark no navigation link, name nothing they may not, and the result says its outcome in the title, the heading and the status region', async () => {
    const { client, fields } = await notesForm('A new note.');
    const confirm = (await client.post('/operations/confirm', fields)).body;
    assert.deepEqual(currentLinks(confirm), []);
    assert.deepEqual(namingProblems(confirm), []);
    assert.equal(titleOf(confirm), `${h1Of(confirm)[0]} - GLOW Companion`);
    const run = await client.post('/operations/run', { ...fields, csrf_token: csrfFrom(confirm) });
    assert.equal(run.statusCode, 303);
    const result = (await client.get(run.headers.location as string)).body;
    assert.deepEqual(currentLinks(result), []);
    assert.deepEqual(namingProblems(result), []);
    assert.deepEqual(h1Of(result), ['Save notes for ada-lovelace: done']);
    assert.equal(titleOf(result), 'Save notes for ada-lovelace: done - GLOW Companion');
    const status = startTags(result).filter((tag) => tag.attributes.get('role') === 'status');
    assert.equal(status.length, 1, 'one status region');
    assert.match(result, /<div class="notification" role="status">\s*<p>Done\. Notes saved for ada-lovelace in the roster file\.<\/p>/);
  });
});
