/**
 * GitHub mode through the HTTP surface, against the GitHub simulator: the
 * success page never waits for GitHub, the dashboard says how the sync
 * stands, /readyz reports it, and the token never reaches a page or a log.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import pino from 'pino';
import type { AppDeps } from '../src/app.js';
import { Client, startApp, type TestApp } from './helpers/app.js';
import { FAST_GITHUB, ADMIN_REPO, EXAMPLE_ROSTER, githubEnv, rosterText, startAdmin, type SimulatedAdmin } from './helpers/github.js';

let t: TestApp | null = null;
let admin: SimulatedAdmin | null = null;
afterEach(async () => {
  await t?.close();
  await admin?.close();
  t = null;
  admin = null;
});

function logSink() {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(chunk.toString()); done(); } });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

async function githubApp(env: Record<string, string> = {}, deps: AppDeps = {}): Promise<{ t: TestApp; admin: SimulatedAdmin }> {
  admin = await startAdmin();
  t = await startApp({ ...githubEnv(admin), COMPANION_SYNC_INTERVAL: '60', ...env }, { github: FAST_GITHUB, ...deps });
  return { t, admin };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const hasGrace = (a: SimulatedAdmin) => a.record().learners.some((l) => l.github_handle === 'grace-hopper');

describe('GitHub mode over HTTP', () => {
  test('a registration reaches the roster of record within moments of its success page', async () => {
    const { t, admin } = await githubApp();
    const client = new Client(t.app);
    const response = await client.register({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
    await until('the registration is committed', () => hasGrace(admin));
    await until('ready', async () => (await client.get('/readyz')).statusCode === 200);
  });

  test('with GitHub down, registration still succeeds at once; the dashboard and /readyz say what is wrong; it is sent once GitHub is back', async () => {
    const { t, admin } = await githubApp();
    await until('the first sync', async () => (await new Client(t.app).get('/readyz')).statusCode === 200);
    admin.sim.faults.serverError({ status: 503, count: 1_000_000 });
    const client = new Client(t.app);
    assert.equal((await client.register({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' })).statusCode, 303);
    await client.signIn();
    await until('the problem is shown', async () => /Problem with GitHub/.test((await client.get('/dashboard')).body));
    const page = (await client.get('/dashboard')).body;
    assert.match(page, /GitHub answered with a server error \(503\)/);
    assert.match(page, /<dt>Registrations waiting to be sent<\/dt>\s*<dd>1<\/dd>/);
    assert.match(page, new RegExp(`${ADMIN_REPO}</a>|${ADMIN_REPO}, file roster.json`));
    assert.match(page, /That is not github.com but a service on this machine, such as the demo's GitHub simulator/);
    admin.sim.faults.clear();
    await until('the registration is committed', () => hasGrace(admin), 15_000);
  });

  test('local mode says on the dashboard that the roster is not connected, and /readyz is ready', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    assert.match((await client.get('/dashboard')).body, /not connected to an admin repository on GitHub \(local mode\)/);
    const ready = await client.get('/readyz');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', mode: 'local' });
  });
});

describe('/readyz', () => {
  test('503 with a short reason while the roster file cannot be read', async () => {
    t = await startApp();
    await writeFile(t.rosterPath, '{"version": 7}');
    const response = await new Client(t.app).get('/readyz');
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(response.body), { status: 'unavailable', reason: 'the roster file cannot be read' });
  });

  test('503 before the first sync has succeeded, naming the problem', async () => {
    const { t, admin } = await githubApp();
    admin.sim.faults.revokeToken(admin.token);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const response = await new Client(t.app).get('/readyz');
    assert.equal(response.statusCode, 503);
    assert.match(JSON.parse(response.body).reason, /did not accept the token/);
  });

  test('503 once the last successful sync is older than three intervals', async () => {
    let now = Date.now();
    const { t } = await githubApp({ COMPANION_SYNC_INTERVAL: '10' }, { github: { ...FAST_GITHUB, sync: { ...FAST_GITHUB!.sync, now: () => now } } });
    const client = new Client(t.app);
    await until('the first sync', async () => (await client.get('/readyz')).statusCode === 200);
    now += 29_000;
    assert.equal((await client.get('/readyz')).statusCode, 200);
    now += 2_000;
    const stale = await client.get('/readyz');
    assert.equal(stale.statusCode, 503);
    assert.match(JSON.parse(stale.body).reason, /last successful sync with GitHub was at/);
  });
});

describe('the token stays secret', () => {
  test('no page, readiness answer or log line carries the GitHub token, in success or failure', async () => {
    const { lines, logger } = logSink();
    const { t, admin } = await githubApp({}, { loggerInstance: logger });
    const client = new Client(t.app);
    await client.register({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' });
    await until('the registration is committed', () => hasGrace(admin));
    admin.sim.faults.revokeToken(admin.token);
    await client.register({ github_handle: 'hedy', cohort_id: 'spring-2026', path: 'day1-day2' });
    await client.signIn();
    await until('the revoked token is reported', async () => /did not accept the token/.test((await client.get('/dashboard')).body));
    const pages = [(await client.get('/dashboard')).body, (await client.get('/readyz')).body, (await client.get('/register')).body, (await client.get('/roster.json')).body];
    for (const page of pages) assert.ok(!page.includes(admin.token), 'a page carries the token');
    const log = lines.join('');
    assert.match(log, /committed changes/);
    assert.ok(!log.includes(admin.token), 'a log line carries the token');
  });
});

describe('the dashboard links each enrollment issue', () => {
  test('a learner with an enrollment issue links to it; one without says none', async () => {
    t = await startApp();
    const learners = [
      { ...EXAMPLE_ROSTER.learners[0]!, enrollment_repo: 'Community-Access/git-going-with-github', enrollment_issue_number: 42 },
      { ...EXAMPLE_ROSTER.learners[0]!, github_handle: 'grace-hopper' },
    ];
    await writeFile(t.rosterPath, rosterText({ ...EXAMPLE_ROSTER, learners }));
    const client = new Client(t.app);
    await client.signIn();
    const page = (await client.get('/dashboard')).body;
    assert.match(page, /<a href="https:\/\/github.com\/Community-Access\/git-going-with-github\/issues\/42">Community-Access\/git-going-with-github#42<\/a>/);
    assert.match(page, /<th scope="col">Enrollment issue<\/th>/);
    assert.equal((page.match(/<td>None<\/td>/g) ?? []).length, 1);
  });
});
