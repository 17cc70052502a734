import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import pino from 'pino';
import type { LightMyRequestResponse } from 'fastify';
import { Client, TEST_TOKEN, startApp, startAppWithRoster, type TestApp } from './helpers/app.js';
import { csrfFrom } from './helpers/http.js';
import { WRONG_TOKEN } from '../src/routes/auth.js';
import { buildApp } from '../src/app.js';
import { SignedOutList } from '../src/http/signed-out.js';

let t: TestApp;
afterEach(async () => t?.close());

const EXAMPLE = readFile(new URL('../examples/roster.example.json', import.meta.url), 'utf8');

async function withExample(env: Record<string, string> = {}, deps = {}): Promise<TestApp> {
  return startAppWithRoster(await EXAMPLE, env, deps);
}

describe('facilitator sign-in', () => {
  test('the sign-in page has one password field with a visible label, a hint and current-password', async () => {
    t = await startApp();
    const page = await new Client(t.app).get('/login');
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<label class="label" for="token">Facilitator access token<\/label>/);
    assert.match(page.body, /id="token" name="token" type="password"\s+value="" autocomplete="current-password"/);
    assert.match(page.body, /aria-describedby="token-hint"/);
    assert.equal((page.body.match(/<input[^>]+type="password"/g) ?? []).length, 1);
  });

  test('a wrong token gets the one generic message in the error pattern, with the field left empty', async () => {
    t = await startApp();
    const client = new Client(t.app);
    const response = await client.signIn('not-the-token');
    assert.ok(response.statusCode >= 400 && response.statusCode < 500);
    assert.match(response.body, /<title>Error: Facilitator sign-in/);
    assert.match(response.body, new RegExp(`<a href="#token">${WRONG_TOKEN}</a>`));
    assert.match(response.body, /id="token" name="token" type="password"\s+value=""/);
    assert.doesNotMatch(response.body, /not-the-token/);
    assert.equal((await client.get('/dashboard')).statusCode, 303);
  });

  test('a token that is a prefix of the right one, or longer, is refused', async () => {
    t = await startApp();
    for (const token of [TEST_TOKEN.slice(0, -1), `${TEST_TOKEN}x`, TEST_TOKEN.toUpperCase()]) {
      const response = await new Client(t.app).signIn(token);
      assert.match(response.body, new RegExp(WRONG_TOKEN));
    }
  });

  test('the right token signs in with a new session and a new CSRF token, and goes to the dashboard', async () => {
    t = await startApp();
    const client = new Client(t.app);
    const oldToken = await client.csrf('/login');
    const oldCookie = client.snapshot();
    const response = await client.post('/login', { csrf_token: oldToken, token: TEST_TOKEN });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/dashboard');
    assert.notDeepEqual(client.snapshot(), oldCookie);
    // The token issued before sign-in no longer works in the new session.
    const logout = await client.post('/logout', { csrf_token: oldToken });
    assert.equal(logout.statusCode, 400);
    assert.equal((await client.get('/dashboard')).statusCode, 200);
  });

  const safeNext: Array<[string, string]> = [
    ['/dashboard?cohort=spring-2026', '/dashboard?cohort=spring-2026'],
    ['/roster.json', '/roster.json'],
  ];
  for (const [next, expected] of safeNext) {
    test(`after sign-in a local next ${next} is followed, query kept`, async () => {
      t = await startApp();
      const response = await new Client(t.app).signIn(TEST_TOKEN, next);
      assert.equal(response.headers.location, expected);
    });
  }
  for (const next of ['//evil.example', '/.//evil.example', '/a/..//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/%0d%0aLocation:%20x', ' /dashboard', '\\\\evil.example', '/\tevil', 'dashboard']) {
    test(`after sign-in an unsafe next ${JSON.stringify(next)} is refused for /dashboard`, async () => {
      t = await startApp();
      const response = await new Client(t.app).signIn(TEST_TOKEN, next);
      assert.equal(response.statusCode, 303);
      const location = response.headers.location as string;
      assert.ok(location === '/dashboard' || (location.startsWith('/') && !location.startsWith('//') && !location.includes('\\')), location);
      assert.equal(new URL(location, 'http://companion.test').host, 'companion.test');
    });
  }

  test('an anonymous dashboard visit is sent to sign-in and back, filter kept', async () => {
    t = await startApp();
    const client = new Client(t.app);
    const first = await client.get('/dashboard?cohort=spring-2026');
    assert.equal(first.headers.location, '/login?next=%2Fdashboard%3Fcohort%3Dspring-2026');
    const login = await client.get(first.headers.location as string);
    assert.match(login.body, /name="next" value="\/dashboard\?cohort=spring-2026"/);
    const response = await client.post('/login', { csrf_token: csrfFrom(login.body), token: TEST_TOKEN, next: '/dashboard?cohort=spring-2026' });
    assert.equal(response.headers.location, '/dashboard?cohort=spring-2026');
  });

  test('while no token is configured the dashboard stays locked and sign-in says it is not configured', async () => {
    t = await startApp({ COMPANION_FACILITATOR_TOKEN: '' });
    const client = new Client(t.app);
    const page = await client.get('/login');
    assert.match(page.body, /Facilitator sign-in is not configured/);
    assert.doesNotMatch(page.body, /type="password"/);
    const response = await client.post('/login', { csrf_token: await client.csrf('/register'), token: 'anything' });
    assert.notEqual(response.statusCode, 303);
    assert.equal((await client.get('/dashboard')).statusCode, 303);
    assert.equal((await client.get('/roster.json')).statusCode, 303);
  });
});

describe('sign-out and session lifetime', () => {
  test('sign-out needs the CSRF token, then redirects to sign-in with a confirmation in a status region', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    assert.equal((await client.post('/logout', {})).statusCode, 400);
    assert.equal((await client.get('/dashboard')).statusCode, 200);
    const response = await client.signOut();
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/login?signed_out=1');
    const page = await client.get('/login?signed_out=1');
    assert.match(page.body, /role="status"[^>]*>\s*<p>You have signed out\.<\/p>/);
    assert.equal((await client.get('/dashboard')).statusCode, 303);
  });

  test('a signed-out cookie replayed later is refused', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    const signedIn = client.snapshot();
    await client.signOut();
    client.restore(signedIn);
    const replay = await client.get('/dashboard');
    assert.equal(replay.statusCode, 303);
  });

  test('a signed-out cookie replayed after a restart (a new app with the same configuration) is refused', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    const signedIn = client.snapshot();
    await client.signOut();
    await t.app.close();
    const restarted = await buildApp(t.config);
    try {
      const replay = new Client(restarted);
      replay.restore(signedIn);
      assert.equal((await replay.get('/dashboard')).statusCode, 303);
      // The same configuration does accept a session that was not signed out.
      const other = new Client(restarted);
      await other.signIn();
      assert.equal((await other.get('/dashboard')).statusCode, 200);
    } finally {
      await restarted.close();
    }
  });

  test('two processes sharing the roster: a sign-out on one is refused by the other', async () => {
    t = await startApp();
    const second = await buildApp(t.config);
    try {
      const client = new Client(t.app);
      await client.signIn();
      const signedIn = client.snapshot();
      const elsewhere = new Client(second);
      elsewhere.restore(signedIn);
      assert.equal((await elsewhere.get('/dashboard')).statusCode, 200);
      await client.signOut();
      elsewhere.restore(signedIn);
      assert.equal((await elsewhere.get('/dashboard')).statusCode, 303);
    } finally {
      await second.close();
    }
  });

  test('sign-outs from several processes at once are all kept, and entries go once their session would have ended', async () => {
    t = await startApp();
    let now = Date.parse('2026-03-02T09:00:00Z');
    const file = `${t.rosterPath}.signed-out`;
    const lists = [new SignedOutList(file, () => now), new SignedOutList(file, () => now)];
    const sids = Array.from({ length: 40 }, (_, i) => `session-${i}`);
    await Promise.all(sids.map((sid, i) => lists[i % 2]!.add(sid, now + (i === 0 ? 1_000 : 3_600_000))));
    const fresh = new SignedOutList(file, () => now);
    for (const sid of sids) assert.equal(await fresh.has(sid), true, sid);
    assert.equal(await fresh.has('session-unknown'), false);
    now += 2_000;
    assert.equal(await fresh.has('session-0'), false);
    await lists[0]!.add('session-late', now + 1_000);
    assert.doesNotMatch(await readFile(file, 'utf8'), /^session-0 /m);
  });

  test('a session idle for longer than the idle timeout ends', async () => {
    let now = Date.parse('2026-03-02T09:00:00Z');
    t = await startApp({ COMPANION_SESSION_IDLE_MINUTES: '30' }, { now: () => now });
    const client = new Client(t.app);
    await client.signIn();
    now += 29 * 60_000;
    assert.equal((await client.get('/dashboard')).statusCode, 200);
    now += 29 * 60_000; // active a moment ago, so still signed in
    assert.equal((await client.get('/dashboard')).statusCode, 200);
    now += 31 * 60_000;
    const expired = await client.get('/dashboard');
    assert.equal(expired.statusCode, 303);
    const login = await client.get(expired.headers.location as string);
    assert.match(login.body, /Your session has ended/);
  });

  test('a busy session still ends at its absolute lifetime', async () => {
    let now = Date.parse('2026-03-02T09:00:00Z');
    t = await startApp({ COMPANION_SESSION_IDLE_MINUTES: '30', COMPANION_SESSION_MAX_HOURS: '2' }, { now: () => now });
    const client = new Client(t.app);
    await client.signIn();
    for (let minutes = 20; minutes < 120; minutes += 20) {
      now += 20 * 60_000;
      assert.equal((await client.get('/dashboard')).statusCode, 200, `at ${minutes} minutes`);
    }
    now += 20 * 60_000;
    assert.equal((await client.get('/dashboard')).statusCode, 303);
  });

  test('changing the facilitator token ends every facilitator session', async (c) => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    const cookie = client.snapshot();
    const rotated = await startApp({ COMPANION_FACILITATOR_TOKEN: 'a-brand-new-token-value' });
    c.after(() => rotated.close());
    const other = new Client(rotated.app);
    other.restore(cookie);
    assert.equal((await other.get('/dashboard')).statusCode, 303);
    // The same secret key and token would have accepted it.
    const same = await startApp();
    c.after(() => same.close());
    const again = new Client(same.app);
    again.restore(cookie);
    assert.equal((await again.get('/dashboard')).statusCode, 200);
  });
});

describe('a signed-in facilitator keeps the signed-in header on every error page', () => {
  const SIGN_OUT = /<button type="submit" class="button button-secondary">Sign out<\/button>/;
  const FORM = { github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' };
  const refusals: Array<[number, string, (client: Client) => Promise<LightMyRequestResponse>]> = [
    [403, 'a cross-site POST', async (client) => client.register(FORM, { 'sec-fetch-site': 'cross-site' })],
    [413, 'a body over the limit', async (client) => client.post('/register', { ...FORM, csrf_token: await client.csrf(), padding: 'x'.repeat(20_000) })],
    [415, 'a body that is not a form', async (client) => client.post('/register', FORM, { 'content-type': 'application/json' })],
    [429, 'one POST too many', async (client) => {
      await client.register(FORM);
      return client.register(FORM);
    }],
    [404, 'an unknown page', async (client) => client.get('/no-such-page')],
  ];
  for (const [status, what, send] of refusals) {
    test(`the ${status} page for ${what} shows Sign out`, async () => {
      t = await startApp({ COMPANION_RATE_LIMIT_MAX: '1' });
      const client = new Client(t.app);
      await client.signIn();
      const response = await send(client);
      assert.equal(response.statusCode, status);
      assert.match(response.body, SIGN_OUT);
      assert.equal(response.headers['cache-control'], 'no-store');
      // The sign-out form on the error page works.
      const signOut = await client.post('/logout', { csrf_token: csrfFrom(response.body) });
      assert.equal(signOut.headers.location, '/login?signed_out=1');
    });
  }
});

describe('dashboard and roster.json', () => {
  test('the dashboard shows an intro, totals, a filter and an accessible table, and never notes', async () => {
    t = await withExample();
    const client = new Client(t.app);
    await client.signIn();
    const page = await client.get('/dashboard');
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /<h1>Cohort dashboard<\/h1>\s*<p>This page shows every learner/);
    assert.match(page.body, /<caption id="learners-caption">Learners in all cohorts: 2 learners, sorted by username \(ascending\)<\/caption>/);
    const learnersTable = page.body.slice(page.body.indexOf('id="learners-caption"'));
    assert.equal((learnersTable.match(/<th scope="col"[ >]/g) ?? []).length, 9);
    assert.match(page.body, /<th scope="row"><a href="\/learners\/spring-2026\/ada-lovelace">ada-lovelace<\/a><\/th>/);
    assert.match(page.body, /<dt>Provisioned<\/dt>\s*<dd>1<\/dd>/);
    assert.match(page.body, /<dt>Awaiting acknowledgement<\/dt>\s*<dd>1<\/dd>/);
    assert.match(page.body, /<form method="get" action="\/dashboard"/);
    assert.match(page.body, /<button type="submit" class="button button-secondary">Sign out<\/button>/);
    assert.match(page.body, /href="https:\/\/github.com\/Community-Access\/learning-room-spring-2026-ada-lovelace"/);
    assert.doesNotMatch(page.body, /NVDA with Firefox/);
  });

  test('the cohort filter narrows the table and the totals', async () => {
    t = await withExample();
    const roster = JSON.parse(await EXAMPLE);
    roster.learners.push({ ...roster.learners[1], github_handle: 'alan-turing', cohort_id: 'autumn-2026' });
    await writeFile(t.rosterPath, JSON.stringify(roster));
    const client = new Client(t.app);
    await client.signIn();
    const page = await client.get('/dashboard?cohort=autumn-2026');
    assert.match(page.body, /<option value="autumn-2026" selected>/);
    assert.match(page.body, /Learners in Autumn 2026 cohort: 1 learner, sorted by username/);
    assert.match(page.body, /<dt>Pending<\/dt>\s*<dd>1<\/dd>/);
    assert.match(page.body, /<dt>Provisioned<\/dt>\s*<dd>0<\/dd>/);
    assert.doesNotMatch(page.body, /<th scope="row"><a href="[^"]*">ada-lovelace/);
  });

  test('the h1 and title name the cohort shown', async () => {
    t = await withExample();
    const client = new Client(t.app);
    await client.signIn();
    const page = await client.get('/dashboard?cohort=spring-2026');
    assert.match(page.body, /<h1>Cohort dashboard: Spring 2026 cohort<\/h1>/);
    assert.match(page.body, /<title>Cohort dashboard: Spring 2026 cohort - GLOW Companion<\/title>/);
    assert.doesNotMatch(page.body, /There is no cohort/);
  });

  for (const [query, notice] of [
    ['?cohort=winter-<2026>', 'There is no cohort &quot;winter-&lt;2026&gt;&quot;. Showing all cohorts.'],
    ['?cohort=a&cohort=b', 'Choose one cohort at a time. Showing all cohorts.'],
  ] as const) {
    test(`an unknown cohort filter (${query}) shows all cohorts and says so`, async () => {
      t = await withExample();
      const client = new Client(t.app);
      await client.signIn();
      const page = await client.get(`/dashboard${query}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<h1>Cohort dashboard<\/h1>/);
      assert.ok(page.body.includes(`<p>${notice}</p>`), page.body.slice(0, 2000));
      assert.match(page.body, /Learners in all cohorts: 2 learners, sorted by username/);
      assert.match(page.body, /<option value="" selected>All cohorts<\/option>/);
    });
  }

  test('roster.json is redacted JSON, not cached, and needs a facilitator', async () => {
    t = await withExample();
    const client = new Client(t.app);
    const anonymous = await client.get('/roster.json');
    assert.equal(anonymous.statusCode, 303);
    assert.match(anonymous.headers.location as string, /^\/login\?next=%2Froster\.json$/);
    await client.signIn();
    const response = await client.get('/roster.json');
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^application\/json/);
    assert.equal(response.headers['cache-control'], 'no-store');
    const body = JSON.parse(response.body);
    assert.deepEqual(Object.keys(body), ['version', 'learners']);
    for (const learner of body.learners) assert.deepEqual(Object.keys(learner).sort(), ['cohort_id', 'github_handle', 'path', 'provision_state', 'status']);
    assert.doesNotMatch(response.body, /notes|NVDA|enrollment/);
  });

  test('the dashboard of an unreadable roster is a 503 page', async () => {
    t = await startApp();
    await writeFile(t.rosterPath, 'not json at all');
    const client = new Client(t.app);
    await client.signIn();
    const page = await client.get('/dashboard');
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /The roster file could not be read/);
    assert.equal(await readFile(t.rosterPath, 'utf8'), 'not json at all');
  });
});

describe('logs', () => {
  test('log a line per registration and sign-in, and never a token, cookie, CSRF value or note', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(chunk.toString()); done(); } });
    t = await withExample({}, { loggerInstance: pino({ level: 'info' }, sink) });
    const client = new Client(t.app);
    const registered = await client.register({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(registered.statusCode, 303);
    await client.register({ github_handle: 'new-person', cohort_id: 'spring-2026', path: 'day1-day2' });
    await client.signIn('wrong-token-value');
    await client.signIn();
    await client.post('/logout', { csrf_token: 'forged' });
    const log = lines.join('');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const registrations = entries.filter((e) => e.msg === 'registration saved');
    assert.deepEqual(registrations.map((e) => [e.github_handle, e.new]), [['grace-hopper', false], ['new-person', true]]);
    assert.equal(entries.filter((e) => e.msg === 'facilitator sign-in failed').length, 1);
    assert.equal(entries.filter((e) => e.msg === 'facilitator signed in').length, 1);
    assert.ok(entries.some((e) => String(e.msg).startsWith('CSRF token missing or invalid')));
    for (const secret of [TEST_TOKEN, 'wrong-token-value', 'NVDA with Firefox', ...client.snapshot().values()]) {
      assert.equal(log.includes(secret), false, `the log contains ${secret.slice(0, 12)}...`);
    }
    assert.doesNotMatch(log, /csrf_token=|glow_session=/);
  });
});
