/**
 * Facilitator operations on GitHub, one learner at a time, over real HTTP on
 * loopback against the GitHub simulator: labels on the enrollment issue, the
 * Learning Room invitation, starting provisioning; each one's confirmation
 * page (what will happen, who will see it), its result in a status region,
 * its audit line; and each failure GitHub can answer with (403 for a
 * permission the token lacks, 404, 422, a server error, a network failure, a
 * used-up rate limit), said in words, failing only the operation it is about.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { TEST_TOKEN } from './helpers/app.js';
import { ENROLLMENT_REPO, WORKSHOP, WORKFLOW, ROOM } from './helpers/github.js';
import { ALAN_ROOM, OPERATIONS_PERMISSIONS, githubCompanion, operate, statusText, until, words, type OperationsCompanion } from './helpers/operations.js';

let c: OperationsCompanion | null = null;
afterEach(async () => {
  await c?.close();
  c = null;
});

const ADA = '/learners/spring-2026/ada-lovelace';
const ADA_KEY = 'ada-lovelace@@spring-2026';
const WORKSHOP_REPO = `${WORKSHOP.owner}/${WORKSHOP.name}`;

const labelsOf = (companion: OperationsCompanion, number: number) => companion.admin!.sim.state.issue(ENROLLMENT_REPO, number).labels;
const writes = (companion: OperationsCompanion) => companion.admin!.sim.requests.list().filter((r) => r.method !== 'GET');

describe('labels on the enrollment issue', () => {
  test('mark acknowledged: the confirmation says what will happen and that the label is public; confirming adds it, says so in a status region and writes an audit line', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get(ADA)).text();
    assert.match(words(page), /Facilitator operations/);
    assert.match(page, /<button type="submit" class="button button-secondary" aria-describedby="operation-acked-hint">Mark acknowledged<\/button>/);

    const { confirmHtml, resultHtml, run } = await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.match(confirmHtml, /<title>Check and confirm: Mark acknowledged for ada-lovelace - GLOW Companion<\/title>/);
    const confirmText = words(confirmHtml);
    assert.match(confirmText, /Nothing has been done yet/);
    assert.match(confirmText, /Add the label acked to ada-lovelace's enrollment issue, Community-Access\/git-going-with-github#1\./);
    assert.match(confirmText, /Who will see it .*as public as the issue.*so that is anyone/);
    assert.match(confirmHtml, /<a href="\/learners\/spring-2026\/ada-lovelace">Cancel and go back to ada-lovelace&#39;s page<\/a>/);
    // The confirmation page changed nothing; the confirmation did.
    assert.match(run.headers.get('location')!, /^\/operations\/results\/[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(labelsOf(c, 1), ['acked']);

    assert.match(resultHtml, /<h1>Mark acknowledged for ada-lovelace: done<\/h1>/);
    assert.match(resultHtml, /<title>Mark acknowledged for ada-lovelace: done - GLOW Companion<\/title>/);
    assert.equal(statusText(resultHtml), 'Done. The enrollment issue Community-Access/git-going-with-github#1 now has the label acked.');
    assert.match(resultHtml, /<a href="\/learners\/spring-2026\/ada-lovelace">Back to ada-lovelace&#39;s page<\/a>/);

    const audit = c.log.audit();
    assert.equal(audit.length, 1);
    assert.deepEqual(
      { operation: audit[0]!.operation, github_handle: audit[0]!.github_handle, cohort_id: audit[0]!.cohort_id, outcome: audit[0]!.outcome, level: audit[0]!.level },
      { operation: 'acked', github_handle: 'ada-lovelace', cohort_id: 'spring-2026', outcome: 'done', level: 30 },
    );
    assert.match(String(audit[0]!.session), /^[A-Za-z0-9_-]{20,}$/, 'the audit line names the facilitator session');
    assert.match(String(audit[0]!.result), /^[A-Za-z0-9_-]{22}$/);
    const log = c.log.text();
    assert.ok(!log.includes(c.admin!.token), 'the GitHub token never reaches the log');
    assert.ok(!log.includes(TEST_TOKEN), 'the facilitator token never reaches the log');
  });

  test('needs information, then cleared; clearing it again says there was nothing to remove (GitHub answers 404 "Label does not exist")', async () => {
    c = await githubCompanion();
    await operate(c.client, ADA, { operation: 'needs-info', learner: ADA_KEY });
    assert.deepEqual(labelsOf(c, 1), ['needs-info']);
    const cleared = await operate(c.client, ADA, { operation: 'needs-info-clear', learner: ADA_KEY });
    assert.deepEqual(labelsOf(c, 1), []);
    assert.match(statusText(cleared.resultHtml), /^Done\. The label needs-info was removed from the enrollment issue Community-Access\/git-going-with-github#1\.$/);
    const again = await operate(c.client, ADA, { operation: 'needs-info-clear', learner: ADA_KEY });
    assert.match(again.resultHtml, /<h1>Clear needs information for ada-lovelace: nothing to change<\/h1>/);
    assert.match(statusText(again.resultHtml), /did not have the label needs-info, so there was nothing to remove/);
    assert.equal(c.admin!.sim.requests.count({ method: 'DELETE', status: 404 }), 1);
    assert.deepEqual(c.log.audit().map((l) => l.outcome), ['done', 'done', 'unchanged']);
  });

  test('after a label is changed, progress is read from GitHub again, so the learner\'s page shows the new status within moments', async () => {
    c = await githubCompanion({ env: { COMPANION_PROGRESS_INTERVAL: '3600' } });
    await until('progress has been read once', async () => /Status \(derived from GitHub\)/.test(await (await c!.client.get(ADA)).text()));
    await operate(c.client, ADA, { operation: 'needs-info', learner: ADA_KEY });
    await until('the learner page shows the new status', async () => /Status \(derived from GitHub\) Needs information/.test(words(await (await c!.client.get(ADA)).text())), 5_000);
  });

  test('Day 2 released adds the day2-released label and nothing else', async () => {
    c = await githubCompanion();
    await operate(c.client, ADA, { operation: 'day2-released', learner: ADA_KEY });
    assert.deepEqual(labelsOf(c, 1), ['day2-released']);
    assert.deepEqual(labelsOf(c, 2), [], 'another learner\'s issue is untouched');
    assert.deepEqual(writes(c).map((r) => `${r.method} ${r.path}`), [`POST /repos/${ENROLLMENT_REPO}/issues/1/labels`]);
  });

  test('a token without Issues write: the label is refused in words naming the permission, and the invitation, which needs another permission, still works', async () => {
    c = await githubCompanion({ permissions: { ...OPERATIONS_PERMISSIONS, issues: 'read' } });
    const refused = await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.match(refused.resultHtml, /<h1>Mark acknowledged for ada-lovelace: failed<\/h1>/);
    const said = statusText(refused.resultHtml);
    assert.match(said, /^Failed\. GitHub refused: the token cannot add labels in Community-Access\/git-going-with-github \(it needs Issues: read and write on that repository\)/);
    assert.match(said, /it would accept: issues=write; pull_requests=write/);
    assert.deepEqual(labelsOf(c, 1), []);
    const audit = c.log.audit();
    assert.deepEqual([audit[0]!.outcome, audit[0]!.problem, audit[0]!.status, audit[0]!.level], ['failed', 'forbidden', 403, 40]);

    const invited = await operate(c.client, ADA, { operation: 'invite', learner: ADA_KEY });
    assert.match(statusText(invited.resultHtml), /^Done\. GitHub sent ada-lovelace an invitation/);
  });

  test('an enrollment issue that does not exist: GitHub\'s 404 in words', async () => {
    c = await githubCompanion();
    const { resultHtml } = await operate(c.client, '/learners/spring-2026/hedy-lamarr', { operation: 'acked', learner: 'hedy-lamarr@@spring-2026' });
    assert.match(
      statusText(resultHtml),
      /^Failed\. GitHub answered "not found" when the companion tried to add the label acked to issue 99 in Community-Access\/git-going-with-github: issue 99 does not exist in Community-Access\/git-going-with-github, or the token cannot see that repository\.$/,
    );
    assert.equal(c.log.audit()[0]!.problem, 'not-found');
  });

  test('a network failure: the page says GitHub could not be reached and that it is not known whether the label was added', async () => {
    c = await githubCompanion();
    // Every try the client makes (it retries network failures) meets a dropped connection.
    c.admin!.sim.faults.networkFailure({ method: 'POST', path: `/repos/${ENROLLMENT_REPO}/issues/1/labels`, count: 10 });
    const { resultHtml } = await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.match(statusText(resultHtml), /^Failed\. GitHub could not be reached to add the label acked to issue 1 in Community-Access\/git-going-with-github \(network error[^)]*\), so it is not known whether it happened\. Look on GitHub, or try again: trying again is harmless\.$/);
    assert.equal(c.log.audit()[0]!.problem, 'unreachable');
  });

  test('a server error that lasts: said in words, with what to do', async () => {
    c = await githubCompanion();
    c.admin!.sim.faults.serverError({ method: 'POST', path: `/repos/${ENROLLMENT_REPO}/issues/1/labels`, status: 503, count: 10 });
    const { resultHtml } = await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.match(statusText(resultHtml), /^Failed\. GitHub answered with a server error \(503\) when the companion tried to add the label acked/);
  });

  test('a used-up rate limit: nothing is sent, and the page says until when', async () => {
    c = await githubCompanion();
    c.admin!.sim.faults.exhaustRateLimit({ token: c.admin!.token, resetInSeconds: 600 });
    const { resultHtml } = await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.match(statusText(resultHtml), /^Failed\. GitHub's rate limit is used up until \d{4}-\d\d-\d\dT[\d:.]+Z, so the companion did not add the label acked to issue 1 in Community-Access\/git-going-with-github\. Try again after that time\.$/);
    assert.deepEqual(labelsOf(c, 1), []);
  });

  test('a learner with no enrollment issue is offered no label operation, and the page says why; a form sent anyway does nothing and says why', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get('/learners/spring-2026/grace-hopper')).text();
    assert.doesNotMatch(page, /value="acked"/);
    assert.match(words(page), /Mark acknowledged, mark as needing information, clear needs information and mark Day 2 released are not offered: No enrollment issue is recorded for grace-hopper, so there is no issue to label\./);
    assert.match(words(page), /Send the repository invitation again is not offered: grace-hopper has no Learning Room repository yet/);
    const csrf_token = /name="csrf_token" value="([^"]+)"/.exec(page)![1]!;
    const confirm = await c.client.post('/operations/confirm', { csrf_token, operation: 'acked', learner: 'grace-hopper@@spring-2026', back: '/learners/spring-2026/grace-hopper' });
    const html = await confirm.text();
    assert.equal(confirm.status, 200);
    assert.match(words(html), /No enrollment issue is recorded for grace-hopper, so there is no issue to label\. .*Nothing can be done, so there is nothing to confirm\./);
    assert.doesNotMatch(html, /action="\/operations\/run"/);
    const run = await c.client.post('/operations/run', { csrf_token, operation: 'acked', learner: 'grace-hopper@@spring-2026', back: '/learners/spring-2026/grace-hopper' });
    assert.equal(run.status, 303);
    const result = await (await c.client.get(run.headers.get('location')!)).text();
    assert.match(result, /<h1>Mark acknowledged for grace-hopper: not done<\/h1>/);
    assert.deepEqual(writes(c), []);
  });
});

describe('the Learning Room invitation', () => {
  test('sends an invitation with write access (201), and says so; once accepted, sending again says they already are a collaborator (204)', async () => {
    c = await githubCompanion();
    const { confirmHtml, resultHtml } = await operate(c.client, ADA, { operation: 'invite', learner: ADA_KEY });
    assert.match(words(confirmHtml), /Invite ada-lovelace to Community-Access\/learning-room-spring-2026-ada-lovelace with write access\./);
    assert.match(words(confirmHtml), /The learner gets the invitation by e-mail and in their GitHub notifications\./);
    assert.match(statusText(resultHtml), /^Done\. GitHub sent ada-lovelace an invitation to Community-Access\/learning-room-spring-2026-ada-lovelace with write access/);
    const room = c.admin!.sim.state.repo(ROOM);
    assert.deepEqual(room.invitations.map((i) => [i.invitee, i.permission]), [['ada-lovelace', 'push']]);
    assert.equal(c.admin!.sim.requests.count({ method: 'PUT', path: `/repos/${ROOM}/collaborators/ada-lovelace`, status: 201 }), 1);

    c.admin!.sim.state.acceptInvitation(ROOM, 'ada-lovelace');
    const again = await operate(c.client, ADA, { operation: 'invite', learner: ADA_KEY });
    assert.match(again.resultHtml, /<h1>Send the repository invitation again for ada-lovelace: nothing to change<\/h1>/);
    assert.match(statusText(again.resultHtml), /ada-lovelace already is a collaborator on Community-Access\/learning-room-spring-2026-ada-lovelace, so GitHub sent no invitation/);
    assert.equal(c.admin!.sim.requests.count({ method: 'PUT', status: 204 }), 1);
  });

  test('a token without Administration write is refused in words naming that permission', async () => {
    c = await githubCompanion({ permissions: { ...OPERATIONS_PERMISSIONS, administration: 'read' } });
    const { resultHtml } = await operate(c.client, '/learners/spring-2026/alan-turing', { operation: 'invite', learner: 'alan-turing@@spring-2026' });
    assert.match(statusText(resultHtml), new RegExp(`^Failed\\. GitHub refused: the token cannot invite collaborators to ${ALAN_ROOM} \\(it needs Administration: read and write on that repository\\)`));
    assert.equal(c.admin!.sim.state.repo(ALAN_ROOM).invitations.length, 0);
  });

  test('a GitHub account that does not exist (404) is said in words', async () => {
    c = await githubCompanion({
      seed: (admin) => {
        admin.sim.state.unknownUsers = 'reject';
        admin.sim.state.users.delete('alan-turing');
      },
    });
    const { resultHtml } = await operate(c.client, '/learners/spring-2026/alan-turing', { operation: 'invite', learner: 'alan-turing@@spring-2026' });
    assert.match(statusText(resultHtml), /not found.*or there is no GitHub account named alan-turing\.$/);
  });
});

describe('starting provisioning', () => {
  const dispatches = (companion: OperationsCompanion) => companion.admin!.sim.state.repo(WORKSHOP_REPO).dispatches;

  test('for a learner whose provisioning failed: the workflow is started with dry_run false, and the page says it works on everyone waiting', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get('/learners/spring-2026/grace-hopper')).text();
    assert.match(page, /<input type="hidden" name="from" value="failed">/);
    const { confirmHtml, resultHtml } = await operate(c.client, '/learners/spring-2026/grace-hopper', { operation: 'provision', learner: 'grace-hopper@@spring-2026', from: 'failed' });
    assert.match(words(confirmHtml), new RegExp(`Start the provisioning workflow ${WORKFLOW} in ${WORKSHOP_REPO} on main\\. grace-hopper's provisioning state is failed`));
    assert.match(words(confirmHtml), /sees the workflow run in its Actions tab/);
    assert.deepEqual(dispatches(c).map((d) => [d.workflow, d.ref, d.inputs]), [[WORKFLOW, 'main', { dry_run: 'false' }]]);
    assert.match(statusText(resultHtml), new RegExp(`^Done\\. The provisioning workflow ${WORKFLOW} was started in ${WORKSHOP_REPO} on main\\. It provisions every learner waiting or failed in the roster of record, grace-hopper included`));
  });

  test('for everyone waiting, from the dashboard, as a dry run: dry_run true, and the page says nothing is created', async () => {
    c = await githubCompanion();
    const dashboard = await (await c.client.get('/dashboard')).text();
    assert.match(words(dashboard), /Start provisioning Starts the provisioning workflow \(provision-learning-rooms.yml in Community-Access\/git-going-with-github on main\) now/);
    const { confirmHtml, resultHtml } = await operate(c.client, '/dashboard', { operation: 'provision-cohort', dry_run: '1' });
    assert.match(confirmHtml, /<h1>Check and confirm: a dry run of provisioning<\/h1>/);
    assert.match(words(confirmHtml), /as a dry run: it reports what it would create and creates nothing\. The workflow works on every learner waiting or failed in the roster of record, in every cohort: it decides who, not this page\. The roster here has 1 learner waiting and 1 failed\./);
    assert.deepEqual(dispatches(c).map((d) => d.inputs), [{ dry_run: 'true' }]);
    assert.match(resultHtml, /<h1>Dry run of provisioning: done<\/h1>/);
    assert.match(statusText(resultHtml), /as a dry run: it reports what it would create and creates nothing/);
    const audit = c.log.audit();
    assert.deepEqual([audit[0]!.operation, audit[0]!.dryRun, audit[0]!.github_handle, audit[0]!.outcome], ['provision-cohort', true, null, 'done']);
  });

  test('for everyone waiting, not a dry run: dry_run false', async () => {
    c = await githubCompanion();
    await operate(c.client, '/dashboard', { operation: 'provision-cohort' });
    assert.deepEqual(dispatches(c).map((d) => d.inputs), [{ dry_run: 'false' }]);
  });

  test('a workflow that cannot take the dry_run input: GitHub\'s 422 and its message, in words', async () => {
    c = await githubCompanion({
      seed: (admin) => void admin.sim.state.addWorkflow(WORKSHOP_REPO, { file: WORKFLOW, inputs: {}, lifecycle: { queuedMs: 5, runMs: 5 } }),
    });
    const { resultHtml } = await operate(c.client, '/dashboard', { operation: 'provision-cohort' });
    assert.match(statusText(resultHtml), /^Failed\. GitHub refused to start the workflow provision-learning-rooms.yml in Community-Access\/git-going-with-github \(422: Unexpected inputs provided: \["dry_run"\]\)\.$/);
    assert.deepEqual(dispatches(c), []);
  });

  test('a token without Actions write: refused in words naming the permission; the labels still work', async () => {
    c = await githubCompanion({ permissions: { ...OPERATIONS_PERMISSIONS, actions: 'read' } });
    const { resultHtml } = await operate(c.client, '/dashboard', { operation: 'provision-cohort' });
    assert.match(statusText(resultHtml), /^Failed\. GitHub refused: the token cannot start workflows in Community-Access\/git-going-with-github \(it needs Actions: read and write on that repository\) \(GitHub said: Resource not accessible by personal access token; it would accept: actions=write\)\.$/);
    await operate(c.client, ADA, { operation: 'acked', learner: ADA_KEY });
    assert.deepEqual(labelsOf(c, 1), ['acked']);
  });

  test('without a provisioning repository configured, provisioning is not offered, and the pages say why', async () => {
    c = await githubCompanion({ env: { COMPANION_PROVISIONING_REPO: '' } });
    const dashboard = words(await (await c.client.get('/dashboard')).text());
    assert.match(dashboard, /Starting provisioning is not offered: COMPANION_PROVISIONING_REPO is not set/);
    const page = words(await (await c.client.get('/learners/spring-2026/grace-hopper')).text());
    assert.match(page, /Starting provisioning is not offered: COMPANION_PROVISIONING_REPO is not set/);
  });
});
