/**
 * The progress reader against the GitHub simulator: what it reads for each
 * learner, that steady-state refreshes are answered 304 (no rate limit), that
 * pagination is followed, and that a failure keeps the last snapshot.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { connectGitHub } from '../src/github/client.js';
import { createProgressApi } from '../src/github/progress-api.js';
import { ProgressReader } from '../src/github/progress.js';
import { deriveProgress } from '../src/github/progress-rules.js';
import { learnerKey, type Roster } from '../src/roster/contract.js';
import { ADMIN_REPO, EXAMPLE_ROSTER, recordingLog, rosterText, startAdmin, syncedCompanion, type SimulatedAdmin, type SyncedCompanion } from './helpers/github.js';

const ENROLL = 'Community-Access/git-going-with-github';
const ROOM = 'Community-Access/learning-room-spring-2026-ada-lovelace';

let admin: SimulatedAdmin | null = null;
let companion: SyncedCompanion | null = null;
afterEach(async () => {
  await companion?.close();
  await admin?.close();
  admin = companion = null;
});

const ROSTER: Roster = {
  ...EXAMPLE_ROSTER,
  learners: [
    { ...EXAMPLE_ROSTER.learners[0]!, learning_room_repo: ROOM, enrollment_repo: ENROLL, enrollment_issue_number: 1, status: 'awaiting-ack' },
    { ...EXAMPLE_ROSTER.learners[0]!, github_handle: 'grace-hopper', learning_room_repo: null, provision_state: 'pending', enrollment_repo: null, enrollment_issue_number: null },
  ],
};

async function setUp(rooms = 3, keptPages?: number, roster: Roster = ROSTER) {
  admin = await startAdmin({ roster: rosterText(roster), permissions: { contents: 'write', issues: 'read', pull_requests: 'read', actions: 'write', metadata: 'read' } });
  const { state } = admin.sim;
  state.createRepo({ owner: 'Community-Access', name: 'git-going-with-github', private: false });
  state.addIssue(ENROLL, { title: 'Enroll: ada-lovelace', user: 'ada-lovelace', labels: ['enrollment'] });
  state.addComment(ENROLL, 1, { user: 'facilitator-sam', body: 'Welcome! Reply ack to confirm.' });
  state.addComment(ENROLL, 1, { user: 'ada-lovelace', body: 'ack\n\n> Welcome! Reply ack to confirm.' });
  state.createRepo({ owner: 'Community-Access', name: 'learning-room-spring-2026-ada-lovelace', private: true });
  for (let n = 1; n <= rooms; n++) state.addIssue(ROOM, { title: `Challenge ${n}`, state: n < rooms ? 'closed' : 'open', user: 'glow-bot' });
  state.addPull(ROOM, { title: 'Add my name', user: 'ada-lovelace' });
  state.commitFile(ADMIN_REPO, 'provisioning-log.json', JSON.stringify([{ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', attempt_at: '2026-03-02T15:01:00.000Z', result: 'created', repo: ROOM, template_sha: 'abc', error_detail: null }]), { message: 'log' });
  companion = await syncedCompanion(admin);
  await companion.sync.syncNow();
  const api = createProgressApi(connectGitHub(companion.github, companion.log.log, { retryBaseMs: 10 }).octokit, keptPages);
  const reader = new ProgressReader(companion.github, api, companion.store, companion.log.log);
  return { admin, companion, api, reader };
}

describe('progress reader', () => {
  test('reads each learner\'s enrollment issue, comments, challenges, pull requests and the provisioning log, and the rules derive from them', async () => {
    const { reader } = await setUp();
    await reader.refreshNow();
    const snapshot = reader.state.snapshot!;
    assert.equal(snapshot.unread, 0);
    const signals = snapshot.signals.get(learnerKey('ada-lovelace', 'spring-2026'))!;
    assert.equal(signals.comments.length, 2);
    assert.equal(signals.roomIssues.filter((i) => !('pull_request' in i)).length, 3);
    assert.equal(signals.openPullRequests.length, 1);
    assert.equal(snapshot.provisioningLog.length, 1);
    const progress = deriveProgress(ROSTER.learners[0]!, signals, { now: new Date(), cohorts: ROSTER.cohorts });
    assert.equal(progress.status, 'active-day1');
    assert.equal(progress.challengesCompleted, 2);
    assert.equal(progress.currentChallenge, 3);
    // A learner with no Learning Room and no enrollment issue costs no request and has empty signals.
    const grace = snapshot.signals.get(learnerKey('grace-hopper', 'spring-2026'))!;
    assert.deepEqual([grace.enrollmentIssue, grace.comments, grace.roomIssues], [null, [], []]);
  });

  test('a steady-state refresh is answered 304 throughout, costing no rate limit', async () => {
    const { admin, api, reader } = await setUp();
    await reader.refreshNow();
    const full = api.usage.full;
    const mark = admin.sim.requests.mark();
    await reader.refreshNow();
    const second = admin.sim.requests.list({ afterSeq: mark });
    assert.ok(second.length >= 5, `only ${second.length} requests`);
    assert.ok(second.every((r) => r.status === 304 && !r.counted), JSON.stringify(second.map((r) => [r.path, r.status])));
    assert.equal(api.usage.full, full);
  });

  test('with more pages than it keeps, the pages it keeps stay conditional round after round, instead of each being dropped just before it is read again', async () => {
    // Five pages a refresh (the log, the enrollment repository's issue list, the enrollment issue's comments, the room's issues, its pull requests), three kept.
    const { api, reader } = await setUp(3, 3);
    await reader.refreshNow();
    assert.deepEqual(api.usage, { full: 5, notModified: 0 });
    for (let round = 2; round <= 3; round++) {
      const before: { full: number; notModified: number } = { ...api.usage };
      await reader.refreshNow();
      assert.deepEqual({ full: api.usage.full - before.full, notModified: api.usage.notModified - before.notModified }, { full: 2, notModified: 3 }, `round ${round}`);
    }
  });

  test('a list longer than a page is read whole, following Link', async () => {
    const { reader } = await setUp(150);
    await reader.refreshNow();
    const signals = reader.state.snapshot!.signals.get(learnerKey('ada-lovelace', 'spring-2026'))!;
    assert.equal(signals.roomIssues.filter((i) => !('pull_request' in i)).length, 150);
  });

  test('an enrollment repository\'s issues are read as its issue list, shared by its learners; an issue the list does not hold is read on its own', async () => {
    const learner = (handle: string, number: number) => ({ ...EXAMPLE_ROSTER.learners[0]!, github_handle: handle, learning_room_repo: null, enrollment_repo: ENROLL, enrollment_issue_number: number });
    const roster: Roster = { ...ROSTER, learners: [...ROSTER.learners, learner('alan-turing', 2), learner('katherine-johnson', 3), learner('mary-jackson', 4)] };
    const { admin, reader } = await setUp(3, undefined, roster);
    admin.sim.state.addIssue(ENROLL, { title: 'Enroll: alan-turing', user: 'alan-turing', labels: ['enrollment', 'acked'] });
    admin.sim.state.addIssue(ENROLL, { title: 'Enroll: katherine-johnson', user: 'katherine-johnson', labels: ['enrollment'] });
    // Number 4 is a pull request: the issue list holds it, but not as an issue, so it is read on its own.
    admin.sim.state.addPull(ENROLL, { title: 'Add my name', user: 'mary-jackson', labels: ['docs'] });
    const enrollmentReads = (afterSeq: number) =>
      admin.sim.requests
        .list({ afterSeq })
        .filter((r) => r.path.startsWith(`/repos/${ENROLL}/issues`) && !r.path.endsWith('/comments'))
        .map((r) => `${r.path}${r.query.direction ? `?direction=${r.query.direction}` : ''} ${r.status}`);
    let mark = admin.sim.requests.mark();
    await reader.refreshNow();
    assert.deepEqual(enrollmentReads(mark).sort(), [`/repos/${ENROLL}/issues/4 200`, `/repos/${ENROLL}/issues?direction=asc 200`]);
    const labelsOf = (handle: string) => {
      const issue = reader.state.snapshot!.signals.get(learnerKey(handle, 'spring-2026'))?.enrollmentIssue;
      return issue!.labels.map((l) => (typeof l === 'string' ? l : l.name));
    };
    assert.deepEqual([labelsOf('ada-lovelace'), labelsOf('alan-turing'), labelsOf('katherine-johnson'), labelsOf('mary-jackson')], [['enrollment'], ['enrollment', 'acked'], ['enrollment'], ['docs']]);
    // A label added later is seen through the same list, read again in full; the pull request's read is answered 304.
    admin.sim.state.updateIssue(ENROLL, 3, { labels: ['enrollment', 'needs-info'] });
    mark = admin.sim.requests.mark();
    await reader.refreshNow();
    assert.deepEqual(enrollmentReads(mark).sort(), [`/repos/${ENROLL}/issues/4 304`, `/repos/${ENROLL}/issues?direction=asc 200`]);
    assert.deepEqual(labelsOf('katherine-johnson'), ['enrollment', 'needs-info']);
    assert.equal(deriveProgress(roster.learners[3]!, reader.state.snapshot!.signals.get(learnerKey('katherine-johnson', 'spring-2026'))!, { now: new Date(), cohorts: roster.cohorts }).status, 'needs-info');
  });

  test('an enrollment repository whose issue list took more pages than it has learners is read one issue at a time from then on', async () => {
    const { admin, reader } = await setUp();
    for (let n = 0; n < 120; n++) admin.sim.state.addIssue(ENROLL, { title: `Enroll: learner-${n}`, user: `learner-${n}` });
    const enrollmentReads = (afterSeq: number) =>
      admin.sim.requests.list({ afterSeq }).filter((r) => r.path.startsWith(`/repos/${ENROLL}/issues`) && !r.path.endsWith('/comments')).map((r) => r.path);
    let mark = admin.sim.requests.mark();
    await reader.refreshNow();
    assert.deepEqual(enrollmentReads(mark), [`/repos/${ENROLL}/issues`, `/repos/${ENROLL}/issues`], 'two pages for one learner');
    mark = admin.sim.requests.mark();
    await reader.refreshNow();
    assert.deepEqual(enrollmentReads(mark), [`/repos/${ENROLL}/issues/1`]);
    assert.deepEqual(reader.state.snapshot!.signals.get(learnerKey('ada-lovelace', 'spring-2026'))!.enrollmentIssue!.labels.map((l) => (typeof l === 'string' ? l : l.name)), ['enrollment']);
  });

  test('when the enrollment repository\'s issue list cannot be read, each enrollment issue is read on its own, and no learner goes unread', async () => {
    const { admin, reader } = await setUp();
    admin.sim.faults.serverError({ path: `/repos/${ENROLL}/issues`, status: 502, count: 100 });
    const mark = admin.sim.requests.mark();
    await reader.refreshNow();
    const snapshot = reader.state.snapshot!;
    assert.equal(snapshot.unread, 0);
    assert.equal(reader.state.problem, null);
    assert.deepEqual(snapshot.signals.get(learnerKey('ada-lovelace', 'spring-2026'))!.enrollmentIssue!.labels.map((l) => (typeof l === 'string' ? l : l.name)), ['enrollment']);
    assert.equal(admin.sim.requests.list({ afterSeq: mark }).filter((r) => r.path === `/repos/${ENROLL}/issues/1` && r.status === 200).length, 1);
  });

  test('a list whose last page was full and has not changed is still followed to a page begun since', async () => {
    const { admin, api } = await setUp();
    const enroll = { owner: 'Community-Access', repo: 'git-going-with-github' };
    // Issue 1 has 2 comments; 98 more make one full page. The enrollment repository: 1 issue and 99 more.
    for (let n = 0; n < 98; n++) admin.sim.state.addComment(ENROLL, 1, { user: 'ada-lovelace', body: `comment ${n}` });
    for (let n = 0; n < 99; n++) admin.sim.state.addIssue(ENROLL, { title: `Enroll: learner-${n}`, user: `learner-${n}` });
    assert.equal((await api.issueComments(enroll, 1)).length, 100);
    assert.equal((await api.issuesOldestFirst(enroll)).issues.length, 100);
    // Read again with nothing new: the full pages are answered 304, and the page after each is empty.
    assert.equal((await api.issueComments(enroll, 1)).length, 100);
    assert.equal((await api.issuesOldestFirst(enroll)).issues.length, 100);
    admin.sim.state.addIssue(ENROLL, { title: 'Enroll: katherine-johnson', user: 'katherine-johnson' });
    const { issues, pages } = await api.issuesOldestFirst(enroll);
    assert.deepEqual([issues.length, issues.at(-1)!.title, pages], [101, 'Enroll: katherine-johnson', 2]);
    admin.sim.state.addComment(ENROLL, 1, { user: 'ada-lovelace', body: 'day1-complete' });
    const comments = await api.issueComments(enroll, 1);
    assert.equal(comments.length, 101);
    assert.equal(comments.at(-1)!.body, 'day1-complete');
  });

  test('a failed refresh keeps the last snapshot, and says what went wrong', async () => {
    const { admin, reader } = await setUp();
    await reader.refreshNow();
    const before = reader.state.snapshot!;
    admin.sim.faults.revokeToken(admin.token);
    await reader.refreshNow();
    assert.equal(reader.state.snapshot, before);
    assert.match(reader.state.problem!.text, /did not accept the token/);
  });

  test('when one learner\'s reads fail, that learner keeps their last signals and the rest are fresh', async () => {
    const { admin, reader } = await setUp();
    await reader.refreshNow();
    admin.sim.faults.serverError({ path: `/repos/${ROOM}/issues`, status: 502, count: 100 });
    admin.sim.state.addComment(ENROLL, 1, { user: 'ada-lovelace', body: 'day1-complete' });
    await reader.refreshNow();
    const snapshot = reader.state.snapshot!;
    assert.equal(snapshot.unread, 1);
    assert.equal(snapshot.signals.get(learnerKey('ada-lovelace', 'spring-2026'))!.comments.length, 2, 'the learner whose reads failed keeps the last signals');
    assert.match(reader.state.problem!.text, /progress of 1 learner could not be read/);
  });

  test('a log line per refresh, and never the token', async () => {
    const { admin, reader } = await setUp();
    const log = recordingLog();
    const quiet = new ProgressReader(companion!.github, createProgressApi(connectGitHub(companion!.github, log.log).octokit), companion!.store, log.log);
    await quiet.refreshNow();
    await reader.refreshNow();
    assert.ok(log.lines.some((l) => /progress refresh: done/.test(l.msg)));
    assert.ok(!log.text().includes(admin.token));
  });
});
