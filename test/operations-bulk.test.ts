/**
 * Operations on several learners at once, from the dashboard, over real HTTP
 * against the GitHub simulator: check boxes in the learners table (a plain
 * form, no script), one operation chosen with radios, the confirmation
 * listing what will happen to each learner (and why nothing can for some),
 * and the result learner by learner, with an audit line each. A form sent
 * without a choice or a selection comes back as the dashboard with the error
 * summary, what was chosen kept.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { csrfFrom } from './helpers/http.js';
import { ENROLLMENT_REPO, ROOM } from './helpers/github.js';
import { ALAN_ROOM, githubCompanion, operate, statusText, words, type OperationsCompanion } from './helpers/operations.js';

let c: OperationsCompanion | null = null;
afterEach(async () => {
  await c?.close();
  c = null;
});

const EVERYONE = ['ada-lovelace@@spring-2026', 'alan-turing@@spring-2026', 'grace-hopper@@spring-2026', 'hedy-lamarr@@spring-2026'];

describe('the dashboard\'s bulk form', () => {
  test('each row has a labelled check box in a first "Select" column, tied to the form under the table, which offers the operations with none chosen', async () => {
    c = await githubCompanion();
    const html = await (await c.client.get('/dashboard')).text();
    assert.match(html, /<thead>\s*<tr>\s*<th scope="col">Select<\/th>\s*<th scope="col" aria-sort="ascending"><a [^>]+>Username<\/a><\/th>/);
    assert.match(html, /<td><input class="checkbox-input" type="checkbox" form="bulk-operation" id="select-1" name="learner" value="ada-lovelace@@spring-2026"><label class="visually-hidden" for="select-1">Select ada-lovelace \(spring-2026\)<\/label><\/td>\s*<th scope="row"><a href="\/learners\/spring-2026\/ada-lovelace">ada-lovelace<\/a><\/th>/);
    assert.match(html, /<form id="bulk-operation" method="post" action="\/operations\/confirm" novalidate>/);
    assert.match(html, /<legend class="legend">What to do for the selected learners<\/legend>/);
    for (const op of ['acked', 'needs-info', 'needs-info-clear', 'day2-released', 'invite']) assert.match(html, new RegExp(`name="operation" value="${op}"(?! checked)`));
    assert.doesNotMatch(html, /name="operation" value="[^"]+" checked/);
    assert.match(html, /<a href="\/dashboard\?select=all#bulk">Select every learner on this page<\/a>/);
  });

  test('"Select every learner on this page" checks every box of the page in view, keeping its filters', async () => {
    c = await githubCompanion();
    const html = await (await c.client.get('/dashboard?state=provisioned&select=all')).text();
    const boxes = [...html.matchAll(/<input class="checkbox-input" type="checkbox" form="bulk-operation" id="(select-\d+)" name="learner" value="([^"]+)"( checked)?/g)];
    assert.deepEqual(boxes.map((b) => [b[2], b[3] === ' checked']), [['ada-lovelace@@spring-2026', true], ['alan-turing@@spring-2026', true]]);
    assert.match(html, /<a href="\/dashboard\?state=provisioned#bulk">Clear the selection<\/a>/);
    assert.match(html, /<input type="hidden" name="back" value="\/dashboard\?state=provisioned">/);
  });

  test('sent with nothing chosen: the same filtered dashboard again (400), the error summary first, each error at its field', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get('/dashboard?state=provisioned')).text();
    const response = await c.client.post('/operations/confirm', { csrf_token: csrfFrom(page), back: '/dashboard?state=provisioned' });
    assert.equal(response.status, 400);
    const html = await response.text();
    assert.match(html, /<title>Error: Cohort dashboard - GLOW Companion<\/title>/);
    assert.match(html, /<main id="main-content" class="width-container" tabindex="-1">\s*<div class="error-summary" tabindex="-1" autofocus>/);
    assert.match(html, /<li><a href="#operation">Choose what to do for the selected learners<\/a><\/li>\s*<li><a href="#select-1">Select at least one learner<\/a><\/li>/);
    assert.match(html, /<p class="error-message" id="select-error">Error: Select at least one learner<\/p>/);
    assert.match(html, /id="select-1" name="learner" value="ada-lovelace@@spring-2026" aria-describedby="select-error" aria-invalid="true">/);
    assert.match(html, /<p class="error-message" id="operation-error">Error: Choose what to do for the selected learners<\/p>/);
    assert.match(html, /<fieldset class="fieldset" aria-describedby="operation-hint operation-error">/);
    assert.match(html, /Learners in all cohorts: 2 learners of 4, provisioning state provisioned/);
    assert.deepEqual(c.log.audit(), []);
  });

  test('sent with learners but no operation: the learners stay checked; with an operation but no learners: the operation stays chosen', async () => {
    c = await githubCompanion();
    const csrf_token = csrfFrom(await (await c.client.get('/dashboard')).text());
    const noChoice = await (await c.client.post('/operations/confirm', { csrf_token, back: '/dashboard', learner: ['alan-turing@@spring-2026'] })).text();
    assert.match(noChoice, /value="alan-turing@@spring-2026" checked>/);
    assert.match(noChoice, /value="ada-lovelace@@spring-2026">/);
    assert.doesNotMatch(noChoice, /href="#select-1"/);
    const noLearners = await (await c.client.post('/operations/confirm', { csrf_token, back: '/dashboard', operation: 'invite' })).text();
    assert.match(noLearners, /name="operation" value="invite" checked/);
    assert.doesNotMatch(noLearners, /href="#operation"/);
  });
});

describe('bulk operations', () => {
  test('mark acknowledged for four learners: the confirmation says what happens to each and leaves out the one with no enrollment issue; the result lists each outcome, with an audit line each', async () => {
    c = await githubCompanion();
    const { confirmHtml, resultHtml } = await operate(c.client, '/dashboard', { operation: 'acked', learner: EVERYONE });
    assert.match(confirmHtml, /<h1>Check and confirm: Mark acknowledged for 4 learners<\/h1>/);
    const confirm = words(confirmHtml);
    assert.match(confirm, /3 learners of the 4 selected are included\. The others are listed with the reason nothing can be done for them\./);
    assert.match(confirm, /ada-lovelace \(spring-2026\): Add the label acked to ada-lovelace's enrollment issue, Community-Access\/git-going-with-github#1\./);
    assert.match(confirm, /grace-hopper \(spring-2026\): Not included\. No enrollment issue is recorded for grace-hopper/);
    assert.match(confirmHtml, /<button type="submit" class="button">Confirm: mark acknowledged for 3 learners<\/button>/);

    assert.match(resultHtml, /<h1>Mark acknowledged for 4 learners: 2 done, 1 not done, 1 failed<\/h1>/);
    assert.equal(statusText(resultHtml), 'Of 4 learners: 2 done, 1 not done, 1 failed. Each learner\'s outcome is listed below, with the reason for each one that was not done.');
    const result = words(resultHtml);
    assert.match(result, /ada-lovelace \(spring-2026\): Done\. The enrollment issue Community-Access\/git-going-with-github#1 now has the label acked\./);
    assert.match(result, /alan-turing \(spring-2026\): Done\. The enrollment issue Community-Access\/git-going-with-github#2 now has the label acked\./);
    assert.match(result, /grace-hopper \(spring-2026\): Not done\. No enrollment issue is recorded for grace-hopper/);
    assert.match(result, /hedy-lamarr \(spring-2026\): Failed\. GitHub answered "not found" when the companion tried to add the label acked to issue 99/);
    assert.match(resultHtml, /<a href="\/dashboard">Back to the cohort dashboard<\/a>/);

    assert.deepEqual(c.admin!.sim.state.issue(ENROLLMENT_REPO, 1).labels, ['acked']);
    assert.deepEqual(c.admin!.sim.state.issue(ENROLLMENT_REPO, 2).labels, ['acked']);
    const audit = c.log.audit();
    assert.deepEqual(
      audit.map((l) => [l.github_handle, l.outcome]).sort(),
      [['ada-lovelace', 'done'], ['alan-turing', 'done'], ['grace-hopper', 'skipped'], ['hedy-lamarr', 'failed']],
    );
    assert.equal(new Set(audit.map((l) => l.session)).size, 1, 'one session did it all');
    assert.equal(new Set(audit.map((l) => l.result)).size, 1, 'one result');
  });

  test('the invitation for those with a Learning Room; the others are not done, with the reason', async () => {
    c = await githubCompanion();
    const { resultHtml } = await operate(c.client, '/dashboard', { operation: 'invite', learner: EVERYONE });
    assert.match(resultHtml, /<h1>Send the repository invitation again for 4 learners: 2 done, 2 not done<\/h1>/);
    assert.equal(c.admin!.sim.state.repo(ROOM).invitations.length, 1);
    assert.equal(c.admin!.sim.state.repo(ALAN_ROOM).invitations.length, 1);
    assert.match(words(resultHtml), /hedy-lamarr \(spring-2026\): Not done\. hedy-lamarr has no Learning Room repository yet/);
  });

  test('a learner removed from the roster since the page was shown is listed as no longer there, and the others are done', async () => {
    c = await githubCompanion();
    const { confirmHtml, resultHtml } = await operate(c.client, '/dashboard', { operation: 'acked', learner: ['ada-lovelace@@spring-2026', 'katherine-johnson@@spring-2026'] });
    assert.match(words(confirmHtml), /katherine-johnson \(spring-2026\): Not included\. katherine-johnson is no longer in the roster, so nothing can be done for them\./);
    assert.match(resultHtml, /<h1>Mark acknowledged for 2 learners: 1 done, 1 not done<\/h1>/);
    assert.match(words(resultHtml), /katherine-johnson \(spring-2026\): Not done\. katherine-johnson is no longer in the roster/);
    assert.deepEqual(c.admin!.sim.state.issue(ENROLLMENT_REPO, 1).labels, ['acked']);
  });
});
