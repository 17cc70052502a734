/**
 * Facilitator operations that edit the roster (notes; a broken Learning Room
 * recorded as failed provisioning), over real HTTP on loopback: recorded
 * locally first, applied on top of the newest roster of record by the sync,
 * changing only their own field of their own learner; a concurrent change
 * of the same field by someone else is reported in words, never
 * overwritten, whether it is noticed when the facilitator confirms or only
 * when the sync commits. In local mode, notes are edited in the roster file
 * and the GitHub operations are not offered.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { parseRoster, type Roster } from '../src/roster/contract.js';
import { csrfFrom } from './helpers/http.js';
import { ADMIN_REPO, WORKSHOP, ROOM } from './helpers/github.js';
import { githubCompanion, localCompanion, operate, statusText, until, words, type OperationsCompanion } from './helpers/operations.js';

let c: OperationsCompanion | null = null;
afterEach(async () => {
  await c?.close();
  c = null;
});

const ALAN = '/learners/spring-2026/alan-turing';
const ALAN_KEY = 'alan-turing@@spring-2026';
const ADA = '/learners/spring-2026/ada-lovelace';
const ADA_KEY = 'ada-lovelace@@spring-2026';

/** A roster without its write time, to compare what changed. */
function content(roster: Roster): Omit<Roster, 'generated_at'> {
  const { generated_at: _at, ...rest } = roster;
  return rest;
}

/** `roster` with one field of one learner changed: what the roster of record should be after an edit. */
function withField(roster: Roster, handle: string, field: string, value: unknown): Omit<Roster, 'generated_at'> {
  return content({ ...roster, learners: roster.learners.map((l) => (l.github_handle === handle ? { ...l, [field]: value } : l)) });
}

/** An outside commit to the roster of record: one learner's field changed, as another facilitator or the provisioning job would. */
function commitOutside(companion: OperationsCompanion, handle: string, field: string, value: unknown): void {
  const record = companion.admin!.record();
  const changed = { ...record, learners: record.learners.map((l) => (l.github_handle === handle ? { ...l, [field]: value } : l)) };
  companion.admin!.sim.state.commitFile(ADMIN_REPO, 'roster.json', `${JSON.stringify(changed, null, 2)}\n`, { message: 'another writer' });
}

describe('notes in GitHub mode', () => {
  test('are recorded here, then reach the roster of record with only that learner\'s notes changed; line breaks as typed', async () => {
    c = await githubCompanion();
    const before = c.admin!.record();
    const page = await (await c.client.get(ALAN)).text();
    assert.match(page, /<label class="label" for="notes">Facilitator notes for alan-turing<\/label>/);
    assert.match(page, /<textarea class="textarea" id="notes" name="notes" rows="6" spellcheck="true" aria-describedby="notes-hint">\nPrefers JAWS.\nAsked about Day 2.<\/textarea>/);
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;

    // A browser sends line breaks as CR LF.
    const { confirmHtml, resultHtml } = await operate(c.client, ALAN, { operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: 'Prefers JAWS.\r\nDay 2 released on Tuesday.' });
    const confirm = words(confirmHtml);
    assert.match(confirm, /Replace alan-turing's facilitator notes with the text below\. The notes now Prefers JAWS\. Asked about Day 2\. The notes after you confirm Prefers JAWS\. Day 2 released on Tuesday\./);
    assert.match(confirm, /Only facilitators: notes are never shown on a public page, in the redacted roster\.json or in the CSV download\./);
    assert.match(confirm, /They are committed to the roster of record in the private admin repository Community-Access\/glow-admin/);
    assert.match(resultHtml, /<h1>Save notes for alan-turing: recorded<\/h1>/);
    assert.equal(statusText(resultHtml), 'Recorded. Notes saved for alan-turing. They reach the roster of record in the admin repository at the next sync.');

    await until('the notes reach the roster of record', () => c!.admin!.record().learners.find((l) => l.github_handle === 'alan-turing')!.notes !== before.learners.find((l) => l.github_handle === 'alan-turing')!.notes);
    assert.deepEqual(content(c.admin!.record()), withField(before, 'alan-turing', 'notes', 'Prefers JAWS.\nDay 2 released on Tuesday.'));
    const audit = c.log.audit();
    assert.deepEqual([audit[0]!.operation, audit[0]!.github_handle, audit[0]!.outcome], ['notes', 'alan-turing', 'recorded']);
    assert.ok(!c.log.text().includes('Day 2 released on Tuesday'), 'notes never reach the log');
  });

  test('changed by someone else since the page was opened: not saved, and the result shows what was typed and the notes now; the roster of record keeps theirs', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get(ALAN)).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    commitOutside(c, 'alan-turing', 'notes', 'Moved to the pilot cohort.');
    await until('the working copy follows', async () => /Moved to the pilot cohort\./.test(await (await c!.client.get(ALAN)).text()));
    const record = c.admin!.record();

    const csrf_token = csrfFrom(page);
    const run = await c.client.post('/operations/run', { csrf_token, operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: 'My own note.', back: ALAN });
    assert.equal(run.status, 303);
    const resultHtml = await (await c.client.get(run.headers.get('location')!)).text();
    assert.match(resultHtml, /<h1>Save notes for alan-turing: not done: changed by someone else<\/h1>/);
    assert.match(statusText(resultHtml), /^Not done: changed by someone else\. Not saved: someone else changed alan-turing's notes since you opened the page\./);
    assert.match(words(resultHtml), /What you typed, not saved My own note\. The notes now Moved to the pilot cohort\./);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(content(c.admin!.record()), content(record));
    assert.equal(c.log.audit()[0]!.outcome, 'conflict');
  });

  test('changed by someone else in the roster of record after they were saved here, before the sync committed them: not overwritten, and the pages say so', async () => {
    c = await githubCompanion();
    // Just before the sync's commit, another writer changes Alan's notes in the roster of record.
    c.admin!.sim.faults.concurrentWriter({
      repo: ADMIN_REPO,
      path: 'roster.json',
      when: 'before-put',
      transform: (text) => {
        const roster = JSON.parse(text) as Roster;
        return `${JSON.stringify({ ...roster, learners: roster.learners.map((l) => (l.github_handle === 'alan-turing' ? { ...l, notes: 'Their note.' } : l)) }, null, 2)}\n`;
      },
    });
    const page = await (await c.client.get(ALAN)).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    const { resultHtml } = await operate(c.client, ALAN, { operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: 'Mine.' });
    assert.match(statusText(resultHtml), /^Recorded\./);
    await until('the learner page reports the change that was not made', async () => /A change was not made:/.test(await (await c!.client.get(ALAN)).text()), 15_000);
    const after = words(await (await c.client.get(ALAN)).text());
    assert.match(after, /A change was not made: Someone else changed the notes of alan-turing in the roster of record before this change reached it, so it was not made\./);
    assert.match(words(await (await c.client.get('/dashboard')).text()), /Facilitators' changes not made alan-turing \(spring-2026\), .*Someone else changed the notes of alan-turing/);
    assert.equal(c.admin!.record().learners.find((l) => l.github_handle === 'alan-turing')!.notes, 'Their note.');
  });

  test('too long: the learner page comes back with the error summary and the notes as typed, and nothing is saved', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get(ALAN)).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    const long = `${'é'.repeat(2000)}!`;
    const response = await c.client.post('/operations/confirm', { csrf_token: csrfFrom(page), operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: long, back: ALAN });
    assert.equal(response.status, 400);
    const html = await response.text();
    assert.match(html, /<title>Error: Learner: alan-turing - GLOW Companion<\/title>/);
    assert.match(html, /<li><a href="#notes">Notes must be 2000 characters or fewer; these are 2001 characters<\/a><\/li>/);
    assert.match(html, /<p class="error-message" id="notes-error">Error: Notes must be 2000 characters or fewer; these are 2001 characters<\/p>/);
    assert.match(html, /aria-describedby="notes-hint notes-error" aria-invalid="true">\né{2000}!<\/textarea>/);
    assert.deepEqual(c.log.audit(), []);
  });
});

describe('a broken Learning Room', () => {
  test('a provisioned learner is marked failed in the roster of record (that field only), then the sync starts provisioning', async () => {
    c = await githubCompanion();
    const before = c.admin!.record();
    const page = await (await c.client.get(ADA)).text();
    assert.match(page, />Provision again: the Learning Room is broken<\/button>/);
    assert.match(page, /<input type="hidden" name="from" value="provisioned">/);
    const { confirmHtml, resultHtml } = await operate(c.client, ADA, { operation: 'provision', learner: ADA_KEY, from: 'provisioned' });
    assert.match(words(confirmHtml), /Set ada-lovelace's provisioning state from Provisioned to Failed \(their Learning Room is broken\), then start the provisioning workflow/);
    assert.match(words(confirmHtml), /A change of provisioning state is committed to the private admin repository Community-Access\/glow-admin/);
    assert.match(statusText(resultHtml), /^Recorded\. ada-lovelace's provisioning state is now Failed here\. It reaches the roster of record at the next sync/);
    await until('the roster of record has it', () => c!.admin!.record().learners.find((l) => l.github_handle === 'ada-lovelace')!.provision_state === 'failed');
    assert.deepEqual(content(c.admin!.record()), withField(before, 'ada-lovelace', 'provision_state', 'failed'));
    const workshop = c.admin!.sim.state.repo(`${WORKSHOP.owner}/${WORKSHOP.name}`);
    await until('the provisioning workflow is started', () => workshop.dispatches.length === 1);
    assert.equal(c.admin!.sim.state.repo(ROOM).invitations.length, 0);
  });

  test('provisioned when the page was shown, healed by the provisioning job since: nothing is changed or started, and the result says what it is now', async () => {
    c = await githubCompanion();
    const page = await (await c.client.get(ADA)).text();
    commitOutside(c, 'ada-lovelace', 'provision_state', 'healed');
    await until('the working copy follows', async () => /Provisioning state Healed/.test(words(await (await c!.client.get(ADA)).text())));
    const record = c.admin!.record();
    const run = await c.client.post('/operations/run', { csrf_token: csrfFrom(page), operation: 'provision', learner: ADA_KEY, from: 'provisioned', back: ADA });
    const resultHtml = await (await c.client.get(run.headers.get('location')!)).text();
    assert.match(statusText(resultHtml), /^Not done: changed by someone else\. Nothing was changed or started: ada-lovelace's provisioning state changed since the page was shown, and is now healed\./);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(content(c.admin!.record()), content(record));
    assert.equal(c.admin!.sim.state.repo(`${WORKSHOP.owner}/${WORKSHOP.name}`).dispatches.length, 0);
  });
});

describe('local mode', () => {
  test('notes are saved in the roster file at once, changing nothing else', async () => {
    c = await localCompanion();
    const before = parseRoster(await readFile(c.t.rosterPath, 'utf8'));
    const page = await (await c.client.get(ALAN)).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    const { confirmHtml, resultHtml } = await operate(c.client, ALAN, { operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: 'Local note.' });
    assert.match(words(confirmHtml), /They are kept in the roster file on this server\./);
    assert.equal(statusText(resultHtml), 'Done. Notes saved for alan-turing in the roster file.');
    assert.deepEqual(content(parseRoster(await readFile(c.t.rosterPath, 'utf8'))), withField(before, 'alan-turing', 'notes', 'Local note.'));
  });

  test('a roster file that stays busy: the notes are not saved, the result says so in words, and the details go only to the log', async () => {
    const busy = Object.assign(new Error('lock held by another process at /secret/path/roster.json.lock'), { code: 'ELOCKED' });
    c = await localCompanion(undefined, { storeOptions: { lock: async () => Promise.reject(busy) } });
    const page = await (await c.client.get(ALAN)).text();
    const seen = /name="notes_seen" value="([^"]+)"/.exec(page)![1]!;
    const { resultHtml } = await operate(c.client, ALAN, { operation: 'notes', learner: ALAN_KEY, notes_seen: seen, notes: 'Not saved.' });
    assert.equal(statusText(resultHtml), 'Failed. The roster file is busy (another write held it too long), so nothing was saved. Try again in a minute.');
    assert.doesNotMatch(resultHtml, /secret\/path/);
    assert.match(c.log.text(), /facilitator operation: an unexpected failure/);
    assert.equal(c.log.audit()[0]!.outcome, 'failed');
  });

  test('GitHub operations are not offered, and the learner page and the dashboard say why; one sent anyway changes nothing', async () => {
    c = await localCompanion();
    const page = await (await c.client.get(ADA)).text();
    assert.doesNotMatch(page, /name="operation" value="(?!notes)/);
    const reason = /This companion is in local mode: it is not connected to GitHub, so it cannot add labels, send invitations or start provisioning\. Those operations need GitHub mode \(COMPANION_GITHUB_REPO\); notes can still be edited here\./;
    assert.match(words(page), reason);
    const dashboard = await (await c.client.get('/dashboard')).text();
    assert.match(words(dashboard), reason);
    assert.doesNotMatch(dashboard, /type="checkbox" form="bulk-operation"/);
    assert.doesNotMatch(dashboard, /provision-cohort/);

    const run = await c.client.post('/operations/run', { csrf_token: csrfFrom(page), operation: 'acked', learner: ADA_KEY, back: ADA });
    const resultHtml = await (await c.client.get(run.headers.get('location')!)).text();
    assert.match(statusText(resultHtml), /^Not done\. This companion is in local mode/);
  });
});
