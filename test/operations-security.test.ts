/**
 * The controls around facilitator operations, each with a test that fails if
 * the control is switched off: sign-in (anonymous visitors are sent to sign
 * in and nothing reaches GitHub), the CSRF token (missing, forged, another
 * session's), the cross-site guard, the rate limit, the 405 for other
 * methods, forms that were tampered with, and the result pages (signed in
 * only; an unknown id is a 404). Also the results' files themselves.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { OperationResults, RESULT_KEPT_MS, type StoredResult } from '../src/http/operation-results.js';
import { tempDir } from './helpers/app.js';
import { csrfFrom, HttpClient } from './helpers/http.js';
import { ENROLLMENT_REPO } from './helpers/github.js';
import { githubCompanion, operate, signedIn, words, type OperationsCompanion } from './helpers/operations.js';

let c: OperationsCompanion | null = null;
afterEach(async () => {
  await c?.close();
  c = null;
});

const ADA = '/learners/spring-2026/ada-lovelace';
const ACKED = { operation: 'acked', learner: 'ada-lovelace@@spring-2026', back: ADA };

/** Requests that change something on GitHub (the companion's own reads aside). */
const githubWrites = (companion: OperationsCompanion) => companion.admin!.sim.requests.list().filter((r) => r.method !== 'GET');
const labels = (companion: OperationsCompanion) => companion.admin!.sim.state.issue(ENROLLMENT_REPO, 1).labels;

describe('who may ask', () => {
  test('an anonymous visitor\'s POST is sent to sign in, coming back to the page the form was on, and nothing reaches GitHub', async () => {
    c = await githubCompanion();
    const anonymous = new HttpClient(c.base);
    const csrf_token = await anonymous.csrf('/login');
    for (const url of ['/operations/confirm', '/operations/run']) {
      const response = await anonymous.post(url, { csrf_token, ...ACKED });
      assert.equal(response.status, 303, url);
      assert.equal(response.headers.get('location'), `/login?next=${encodeURIComponent(ADA)}`, url);
    }
    const run = await anonymous.post('/operations/run', { csrf_token, operation: 'provision-cohort', back: '//evil.example/x' });
    assert.equal(run.headers.get('location'), `/login?next=${encodeURIComponent('/dashboard')}`, 'a back address off this site is never used');
    assert.deepEqual(githubWrites(c), []);
    assert.deepEqual(c.log.audit(), []);
  });

  test('a result page is for signed-in facilitators only; an unknown or malformed id is the 404 page', async () => {
    c = await githubCompanion();
    const { run } = await operate(c.client, ADA, { operation: 'acked', learner: 'ada-lovelace@@spring-2026' });
    const location = run.headers.get('location')!;
    const anonymous = await new HttpClient(c.base).get(location);
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get('location'), `/login?next=${encodeURIComponent(location)}`);
    // Another facilitator session may read it.
    const other = await signedIn(c.base);
    assert.equal((await other.get(location)).status, 200);
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', '..%2F..%2Froster', 'x'.repeat(100)]) {
      const response = await c.client.get(`/operations/results/${id}`);
      assert.equal(response.status, 404, id);
      assert.match(await response.text(), /<h1>Page not found<\/h1>/);
    }
  });
});

describe('forms from elsewhere', () => {
  test('without a CSRF token, with a forged one, or with another session\'s: the 400 page, and nothing is done', async () => {
    c = await githubCompanion();
    const mine = csrfFrom(await (await c.client.get(ADA)).text());
    const other = await signedIn(c.base);
    const theirs = csrfFrom(await (await other.get(ADA)).text());
    for (const [name, token] of [['missing', null], ['forged', `${mine.slice(0, -4)}AAAA`], ['another session\'s', theirs]] as const) {
      for (const url of ['/operations/confirm', '/operations/run']) {
        const response = await c.client.post(url, { ...ACKED, ...(token === null ? {} : { csrf_token: token }) });
        assert.equal(response.status, 400, `${name} token on ${url}`);
        assert.match(await response.text(), /<h1>Your form could not be accepted<\/h1>/, name);
      }
    }
    assert.deepEqual(labels(c), []);
    assert.deepEqual(githubWrites(c), []);
    assert.deepEqual(c.log.audit(), []);
  });

  test('a form posted from another site is refused before anything is read', async () => {
    c = await githubCompanion();
    const csrf_token = csrfFrom(await (await c.client.get(ADA)).text());
    const response = await c.client.post('/operations/run', { csrf_token, ...ACKED }, { headers: { origin: 'https://evil.example' } });
    assert.equal(response.status, 403);
    assert.deepEqual(labels(c), []);
  });

  test('a tampered form (an unknown operation, a learner that is not a learner key, a bulk-only form from a learner page) is a 400 and does nothing', async () => {
    c = await githubCompanion();
    const csrf_token = csrfFrom(await (await c.client.get(ADA)).text());
    const cases: Array<Record<string, string | string[]>> = [
      { ...ACKED, operation: 'delete-everything' },
      { ...ACKED, learner: 'not a key' },
      { ...ACKED, learner: ['ada-lovelace@@spring-2026', 'alan-turing@@spring-2026'] },
      { operation: 'provision-cohort', learner: 'ada-lovelace@@spring-2026', back: '/dashboard' },
    ];
    for (const form of cases) {
      for (const url of ['/operations/confirm', '/operations/run']) {
        const response = await c.client.post(url, { csrf_token, ...form });
        assert.equal(response.status, 400, `${url} ${JSON.stringify(form)}`);
        assert.match(await response.text(), /<h1>The request could not be understood<\/h1>/);
      }
    }
    // Notes are not a dashboard operation: sent from the dashboard, the dashboard asks to choose one of its own.
    const notes = await c.client.post('/operations/confirm', { csrf_token, operation: 'notes', learner: 'ada-lovelace@@spring-2026', back: '/dashboard', notes: 'x', notes_seen: 'y' });
    assert.equal(notes.status, 400);
    assert.match(await notes.text(), /<a href="#operation">Choose what to do for the selected learners<\/a>/);
    assert.equal((await c.client.post('/operations/run', { csrf_token, operation: 'notes', learner: 'ada-lovelace@@spring-2026', back: '/dashboard', notes: 'x', notes_seen: 'y' })).status, 400);
    assert.deepEqual(githubWrites(c), []);
  });

  test('other methods on the operation addresses answer 405 with Allow: POST', async () => {
    c = await githubCompanion();
    for (const url of ['/operations/confirm', '/operations/run']) {
      const response = await c.client.get(url);
      assert.equal(response.status, 405, url);
      assert.equal(response.headers.get('allow'), 'POST');
    }
  });
});

describe('limits', () => {
  test('operations are rate limited, each form on its own budget: over the limit, the 429 page with Retry-After, and nothing is done', async () => {
    c = await githubCompanion({ env: { COMPANION_OPERATIONS_RATE_LIMIT_MAX: '2' } });
    const csrf_token = csrfFrom(await (await c.client.get(ADA)).text());
    for (let i = 0; i < 2; i += 1) assert.equal((await c.client.post('/operations/confirm', { csrf_token, ...ACKED })).status, 200);
    const limited = await c.client.post('/operations/confirm', { csrf_token, ...ACKED });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.match(await limited.text(), /<h1>Too many attempts<\/h1>/);
    for (let i = 0; i < 2; i += 1) assert.equal((await c.client.post('/operations/run', { csrf_token, ...ACKED })).status, 303);
    assert.equal((await c.client.post('/operations/run', { csrf_token, ...ACKED })).status, 429);
    assert.equal(c.log.audit().length, 2);
  });

  test('notes at the length limit in characters that take many bytes are accepted (the operation forms allow larger bodies than the others)', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get('/learners/spring-2026/alan-turing')).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    const notes = '\u{1F4DD}'.repeat(2000);
    const response = await c.client.post('/operations/confirm', { csrf_token: csrfFrom(page), operation: 'notes', learner: 'alan-turing@@spring-2026', notes_seen: seen, notes, back: '/learners/spring-2026/alan-turing' });
    assert.equal(response.status, 200);
    assert.match(words(await response.text()), /The notes after you confirm \u{1F4DD}{2000}/u);
  });
});

describe('the results\' files', () => {
  const result = (at: string): StoredResult => ({
    operation: 'acked',
    at,
    dryRun: false,
    general: null,
    learners: [{ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', outcome: 'done', text: 'Done.', problem: null, status: null }],
    back: '/dashboard',
  });

  test('a kept result is read back by another instance over the same folder (a restart, another process); a damaged one is not shown', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const roster = path.join(dir, 'roster.json');
      const id = await OperationResults.besideRoster(roster).save(result(new Date().toISOString()));
      assert.deepEqual(await OperationResults.besideRoster(roster).load(id), result((await OperationResults.besideRoster(roster).load(id))!.at));
      const [file] = (await readdir(`${roster}.results`)).filter((n) => n.endsWith('.json'));
      await writeFile(path.join(`${roster}.results`, file!), '{"operation":"acked"');
      assert.equal(await OperationResults.besideRoster(roster).load(id), null);
    } finally {
      await cleanup();
    }
  });

  test('results older than a day are not shown, and are removed at a later save', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const folder = path.join(dir, 'roster.json.results');
      const old = Date.now() - RESULT_KEPT_MS - 60_000;
      const results = new OperationResults(folder);
      const id = await results.save(result(new Date(old).toISOString()));
      assert.equal(await results.load(id), null, 'too old to show');
      await utimes(path.join(folder, `${id}.json`), old / 1000, old / 1000);
      await mkdir(folder, { recursive: true });
      await new OperationResults(folder).save(result(new Date().toISOString()));
      assert.deepEqual((await readdir(folder)).filter((n) => n.startsWith(id)), []);
    } finally {
      await cleanup();
    }
  });
});
