/**
 * The learners table: filters, search, server-side sorting with aria-sort,
 * pages of 50, the filter state kept through sign-in, and the CSV export of
 * the rows in view (formula-injection safe, never notes).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Learner, Roster } from '../src/roster/contract.js';
import { csvCell } from '../src/routes/dashboard.js';
import { Client, startAppWithRoster, type TestApp } from './helpers/app.js';
import { EXAMPLE_ROSTER, rosterText } from './helpers/github.js';

let t: TestApp | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const base = EXAMPLE_ROSTER.learners[0]!;
function learner(i: number, change: Partial<Learner> = {}): Learner {
  return {
    ...base,
    github_handle: `learner-${String(i).padStart(3, '0')}`,
    provision_state: (['pending', 'provisioned', 'failed', 'healed'] as const)[i % 4],
    status: (['awaiting-ack', 'active-day1', 'day1-complete'] as const)[i % 3],
    registered_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    notes: `private note ${i}`,
    ...change,
  };
}

function roster(count: number, extra: Learner[] = []): Roster {
  return { ...EXAMPLE_ROSTER, learners: [...Array.from({ length: count }, (_, i) => learner(i)), ...extra] };
}

async function signedIn(r: Roster): Promise<Client> {
  t = await startAppWithRoster(rosterText(r));
  const client = new Client(t.app);
  await client.signIn();
  return client;
}

/** The usernames in the table's rows, in order. */
function rowHandles(html: string): string[] {
  return [...html.matchAll(/<th scope="row"><a href="\/learners\/[^"]+">([^<]+)<\/a><\/th>/g)].map((m) => m[1]!);
}

describe('learners table: filters and search', () => {
  test('a provisioning-state filter shows only those learners and says so in the caption; the form keeps the choice', async () => {
    const client = await signedIn(roster(12));
    const page = (await client.get('/dashboard?state=failed')).body;
    assert.deepEqual(rowHandles(page), ['learner-002', 'learner-006', 'learner-010']);
    assert.match(page, /<caption id="learners-caption">Learners in all cohorts: 3 learners of 12, provisioning state failed, sorted by username \(ascending\)<\/caption>/);
    assert.match(page, /<option value="failed" selected>Failed<\/option>/);
  });

  test('a status filter, the needs-attention filter and a username search narrow the rows; nothing matching says so', async () => {
    const client = await signedIn(roster(12));
    assert.deepEqual(rowHandles((await client.get('/dashboard?status=day1-complete')).body), ['learner-002', 'learner-005', 'learner-008', 'learner-011']);
    assert.deepEqual(rowHandles((await client.get('/dashboard?q=%40LEARNER-01')).body), ['learner-010', 'learner-011']);
    // Failed provisioning, and pending for far longer than an hour, need attention, whatever the mode.
    assert.deepEqual(rowHandles((await client.get('/dashboard?attention=1')).body), ['learner-000', 'learner-002', 'learner-004', 'learner-006', 'learner-008', 'learner-010']);
    const none = (await client.get('/dashboard?q=nobody')).body;
    assert.deepEqual(rowHandles(none), []);
    assert.match(none, /No learners match these filters\./);
  });

  test('a filter value that is not understood is ignored rather than refused', async () => {
    const client = await signedIn(roster(4));
    const page = await client.get('/dashboard?state=%3Cscript%3E&status=x&sort=evil&dir=sideways&page=-3');
    assert.equal(page.statusCode, 200);
    assert.equal(rowHandles(page.body).length, 4);
    assert.doesNotMatch(page.body, /<script>/);
  });
});

describe('learners table: sorting', () => {
  test('sorted by a column on the server, marked with aria-sort, and its heading links to the other order', async () => {
    const client = await signedIn(roster(5));
    const asc = (await client.get('/dashboard')).body;
    assert.match(asc, /<th scope="col" aria-sort="ascending"><a href="\/dashboard\?dir=desc">Username<\/a><\/th>/);
    assert.match(asc, /<th scope="col"><a href="\/dashboard\?sort=registered">Registered<\/a><\/th>/);
    const desc = (await client.get('/dashboard?sort=registered&dir=desc')).body;
    assert.deepEqual(rowHandles(desc), ['learner-004', 'learner-003', 'learner-002', 'learner-001', 'learner-000']);
    assert.match(desc, /<th scope="col" aria-sort="descending"><a href="\/dashboard\?sort=registered">Registered<\/a><\/th>/);
    assert.match(desc, /sorted by registration time \(descending\)<\/caption>/);
    // The filter form keeps the sort.
    assert.match(desc, /<input type="hidden" name="sort" value="registered">/);
  });

  test('learners without a value sort last, in either direction', async () => {
    const client = await signedIn(roster(3, [learner(9, { github_handle: 'no-date', registered_at: null })]));
    assert.equal(rowHandles((await client.get('/dashboard?sort=registered')).body).at(-1), 'no-date');
    assert.equal(rowHandles((await client.get('/dashboard?sort=registered&dir=desc')).body).at(-1), 'no-date');
  });
});

describe('learners table: pages', () => {
  test('50 rows a page, a labelled nav with the current page marked, previous and next as links', async () => {
    const client = await signedIn(roster(120));
    const first = (await client.get('/dashboard')).body;
    assert.equal(rowHandles(first).length, 50);
    assert.match(first, /<nav class="pagination" aria-label="Pages of learners">/);
    assert.match(first, /<a href="\/dashboard" aria-current="page"><span class="visually-hidden">Page <\/span>1<\/a>/);
    assert.match(first, /<a href="\/dashboard\?page=2" rel="next">Next/);
    assert.doesNotMatch(first, /rel="prev"/);
    assert.match(first, /, page 1 of 3<\/caption>/);
    const last = (await client.get('/dashboard?page=3')).body;
    assert.deepEqual(rowHandles(last), Array.from({ length: 20 }, (_, i) => `learner-${100 + i}`));
    assert.match(last, /<a href="\/dashboard\?page=2" rel="prev">Previous/);
    // A page past the end shows the last one.
    assert.deepEqual(rowHandles((await client.get('/dashboard?page=99')).body), rowHandles(last));
  });

  test('pages keep the filters and sort', async () => {
    const client = await signedIn(roster(240));
    const page = (await client.get('/dashboard?state=pending&sort=registered&dir=desc')).body;
    assert.match(page, /href="\/dashboard\?state=pending&amp;sort=registered&amp;dir=desc&amp;page=2" rel="next"/);
  });

  test('the filtered page asked for is where a facilitator lands after signing in', async () => {
    t = await startAppWithRoster(rosterText(roster(60)));
    const client = new Client(t.app);
    const redirect = await client.get('/dashboard?state=failed&page=1&sort=registered');
    assert.equal(redirect.statusCode, 303);
    const next = new URL(String(redirect.headers.location), 'http://x').searchParams.get('next');
    assert.equal(next, '/dashboard?state=failed&page=1&sort=registered');
    const signedIn = await client.signIn(undefined, next!);
    assert.equal(signedIn.headers.location, next);
  });
});

describe('learners table: CSV export', () => {
  test('the rows in view, every page, as CSV: facilitators only, not cached, never notes', async () => {
    const client = await signedIn(roster(120));
    const csv = await client.get('/dashboard.csv?state=failed');
    assert.equal(csv.statusCode, 200);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.equal(csv.headers['cache-control'], 'no-store');
    assert.match(String(csv.headers['content-disposition']), /^attachment; filename="glow-learners\.csv"$/);
    const lines = csv.body.trimEnd().split('\r\n');
    assert.equal(lines[0], '"github_handle","cohort_id","path","provision_state","status","status_source","learning_room_repo","registered_at","last_activity_at","enrollment_issue","needs_attention"');
    assert.equal(lines.length, 1 + 30);
    assert.ok(lines.slice(1).every((line) => line.includes('"failed"')));
    assert.doesNotMatch(csv.body, /private note/);
    const anonymous = await new Client(t!.app).get('/dashboard.csv');
    assert.equal(anonymous.statusCode, 303);
  });

  test('a cell a spreadsheet would run as a formula is neutralised', async () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) assert.equal(csvCell(`${start}HYPERLINK("x")`), `"'${start}HYPERLINK(""x"")"`);
    assert.equal(csvCell('plain "quoted"'), '"plain ""quoted"""');
    const client = await signedIn({ ...roster(0), learners: [learner(1, { cohort_id: '=cmd|"/c calc"!A1' })] });
    const csv = (await client.get('/dashboard.csv')).body;
    assert.match(csv, /"'=cmd\|""\/c calc""!A1"/);
  });
});
