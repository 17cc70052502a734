/**
 * The outbox file (GitHub mode): lines cut short by an interrupted append,
 * lines that are not entries, and the reads that leave committed entries out.
 */
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appendOutbox, cutShortPath, dropFromOutbox, newEntryId, outboxPath, readOutbox, type OutboxEntry } from '../src/roster/outbox.js';
import { RosterStore, RosterUnavailableError, type RosterFs } from '../src/roster/store.js';
import { tempDir } from './helpers/app.js';
import { recordingLog, rosterText } from './helpers/github.js';

const fs = fsp as unknown as RosterFs;
let dir = '';
let cleanup: () => Promise<void> = async () => undefined;
let files = 0;
before(async () => ({ dir, cleanup } = await tempDir('glow-outbox-')));
after(() => cleanup());
const freshFile = () => path.join(dir, `outbox-${files++}.jsonl`);

const AT = '2026-03-02T15:00:00.000Z';
function registration(handle: string, at = AT): OutboxEntry {
  return { id: newEntryId(), at, registration: { github_handle: handle, cohort_id: 'spring-2026', path: 'day1-day2' } };
}
const handlesOf = (entries: readonly OutboxEntry[]) => entries.map((e) => ('registration' in e ? e.registration.github_handle : e.edit.github_handle));

describe('outbox: interrupted appends', () => {
  test('a line cut short, then later appends: the cut line is left out and reported, the rest are read, and a rewrite moves it aside as it was', async () => {
    const file = freshFile();
    const [ada, grace, alan] = [registration('ada'), registration('grace'), registration('alan')];
    await appendOutbox(fs, file, [ada]);
    // The append of grace's registration was cut short (a crash, a full disk) before it was confirmed.
    const line = JSON.stringify(grace);
    await fsp.appendFile(file, `\n${line.slice(0, line.length >> 1)}`);
    await appendOutbox(fs, file, [alan]);
    const torn: number[] = [];
    assert.deepEqual(handlesOf(await readOutbox(fs, file, { torn: (n) => torn.push(n) })), ['ada', 'alan']);
    assert.deepEqual(torn, [4]);

    const dropped = await dropFromOutbox(fs, file, new Set([ada.id]));
    assert.deepEqual([handlesOf(dropped.remaining), dropped.cutShort, dropped.rewritten], [['alan'], 1, true]);
    const again: number[] = [];
    assert.deepEqual(handlesOf(await readOutbox(fs, file, { torn: (n) => again.push(n) })), ['alan']);
    assert.deepEqual(again, [], 'the rewrite left the cut line out');
    assert.equal(await fsp.readFile(cutShortPath(file), 'utf8'), `${line.slice(0, line.length >> 1)}\n`, 'the cut line is kept aside, as it was');
  });

  test('a line cut short with nothing to drop is moved aside once; the outbox is not rewritten when there is nothing to leave out', async () => {
    const file = freshFile();
    const line = JSON.stringify(registration('grace'));
    await fsp.writeFile(file, `\n${line.slice(0, 20)}`);
    const first = await dropFromOutbox(fs, file, new Set());
    assert.deepEqual([first.remaining, first.cutShort, first.rewritten], [[], 1, true]);
    const second = await dropFromOutbox(fs, file, new Set());
    assert.deepEqual([second.remaining, second.cutShort, second.rewritten], [[], 0, false]);
    assert.equal(await fsp.readFile(cutShortPath(file), 'utf8'), `${line.slice(0, 20)}\n`);
  });

  test('a line that is JSON but not an entry, before the last, is an error, not skipped', async () => {
    const file = freshFile();
    await appendOutbox(fs, file, [registration('ada')]);
    await fsp.appendFile(file, '\n{"id":"x","note":"not an entry"}\n');
    await appendOutbox(fs, file, [registration('alan')]);
    await assert.rejects(readOutbox(fs, file), /unreadable entry on line 4/);
  });

  test('every entry\'s time is checked, also after one that shares a write\'s time', async () => {
    const file = freshFile();
    // 30 February is not a day: toISOString would write another date.
    await appendOutbox(fs, file, [registration('ada'), registration('grace', '2026-02-30T15:00:00.000Z'), registration('alan')]);
    await assert.rejects(readOutbox(fs, file), /unreadable entry on line 3/);
  });

  test('committed entries are left out of a rewrite; the rest, appended meanwhile or written another way, stay', async () => {
    const file = freshFile();
    const entries = [registration('ada'), registration('grace'), registration('alan')];
    await appendOutbox(fs, file, entries);
    // A line written with its fields in another order is read in full, and still dropped by id.
    const hedy = registration('hedy');
    await fsp.appendFile(file, `\n${JSON.stringify({ at: hedy.at, registration: 'registration' in hedy ? hedy.registration : null, id: hedy.id })}\n`);
    const katherine = registration('katherine');
    await appendOutbox(fs, file, [katherine]);
    assert.deepEqual(handlesOf(await readOutbox(fs, file, { skip: new Set([entries[1]!.id]) })), ['ada', 'alan', 'hedy', 'katherine']);
    assert.deepEqual(handlesOf((await dropFromOutbox(fs, file, new Set([entries[0]!.id, entries[2]!.id, hedy.id]))).remaining), ['grace', 'katherine']);
    assert.deepEqual(handlesOf(await readOutbox(fs, file)), ['grace', 'katherine']);
  });
});

describe('outbox: through the store', () => {
  test('a registration whose append the disk cut short is refused; later ones are recorded, and what waits is read without it, with one warning', async () => {
    const rosterPath = path.join(dir, 'roster.json');
    await fsp.writeFile(rosterPath, rosterText());
    let full = true;
    const real = fs;
    const faulty: RosterFs = {
      ...real,
      open: async (file, flags, mode) => {
        const handle = await real.open(file, flags, mode);
        if (file !== outboxPath(rosterPath) || flags !== 'a') return handle;
        return {
          ...handle,
          // A full disk takes the line break and half of the entry.
          writev: async (buffers) => {
            if (!full) return handle.writev(buffers);
            const [first, second] = buffers as [Buffer, Buffer];
            return handle.writev([first, second.subarray(0, second.length >> 1)]);
          },
          chmod: (m) => handle.chmod(m),
          sync: () => handle.sync(),
          close: () => handle.close(),
        };
      },
    };
    const log = recordingLog();
    const store = new RosterStore({ path: rosterPath, fs: faulty, outbox: true, log: log.log });
    try {
      await store.pending();
      await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), (error: unknown) => error instanceof RosterUnavailableError);
      full = false;
      await store.register({ github_handle: 'alan', cohort_id: 'spring-2026', path: 'day1-day2' });
      assert.deepEqual(handlesOf(await store.pending()), ['alan']);
      assert.equal(log.lines.filter((l) => l.level === 'warn' && /cut short by an interrupted write/.test(l.msg)).length, 1);
      // Moved aside once: the next look neither warns again nor loses alan.
      assert.deepEqual(handlesOf(await store.pending()), ['alan']);
      assert.equal(log.lines.filter((l) => l.level === 'warn' && /cut short by an interrupted write/.test(l.msg)).length, 1);
      const cut = await fsp.readFile(cutShortPath(outboxPath(rosterPath)), 'utf8');
      assert.match(cut, /^\{"id":"[^"]+","at":"[^"]+","/);
      assert.doesNotMatch(cut, /alan/);
    } finally {
      await store.close();
    }
  });
});
