/**
 * The roster sync's rules (spec/github.md), each against the GitHub simulator
 * over real HTTP: nothing here is mocked inside the process.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { keyOfLearner, parseRoster, serializeRoster, type Roster } from '../src/roster/contract.js';
import { applyChanges, serializeCanonical } from '../src/roster/incremental.js';
import * as fsp from 'node:fs/promises';
import { appendOutbox, entryChange, outboxPath } from '../src/roster/outbox.js';
import type { RosterFs } from '../src/roster/store.js';
import { commitBody } from '../src/github/client.js';
import { RosterSync } from '../src/github/sync.js';
import { RosterStore } from '../src/roster/store.js';
import { until } from './helpers/companions.js';
import { provisionedLearner } from './helpers/fixtures.js';
import { ADMIN_REPO, EXAMPLE_ROSTER, WITH_PROVISIONING, WORKFLOW, WORKSHOP, rosterText, startAdmin, syncedCompanion, type SimulatedAdmin, type SyncedCompanion } from './helpers/github.js';

let admin: SimulatedAdmin | null = null;
const companions: SyncedCompanion[] = [];
afterEach(async () => {
  for (const c of companions.splice(0)) await c.close();
  await admin?.close();
  admin = null;
});

async function setUp(options: Parameters<typeof startAdmin>[0] = {}, env: Record<string, string> = {}, syncOptions = {}) {
  admin = await startAdmin(options);
  const companion = await syncedCompanion(admin, env, syncOptions);
  companions.push(companion);
  return { admin, companion };
}

const grace = { github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' } as const;

function handles(roster: Roster): string[] {
  return roster.learners.map((l) => l.github_handle);
}

/** Stops the companion's sync and store, then (after `meanwhile`) runs one round of a new store and sync on its file, as after a restart. */
async function roundAfterRestart(companion: SyncedCompanion, meanwhile: () => Promise<void> = async () => undefined): Promise<RosterStore> {
  await companion.sync.stop();
  await companion.store.close();
  await meanwhile();
  const store = new RosterStore({ path: companion.rosterPath, outbox: true });
  const sync = new RosterSync(companion.github, companion.api, store, companion.log.log);
  try {
    await sync.syncNow();
  } finally {
    await sync.stop();
  }
  return store;
}

/** The roster of record's commits on main, newest first. */
function commits(a: SimulatedAdmin) {
  return a.sim.state.history(ADMIN_REPO);
}

describe('roster sync: registrations reach the roster of record', () => {
  test('a registration is committed on top of the roster of record, field for field the contract\'s new learner, and the outbox empties', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    assert.equal((await companion.store.pending()).length, 1, 'recorded in the outbox before the sync');
    await companion.sync.syncNow();
    const record = admin.record();
    assert.deepEqual(handles(record), ['ada-lovelace', 'grace-hopper']);
    const added = record.learners.find((l) => l.github_handle === 'grace-hopper')!;
    assert.deepEqual(Object.keys(added), ['github_handle', 'cohort_id', 'path', 'learning_room_repo', 'provision_state', 'status', 'registered_at', 'last_signal_at', 'enrollment_repo', 'enrollment_issue_number', 'notes']);
    assert.equal(added.provision_state, 'pending');
    // The file is canonical: what the provisioning tool's serializer writes, byte for byte.
    assert.equal(admin.recordText(), serializeRoster(record, new Date(record.generated_at!)));
    assert.deepEqual(await companion.store.pending(), []);
    assert.equal(companion.sync.state.pending, 0);
    assert.equal(companion.sync.state.problem, null);
    // The message carries a count, never a name.
    const message = commits(admin)[0]!.message;
    assert.match(message, /1 registration/);
    assert.doesNotMatch(message, /grace/i);
  });

  test('the local working copy follows the roster of record after a pull, keeping registrations still waiting', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    // A facilitator's edit and a provisioning result land in the roster of record.
    const edited: Roster = { ...EXAMPLE_ROSTER, learners: [{ ...EXAMPLE_ROSTER.learners[0]!, notes: 'edited on GitHub', status: 'day1-complete' }] };
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText(edited), { message: 'facilitator edit' });
    await companion.sync.syncNow();
    const local = await companion.local();
    assert.equal(local.learners[0]!.notes, 'edited on GitHub');
    assert.equal(local.learners[0]!.status, 'day1-complete');
  });

  test('a re-registration that changes only path sends only the path', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register({ github_handle: 'Ada-Lovelace', cohort_id: 'spring-2026', path: 'day2-only' });
    await companion.sync.syncNow();
    const [ada] = admin.record().learners;
    assert.deepEqual(ada, { ...EXAMPLE_ROSTER.learners[0]!, path: 'day2-only' });
  });

  test('only the companion\'s own changes are sent: fields written by others meanwhile are kept', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    // Provisioning marks Ada failed after the companion last read the roster.
    const changed: Roster = { ...EXAMPLE_ROSTER, learners: [{ ...EXAMPLE_ROSTER.learners[0]!, provision_state: 'failed' }] };
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText(changed), { message: 'provisioning' });
    await companion.sync.syncNow();
    const record = admin.record();
    assert.equal(record.learners[0]!.provision_state, 'failed');
    assert.deepEqual(handles(record), ['ada-lovelace', 'grace-hopper']);
  });

  test('a learner deleted from the roster of record is not re-added, unless that person registers again', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    await companion.sync.syncNow();
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText(), { message: 'facilitator removes grace' });
    await companion.store.register({ github_handle: 'hedy', cohort_id: 'spring-2026', path: 'day1-day2' });
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'hedy']);
    assert.deepEqual(handles(await companion.local()), ['ada-lovelace', 'hedy']);
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'grace-hopper', 'hedy']);
  });

  test('a burst of registrations goes out as one commit', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    const before = commits(admin).length;
    await Promise.all(Array.from({ length: 40 }, (_, i) => companion.store.register({ github_handle: `learner-${i}`, cohort_id: 'spring-2026', path: 'day1-day2' })));
    await companion.sync.syncNow();
    assert.equal(commits(admin).length, before + 1);
    assert.equal(admin.record().learners.length, 41);
    assert.match(commits(admin)[0]!.message, /40 registrations/);
  });

  /** When each of the next `count` commits was seen (performance.now()), after registering one learner for each. */
  async function commitTimes(companion: SyncedCompanion, a: SimulatedAdmin, count: number): Promise<number[]> {
    companion.sync.start();
    await until('the first round', () => companion.sync.state.lastSuccessAt !== null, 5_000, 5);
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const before = commits(a).length;
      await companion.store.register({ github_handle: `learner-${i}`, cohort_id: 'spring-2026', path: 'day1-day2' });
      await until(`commit ${i + 1}`, () => commits(a).length > before, 10_000, 2);
      times.push(performance.now());
    }
    return times;
  }

  // Octokit's throttling already keeps writes a second apart, so the waits here are longer than that.
  test('after a commit, the next round a registration starts waits a second per megabyte committed', async () => {
    const bytesPerSecond = 700;
    const { admin, companion } = await setUp({}, {}, { commitBytesPerSecond: bytesPerSecond, maxCommitSpacingMs: 60_000 });
    const [first, second] = await commitTimes(companion, admin, 2);
    const committedBytes = admin.sim.state.readFile(ADMIN_REPO, 'roster.json')!.content.length;
    // The first commit carried the roster as it is after one registration; the second one learner more.
    const expected = (1000 * (committedBytes - 400)) / bytesPerSecond;
    assert.ok(second! - first! >= expected, `${(second! - first!).toFixed(0)} ms between commits, expected at least ${expected.toFixed(0)} ms for about ${committedBytes} bytes`);
    assert.ok(second! - first! < expected + 3_000, `${(second! - first!).toFixed(0)} ms between commits`);
  });

  test('the wait after a commit is bounded, however large the roster', async () => {
    const { admin, companion } = await setUp({}, {}, { commitBytesPerSecond: 1, maxCommitSpacingMs: 1_600 });
    const [first, second, third] = await commitTimes(companion, admin, 3);
    for (const gap of [second! - first!, third! - second!]) {
      assert.ok(gap >= 1_595 && gap < 4_000, `${gap.toFixed(0)} ms between commits, expected 1,600 ms`);
    }
  });

  test('past a burst of commits, commits are paced to the budget\'s steady rate, and the log says so once', async () => {
    const { admin, companion } = await setUp({}, {}, { commitBurst: 2, commitEveryMs: 5_000 });
    const [first, second, third] = await commitTimes(companion, admin, 3);
    // The burst: the second commit follows the first as soon as a round can.
    assert.ok(second! - first! < 2_500, `${(second! - first!).toFixed(0)} ms between the first two commits`);
    // Two commits spent the budget; the third waits until it has refilled by one, five seconds after the first.
    assert.ok(third! - first! >= 4_995 && third! - first! < 8_000, `${(third! - first!).toFixed(0)} ms from the first commit to the third, expected 5,000 ms`);
    assert.equal(companion.log.lines.filter((l) => /paced to stay well within/.test(l.msg)).length, 1);
  });

  test('the pace holds for rounds the interval starts too', async () => {
    const { admin, companion } = await setUp({}, { COMPANION_SYNC_INTERVAL: '1' }, { commitBurst: 1, commitEveryMs: 4_000 });
    companion.sync.start();
    await until('the first round', () => companion.sync.state.lastSuccessAt !== null, 5_000, 5);
    const seeded = commits(admin).length;
    await companion.store.register(grace);
    await until('the first commit', () => commits(admin).length === seeded + 1, 10_000, 2);
    const first = performance.now();
    // Once that round has ended, the interval's round (a second away) comes before the one this registration asks for.
    await until('the round to end', () => companion.sync.state.pending === 0, 5_000, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await companion.store.register({ github_handle: 'alan-turing', cohort_id: 'spring-2026', path: 'day1-day2' });
    await until('the second commit', () => commits(admin).length === seeded + 2, 10_000, 2);
    const second = performance.now();
    assert.ok(second - first >= 3_995 && second - first < 7_000, `${(second - first).toFixed(0)} ms between commits, expected 4,000 ms`);
    assert.deepEqual(companion.sync.readiness(), { ready: true }, 'waiting for the budget is not a failure');
  });

  test('a wait for the pace longer than three intervals keeps the sync ready', async () => {
    const { admin, companion } = await setUp({}, { COMPANION_SYNC_INTERVAL: '1' }, { commitBurst: 1, commitEveryMs: 4_000 });
    // The second registration arrives while the first commit's round is still ending, so no round runs during the wait.
    await commitTimes(companion, admin, 2);
    assert.deepEqual(companion.sync.readiness(), { ready: true });
  });
});

describe('roster sync: the commit taken from the working copy', () => {
  // A roster of record as another tool might have written it: keys in another order, learners unsorted, a field the companion does not know.
  const untidy = `${JSON.stringify(
    {
      learners: [provisionedLearner({ github_handle: 'zora-neale', learning_room_repo: null }), provisionedLearner()],
      sync_state: { cursor: 'abc' },
      cohorts: EXAMPLE_ROSTER.cohorts,
      generated_at: '2026-01-15T09:00:00.000Z',
      version: 1,
    },
    null,
    2,
  )}\n`;

  test('is byte for byte what applying the waiting changes to the roster of record again gives, with the same counts', async () => {
    const at = Date.parse('2030-05-06T07:08:09.010Z');
    const { admin, companion } = await setUp({ roster: untidy }, {}, { now: () => at });
    await companion.sync.syncNow();
    await companion.store.register(grace);
    await companion.store.register({ github_handle: 'alan-turing', cohort_id: 'spring-2026', path: 'day1-day2' });
    await companion.store.register({ ...grace, path: 'day2-only' });
    await companion.store.register({ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', path: 'day1-day2' });
    const edited = await companion.store.edit({ github_handle: 'zora-neale', cohort_id: 'spring-2026', field: 'notes', from: 'private facilitator note', to: 'moved to the autumn cohort' });
    assert.equal(edited.outcome, 'edited');
    const entries = await companion.store.pending();
    assert.equal(entries.length, 5);
    await companion.sync.syncNow();
    const committed = admin.recordText();
    const expected = applyChanges(parseRoster(untidy), entries.map(entryChange), new Date(at)).roster;
    assert.equal(committed, serializeCanonical(expected));
    assert.equal(parseRoster(committed).generated_at, '2030-05-06T07:08:09.010Z', 'dated when committed');
    assert.equal(commits(admin)[0]!.message, 'Companion: 3 registrations, 1 facilitator edit');
    const line = companion.log.lines.find((l) => /committed changes/.test(l.msg))!;
    assert.equal((line.obj as { fromWorkingCopy?: boolean }).fromWorkingCopy, true, 'the working copy was sent, not rebuilt');
    const local = await companion.local();
    assert.deepEqual(local, { ...parseRoster(committed), generated_at: local.generated_at }, 'the working copy is the commit (as of its own last write)');
  });

  test('is taken again after a round that found nothing to send read the same version in full', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    await companion.sync.syncNow();
    // Nothing waits: this round reads the roster of record (in full: a commit's answer carries no ETag) and finds it unchanged.
    await companion.sync.syncNow();
    await companion.store.register({ github_handle: 'alan-turing', cohort_id: 'spring-2026', path: 'day1-day2' });
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'alan-turing', 'grace-hopper']);
    const lines = companion.log.lines.filter((l) => /committed changes/.test(l.msg));
    assert.deepEqual(lines.map((l) => (l.obj as { fromWorkingCopy?: boolean }).fromWorkingCopy), [true, true]);
  });

  test('is not taken when the outbox holds a change the working copy did not apply: the changes are applied to the record again', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    // A line that reached the outbox another way (restored from a copy, say), with the working copy untouched.
    await appendOutbox(fsp as unknown as RosterFs, outboxPath(companion.rosterPath), [{ id: 'restored-1', at: new Date().toISOString(), registration: { github_handle: 'alan-turing', cohort_id: 'spring-2026', path: 'day1-day2' } }]);
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'alan-turing', 'grace-hopper']);
    const line = companion.log.lines.find((l) => /committed changes/.test(l.msg))!;
    assert.equal((line.obj as { fromWorkingCopy?: boolean }).fromWorkingCopy, false);
    assert.deepEqual(handles(await companion.local()), ['ada-lovelace', 'alan-turing', 'grace-hopper'], 'the working copy follows');
  });

  test('is not taken once another program has written the working copy: the changes are applied to the record again', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    // Someone else edits the working copy (a stray learner); it is no longer the record with the outbox applied.
    const local = await companion.local();
    await writeFile(companion.rosterPath, serializeRoster({ ...local, learners: [...local.learners, provisionedLearner({ github_handle: 'stray-learner' })] }, new Date()));
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'grace-hopper'], 'only the outbox reaches the roster of record');
    const line = companion.log.lines.find((l) => /committed changes/.test(l.msg))!;
    assert.equal((line.obj as { fromWorkingCopy?: boolean }).fromWorkingCopy, false);
  });
});

describe('roster sync: compare-and-swap', () => {
  test('a writer committing between the read and the write makes the companion read again; both changes are kept', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    // The writer lands between the version this companion knows and its write.
    admin.sim.faults.concurrentWriter({
      repo: ADMIN_REPO,
      path: 'roster.json',
      when: 'before-put',
      count: 1,
      transform: (text) => text.replace('"provision_state": "provisioned"', '"provision_state": "healed"'),
    });
    await companion.sync.syncNow();
    const record = admin.record();
    assert.deepEqual(handles(record), ['ada-lovelace', 'grace-hopper']);
    assert.equal(record.learners[0]!.provision_state, 'healed');
    const puts = admin.sim.requests.list({ method: 'PUT' });
    assert.ok(puts.some((r) => r.status === 409), 'the first write should have met a moved roster');
    assert.equal(puts.filter((r) => r.status === 200).length, 1);
    assert.ok(companion.log.lines.some((l) => /moved since it was read/.test(l.msg)), 'each conflict retry is logged');
  });

  test('a roster of record that keeps moving is given up after a bound, then committed at a later round', async () => {
    const { admin, companion } = await setUp({}, {}, { conflictAttempts: 3 });
    await companion.store.register(grace);
    let writes = 0;
    admin.sim.faults.concurrentWriter({ repo: ADMIN_REPO, path: 'roster.json', when: 'before-put', count: 100, transform: (text) => text.replace(/"notes": "[^"]*"/, `"notes": "edit ${++writes}"`) });
    await companion.sync.syncNow();
    admin.sim.faults.clear();
    assert.equal(companion.log.lines.filter((l) => /moved since it was read/.test(l.msg)).length, 2);
    assert.ok(!handles(admin.record()).includes('grace-hopper'));
    assert.match(companion.sync.state.problem!.text, /changed during each of 3 attempts/);
    assert.equal((await companion.store.pending()).length, 1, 'the registration still waits');
    await companion.sync.syncNow();
    assert.ok(handles(admin.record()).includes('grace-hopper'));
  });
});

describe('roster sync: what is never written', () => {
  test('an invalid roster of record is never written; the problem is reported in words and registrations wait', async () => {
    const { admin, companion } = await setUp({ roster: '{"version": 2, "learners": []}\n' });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.equal(admin.recordText(), '{"version": 2, "learners": []}\n');
    assert.equal(admin.sim.requests.count({ method: 'PUT' }), 0);
    assert.match(companion.sync.state.problem!.text, /roster in the admin repository is not valid.*version must be 1/);
    assert.equal((await companion.store.pending()).length, 1);
    assert.deepEqual(companion.sync.readiness().ready, false);
  });

  test('a roster of record over 1 MB, up to several megabytes, is read through the blobs endpoint as raw bytes and committed', async () => {
    // Past about 8 MB a blob answer read as JSON overflowed the GitHub client's JSON parser on Node 20.
    const count = 26_000;
    const many: Roster = {
      ...EXAMPLE_ROSTER,
      learners: [...EXAMPLE_ROSTER.learners, ...Array.from({ length: count }, (_, i) => ({ ...EXAMPLE_ROSTER.learners[0]!, github_handle: `bulk-${i}`, notes: 'n'.repeat(40) }))],
    };
    const text = rosterText(many);
    assert.ok(text.length > 9 * 1024 * 1024, `${text.length} bytes`);
    const { admin, companion } = await setUp({ roster: text });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.equal(companion.sync.state.problem, null);
    const blobReads = admin.sim.requests.list({ method: 'GET', path: '/repos/*/*/git/blobs/*' });
    assert.ok(blobReads.length >= 1);
    const record = admin.record();
    assert.equal(record.learners.length, count + 2);
    assert.equal(new Set(record.learners.map(keyOfLearner)).size, count + 2);
  });
});

describe('roster sync: polite to the API', () => {
  test('an idle companion\'s periodic reads are conditional and answered 304, costing no rate limit', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    const mark = admin.sim.requests.mark();
    for (let i = 0; i < 5; i++) await companion.sync.syncNow();
    const reads = admin.sim.requests.list({ afterSeq: mark });
    assert.equal(reads.length, 5);
    assert.ok(reads.every((r) => r.status === 304 && !r.counted), JSON.stringify(reads.map((r) => [r.status, r.counted])));
  });

  test('server errors are retried with backoff and the registration gets through', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    admin.sim.faults.serverError({ method: 'PUT', status: 502, count: 2 });
    await companion.sync.syncNow();
    assert.ok(handles(admin.record()).includes('grace-hopper'));
    assert.equal(admin.sim.requests.count({ method: 'PUT', status: 502 }), 2);
  });

  test('a used-up rate limit is honoured: no request until GitHub\'s reset time, and the problem says when', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    admin.sim.faults.exhaustRateLimit({ token: admin.token, resetInSeconds: 3600 });
    await companion.sync.syncNow();
    assert.match(companion.sync.state.problem!.text, /rate limit was reached.*waits until/);
    const mark = admin.sim.requests.mark();
    for (let i = 0; i < 5; i++) await companion.sync.syncNow();
    assert.equal(admin.sim.requests.count({ afterSeq: mark }), 0, 'the companion kept calling a rate-limited API');
    assert.equal((await companion.store.pending()).length, 1);
  });

  test('a network failure is reported in words and the registration waits', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    admin.sim.faults.networkFailure({ count: 20 });
    await companion.sync.syncNow();
    assert.match(companion.sync.state.problem!.text, /could not be reached|server error/);
    assert.equal((await companion.store.pending()).length, 1);
    admin.sim.faults.clear();
    await companion.sync.syncNow();
    assert.ok(handles(admin.record()).includes('grace-hopper'));
  });

  test('a revoked token is reported as such, and the token never appears in a log line or problem', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    admin.sim.faults.revokeToken(admin.token);
    await companion.sync.syncNow();
    assert.match(companion.sync.state.problem!.text, /did not accept the token/);
    assert.ok(!companion.log.text().includes(admin.token));
    assert.ok(!JSON.stringify(companion.sync.state).includes(admin.token));
  });
});

describe('roster sync: a good neighbour to the provisioning job', () => {
  test('no commit while a provisioning run is in progress; the commit follows once it ends, and the workflow is started', async () => {
    const { admin, companion } = await setUp({}, WITH_PROVISIONING);
    const run = admin.sim.state.addRun(`${WORKSHOP.owner}/${WORKSHOP.name}`, { workflow: WORKFLOW, status: 'in_progress' });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.equal(admin.sim.requests.count({ method: 'PUT' }), 0);
    assert.ok(companion.sync.state.waitingForProvisioningSince);
    admin.sim.state.completeRun(run.id);
    await companion.sync.syncNow();
    assert.ok(handles(admin.record()).includes('grace-hopper'));
    // The workflow is started once the commit is made.
    for (let i = 0; i < 50 && admin.sim.requests.count({ method: 'POST', path: '/repos/*/*/actions/workflows/*/dispatches' }) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(admin.sim.requests.count({ method: 'POST', path: '/repos/*/*/actions/workflows/*/dispatches', status: 204 }), 1);
  });

  test('the wait for a provisioning run is bounded: after it, the commit goes ahead and the log says so', async () => {
    const { admin, companion } = await setUp({}, WITH_PROVISIONING, { provisioningWaitMs: 0 });
    admin.sim.state.addRun(`${WORKSHOP.owner}/${WORKSHOP.name}`, { workflow: WORKFLOW, status: 'in_progress' });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.ok(handles(admin.record()).includes('grace-hopper'));
    assert.ok(companion.log.lines.some((l) => /committing anyway/.test(l.msg)));
  });

  test('the workflow is started at most once per window, however many commits bring new learners', async () => {
    const { admin, companion } = await setUp({}, WITH_PROVISIONING, { dispatchWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      await companion.store.register({ github_handle: `learner-${i}`, cohort_id: 'spring-2026', path: 'day1-day2' });
      await companion.sync.syncNow();
      // The run each start makes is over before the next commit.
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(admin.record().learners.length, 4, 'each round committed');
    assert.equal(admin.sim.requests.count({ method: 'POST', path: '/repos/*/*/actions/workflows/*/dispatches' }), 1);
  });
});

describe('roster sync: a facilitator\'s edit reaches the roster of record', () => {
  const ada = { github_handle: 'ada-lovelace', cohort_id: 'spring-2026' } as const;
  const NOTE = 'private facilitator note';
  const dispatches = (a: SimulatedAdmin) => a.sim.requests.count({ method: 'POST', path: '/repos/*/*/actions/workflows/*/dispatches' });

  test('a notes edit is committed on top of the roster of record, changing that one field and nothing else', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    assert.equal((await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'Prefers Braille display' })).outcome, 'edited');
    await companion.sync.syncNow();
    assert.deepEqual(admin.record().learners, [{ ...EXAMPLE_ROSTER.learners[0]!, notes: 'Prefers Braille display' }]);
    assert.deepEqual(admin.record().cohorts, EXAMPLE_ROSTER.cohorts);
    assert.deepEqual(await companion.store.pending(), []);
    assert.deepEqual(companion.sync.state.editProblems, []);
    // Counts only: neither the learner nor the notes are in the message.
    assert.equal(commits(admin)[0]!.message, 'Companion: 1 facilitator edit');
  });

  test('a field another writer changed meanwhile is kept, and the edit is reported in words, never overwritten', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'mine' });
    await companion.store.register(grace);
    admin.sim.faults.concurrentWriter({ repo: ADMIN_REPO, path: 'roster.json', when: 'before-put', count: 1, transform: (text) => text.replace(NOTE, 'theirs') });
    await companion.sync.syncNow();
    const record = admin.record();
    assert.equal(record.learners[0]!.notes, 'theirs', 'the other writer\'s notes are kept');
    assert.deepEqual(handles(record), ['ada-lovelace', 'grace-hopper'], 'the registration beside it still went through');
    assert.equal(commits(admin)[0]!.message, 'Companion: 1 registration');
    assert.deepEqual(await companion.store.pending(), [], 'the refused edit is not tried again and again');
    assert.equal((await companion.local()).learners[0]!.notes, 'theirs', 'the working copy shows the roster of record');
    const [problem] = companion.sync.state.editProblems;
    assert.deepEqual({ github_handle: problem?.github_handle, field: problem?.field }, { github_handle: 'ada-lovelace', field: 'notes' });
    assert.match(problem!.text, /Someone else changed the notes of ada-lovelace/);
    const warning = companion.log.lines.find((l) => /facilitator edit was not applied/.test(l.msg));
    assert.ok(warning, 'the refusal is logged');
    assert.doesNotMatch(JSON.stringify(warning.obj), /mine|theirs/, 'never the notes themselves');
  });

  test('another writer\'s change to a different field of the same learner is kept beside the edit', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'mine' });
    admin.sim.faults.concurrentWriter({ repo: ADMIN_REPO, path: 'roster.json', when: 'before-put', count: 1, transform: (text) => text.replace('"status": "active-day1"', '"status": "day1-complete"') });
    await companion.sync.syncNow();
    assert.deepEqual(admin.record().learners, [{ ...EXAMPLE_ROSTER.learners[0]!, notes: 'mine', status: 'day1-complete' }]);
  });

  test('an edit of a learner removed from the roster of record does not bring them back', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'mine' });
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText({ ...EXAMPLE_ROSTER, learners: [] }), { message: 'removed' });
    await companion.sync.syncNow();
    assert.deepEqual(admin.record().learners, []);
    assert.match(companion.sync.state.editProblems[0]!.text, /no longer in the roster of record/);
  });

  test('marking a learner failed is committed, then the provisioning workflow is started; a notes edit starts nothing', async () => {
    const { admin, companion } = await setUp({}, WITH_PROVISIONING, { dispatchWindowMs: 0 });
    await companion.sync.syncNow();
    await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'mine' });
    await companion.sync.syncNow();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(dispatches(admin), 0);
    await companion.store.edit({ ...ada, field: 'provision_state', from: 'provisioned', to: 'failed' });
    await companion.sync.syncNow();
    assert.equal(admin.record().learners[0]!.provision_state, 'failed');
    for (let i = 0; i < 50 && dispatches(admin) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(admin.sim.requests.count({ method: 'POST', path: '/repos/*/*/actions/workflows/*/dispatches', status: 204 }), 1);
  });

  test('an edit waiting in the outbox survives a restart and is committed by the next store and sync on that file', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.edit({ ...ada, field: 'notes', from: NOTE, to: 'kept across a restart' });
    const store = await roundAfterRestart(companion);
    assert.equal(admin.record().learners[0]!.notes, 'kept across a restart');
    assert.deepEqual(await store.pending(), []);
  });
});

describe('the commit\'s body', () => {
  const parsed = (body: Buffer) => JSON.parse(body.toString('utf8')) as unknown;

  test('is the JSON GitHub expects: message, branch, sha when there is one, and the bytes in base64', () => {
    const bytes = Buffer.from('{"version": 1, "note": "Ada \u201cthe first\u201d"}\n');
    const message = 'Companion: 2 registrations "quoted" \u00e9';
    assert.deepEqual(parsed(commitBody({ branch: 'main', content: [bytes], sha: 'abc123', message })), { message, branch: 'main', sha: 'abc123', content: bytes.toString('base64') });
    assert.deepEqual(parsed(commitBody({ branch: 'main', content: [bytes], sha: null, message })), { message, branch: 'main', content: bytes.toString('base64') });
  });

  test('encodes content given in pieces of any size as the base64 of the whole, with nothing left over', () => {
    // Sizes around the encoder's 48 KiB step and around multiples of 3, split at uneven places (and with empty pieces).
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const size of [0, 1, 2, 3, 4, 5, 49_151, 49_152, 49_153, 98_304, 150_001, 400_000]) {
      const whole = Buffer.alloc(size);
      for (let i = 0; i < size; i++) whole[i] = Math.floor(random() * 256);
      for (const cuts of [0, 1, 3, 40]) {
        const points = [...new Set(Array.from({ length: cuts }, () => Math.floor(random() * (size + 1))))].sort((a, b) => a - b);
        const content = [...points, size].map((end, i) => whole.subarray(i === 0 ? 0 : points[i - 1]!, end));
        if (cuts === 3) content.splice(1, 0, Buffer.alloc(0));
        const body = commitBody({ branch: 'main', content, sha: null, message: 'Companion: 1 registration' });
        assert.deepEqual(parsed(body), { message: 'Companion: 1 registration', branch: 'main', content: whole.toString('base64') }, `${size} bytes in ${content.length} pieces`);
      }
    }
  });
});

describe('roster sync: after a power cut', () => {
  test('a working copy whose last replacement was lost (its folder not flushed) is made whole from the outbox by the next sync', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    const before = await readFile(companion.rosterPath);
    const alan = { github_handle: 'alan-turing', cohort_id: 'spring-2026', path: 'day1-day2' } as const;
    await companion.store.register(alan);
    // The rename that brought alan-turing into the working copy did not survive; the outbox, flushed first, did.
    const store = await roundAfterRestart(companion, () => writeFile(companion.rosterPath, before));
    assert.deepEqual(handles(admin.record()).sort(), ['ada-lovelace', 'alan-turing', 'grace-hopper']);
    assert.deepEqual(handles(await companion.local()).sort(), ['ada-lovelace', 'alan-turing', 'grace-hopper']);
    assert.deepEqual(await store.pending(), []);
    await store.close();
  });
});

describe('roster sync: a cohort removed from the roster of record', () => {
  test('a waiting registration for it is not sent, and the log names it so a facilitator can follow up', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    await companion.store.register(grace);
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText({ ...EXAMPLE_ROSTER, cohorts: [{ cohort_id: 'autumn-2026', label: 'Autumn' }] }), { message: 'cohort renamed' });
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace']);
    assert.deepEqual(await companion.store.pending(), []);
    const warning = companion.log.lines.find((l) => /no longer lists/.test(l.msg));
    assert.ok(warning, 'no log line names the registration that was not sent');
    assert.match(JSON.stringify(warning.obj), /grace-hopper/);
  });
});

describe('roster sync: what the demo and a review found', () => {
  test('a learner is recorded with the time they registered, not the time of the commit, and keeps it in the working copy', async () => {
    let now = Date.parse('2026-03-02T15:00:00.000Z');
    admin = await startAdmin();
    // The store's clock: the registration is received at 15:00.
    const companion = await syncedCompanion(admin, {}, {}, () => new Date(now));
    companions.push(companion);
    await companion.store.register(grace);
    now += 3_600_000;
    await companion.sync.syncNow();
    await companion.sync.syncNow();
    const added = admin.record().learners.find((l) => l.github_handle === 'grace-hopper')!;
    assert.equal(added.registered_at, '2026-03-02T15:00:00.000Z');
    assert.equal((await companion.local()).learners.find((l) => l.github_handle === 'grace-hopper')!.registered_at, '2026-03-02T15:00:00.000Z');
  });

  test('a commit GitHub refuses for another reason than a moved roster (a rule on the branch) is reported in its words, not retried as a conflict', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    admin.sim.faults.refusal({ method: 'PUT', status: 409, message: 'Repository rule violations found', count: 10 });
    await companion.sync.syncNow();
    assert.match(companion.sync.state.problem!.text, /GitHub refused the commit to roster\.json \(409: Repository rule violations found\)/);
    assert.equal(admin.sim.requests.count({ method: 'PUT' }), 1);
    assert.equal((await companion.store.pending()).length, 1);
  });

  test('while commits wait for a provisioning run, the sync counts as healthy for /readyz', async () => {
    const { admin, companion } = await setUp({}, WITH_PROVISIONING);
    admin.sim.state.addRun(`${WORKSHOP.owner}/${WORKSHOP.name}`, { workflow: WORKFLOW, status: 'in_progress' });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.ok(companion.sync.state.waitingForProvisioningSince);
    assert.deepEqual(companion.sync.readiness(), { ready: true });
  });

  test('a local-mode roster switched to GitHub mode keeps its learners in a copy, named in the log, before it follows the roster of record', async () => {
    admin = await startAdmin({ roster: rosterText({ ...EXAMPLE_ROSTER, learners: [] }) });
    const companion = await syncedCompanion(admin);
    companions.push(companion);
    const local = rosterText();
    await writeFile(companion.rosterPath, local);
    await companion.sync.syncNow();
    assert.deepEqual((await companion.local()).learners, []);
    const copies = (await readdir(path.dirname(companion.rosterPath))).filter((name) => name.includes('.before-github-mode.'));
    assert.equal(copies.length, 1);
    assert.equal(await readFile(path.join(path.dirname(companion.rosterPath), copies[0]!), 'utf8'), local);
    assert.ok(companion.log.lines.some((l) => l.level === 'warn' && /kept as a copy/.test(l.msg) && JSON.stringify(l.obj).includes(copies[0]!)));
    // Only the first time.
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText({ ...EXAMPLE_ROSTER, learners: [] }), { message: 'touch' });
    await companion.sync.syncNow();
    assert.equal((await readdir(path.dirname(companion.rosterPath))).filter((name) => name.includes('.before-github-mode.')).length, 1);
  });
});

describe('roster sync: committing on the version it knows', () => {
  test('after its own commit, the next commit is made on that version without reading the roster again', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    await companion.sync.syncNow();
    const mark = admin.sim.requests.mark();
    await companion.store.register({ github_handle: 'hedy', cohort_id: 'spring-2026', path: 'day1-day2' });
    await companion.sync.syncNow();
    const after = admin.sim.requests.list({ afterSeq: mark });
    assert.deepEqual(after.map((r) => `${r.method} ${r.status}`), ['PUT 200']);
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'grace-hopper', 'hedy']);
  });

  test('after its own commit the working copy, already holding what was committed, is not written again; after another writer\'s it is', async () => {
    const { admin, companion } = await setUp();
    await companion.sync.syncNow();
    const sameLearners = async () => assert.deepEqual((await companion.local()).learners, admin.record().learners);
    await companion.store.register(grace);
    await companion.store.edit({ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', field: 'notes', from: 'private facilitator note', to: 'edited here' });
    const written = (await stat(companion.rosterPath)).ino;
    await companion.sync.syncNow();
    assert.equal(commits(admin)[0]!.message, 'Companion: 1 registration, 1 facilitator edit');
    assert.equal((await stat(companion.rosterPath)).ino, written, 'the working copy was replaced although it held the commit already');
    await sameLearners();
    // Another writer's commit: the next one is made on a version this companion has not seen, so the working copy follows it.
    admin.sim.faults.concurrentWriter({ repo: ADMIN_REPO, path: 'roster.json', when: 'before-put', count: 1, transform: (text) => text.replace('"status": "active-day1"', '"status": "day1-complete"') });
    await companion.store.register({ ...grace, github_handle: 'hedy-lamarr' });
    await companion.sync.syncNow();
    assert.equal((await companion.local()).learners[0]!.status, 'day1-complete');
    await sameLearners();
    // A change made to the working copy by another program is not assumed away either.
    const text = await readFile(companion.rosterPath, 'utf8');
    await writeFile(companion.rosterPath, text.replace('"path": "day1-day2"', '"path": "day2-only"'));
    await companion.store.register({ ...grace, github_handle: 'katherine-johnson' });
    await companion.sync.syncNow();
    await sameLearners();
  });

  test('a registration that would change nothing on the known version is checked on a fresh read before it is dropped', async () => {
    const { admin, companion } = await setUp();
    await companion.store.register(grace);
    await companion.sync.syncNow();
    // Removed on GitHub just after this companion's commit; then the same person registers again here,
    // before a pull has shown the removal (the working copy still has them, so only the outbox records it).
    admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', rosterText(), { message: 'facilitator removes grace' });
    await companion.store.register(grace);
    await companion.sync.syncNow();
    assert.deepEqual(handles(admin.record()), ['ada-lovelace', 'grace-hopper']);
  });
});
