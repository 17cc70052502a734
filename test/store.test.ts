import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readFile, readdir, rm, stat, writeFile, mkdir, utimes } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseRoster, serializeRoster, type Roster } from '../src/roster/contract.js';
import { RosterStore, RosterUnavailableError, type RosterFs, type RosterFileHandle } from '../src/roster/store.js';
import { outboxPath } from '../src/roster/outbox.js';
import { properLock, type LockFn } from '../src/roster/lock.js';
import { tempDir } from './helpers/app.js';
import { provisionedLearner } from './helpers/fixtures.js';

const WORKER = fileURLToPath(new URL('./helpers/register-worker.ts', import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
let counter = 0;
before(async () => ({ dir, cleanup } = await tempDir('glow-store-')));
after(async () => cleanup());

function freshPath(): string {
  counter += 1;
  return path.join(dir, `case-${counter}`, 'roster.json');
}

const seeded: Roster = {
  version: 1,
  generated_at: '2026-01-15T09:00:00.000Z',
  cohorts: [{ cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z', capacity: 40 }],
  learners: [provisionedLearner({ notes: 'facilitator note', enrollment_issue_number: 12 })],
  sync_state: { cursor: 'abc' },
};

async function seed(rosterPath: string, roster: Roster = seeded): Promise<string> {
  await mkdir(path.dirname(rosterPath), { recursive: true });
  const text = serializeRoster(roster, new Date('2026-01-15T09:00:00.000Z'));
  await writeFile(rosterPath, text);
  return text;
}

async function readRoster(rosterPath: string): Promise<Roster> {
  return parseRoster(await readFile(rosterPath, 'utf8'));
}

async function leftovers(rosterPath: string): Promise<string[]> {
  return (await readdir(path.dirname(rosterPath))).filter((name) => name.endsWith('.tmp') || name.endsWith('.lock'));
}

/** The real file system, counting the writes that reach the roster (one rename each). */
function countingWrites(): { fs: RosterFs; readonly writes: number } {
  let writes = 0;
  const fs: RosterFs = { ...(fsp as unknown as RosterFs), rename: async (from, to) => { writes += 1; return fsp.rename(from, to); } };
  return { fs, get writes() { return writes; } };
}

/** A register-worker process, killed when the test ends if it is still running (a failed test leaves none behind). */
function runWorker(t: TestContext, rosterPath: string, prefix: string, count: number): ReturnType<typeof spawn> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, rosterPath, prefix, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const closed = new Promise((resolve) => child.once('close', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  });
  return child;
}

function outputOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[] }> {
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, lines: text.split('\n').filter(Boolean) }));
  });
}

describe('roster store: reading', () => {
  test('a missing file reads as an empty roster and is not created by reading', async () => {
    const rosterPath = freshPath();
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual((await store.read()).learners, []);
    await assert.rejects(stat(rosterPath), { code: 'ENOENT' });
  });

  test('notices when another program replaces the file', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.equal((await store.read()).learners.length, 1);
    const changed: Roster = { ...seeded, learners: [{ ...seeded.learners[0]!, status: 'day1-complete' }] };
    await seed(rosterPath, changed);
    assert.equal((await store.read()).learners[0]!.status, 'day1-complete');
  });

  test('returns the cached roster while the file is unchanged', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.equal(await store.read(), await store.read());
  });

  for (const outbox of [false, true]) {
    test(`a read made while this store replaces the file waits for the new file's identity rather than reading and parsing it again (${outbox ? 'GitHub' : 'local'} mode)`, async () => {
      const rosterPath = freshPath();
      await seed(rosterPath);
      let reads = 0;
      const during: Array<Promise<Roster>> = [];
      let store: RosterStore | null = null;
      const fs: RosterFs = {
        ...(fsp as unknown as RosterFs),
        readFile: async (file, encoding) => {
          if (file === rosterPath) reads += 1;
          return fsp.readFile(file, encoding);
        },
        rename: async (from, to) => {
          await fsp.rename(from, to);
          // A page asks for the roster just after the new file took the old one's place.
          if (to === rosterPath) during.push(store!.read());
        },
      };
      store = new RosterStore({ path: rosterPath, fs, outbox });
      await store.read();
      assert.equal(reads, 1);
      await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
      assert.equal(during.length, 1, 'a read was made during the replacement');
      const seen = await during[0]!;
      assert.deepEqual(seen.learners.map((l) => l.github_handle).sort(), ['grace', seeded.learners[0]!.github_handle].sort());
      assert.equal(reads, 1, 'the file this store wrote was not read back');
      assert.equal(seen, await store.read());
      // Someone else's change is still noticed.
      await seed(rosterPath);
      assert.equal((await store.read()).learners.length, 1);
      assert.equal(reads, 2);
    });
  }

  test('a corrupt file is reported as unreadable', async () => {
    const rosterPath = freshPath();
    await mkdir(path.dirname(rosterPath), { recursive: true });
    await writeFile(rosterPath, '{"version": 1, "learners": [');
    const store = new RosterStore({ path: rosterPath });
    await assert.rejects(store.read(), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'unreadable');
  });
});

describe('roster store: registering', () => {
  test('the first registration creates the file and its folder', async () => {
    const rosterPath = freshPath();
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual(await store.register({ github_handle: 'grace', cohort_id: 'c1', path: 'day1-day2' }), { outcome: 'created' });
    const roster = await readRoster(rosterPath);
    assert.equal(roster.learners[0]!.github_handle, 'grace');
    assert.deepEqual(await leftovers(rosterPath), []);
  });

  test('a new roster file is for its owner only; a write keeps the permission bits the file has', async () => {
    const rosterPath = freshPath();
    const store = new RosterStore({ path: rosterPath });
    await store.register({ github_handle: 'grace', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal((await stat(rosterPath)).mode & 0o777, 0o600);
    // Another tool (or the operator) shares the file with its group.
    await chmod(rosterPath, 0o640);
    await store.register({ github_handle: 'ada', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal((await stat(rosterPath)).mode & 0o777, 0o640);
    await chmod(rosterPath, 0o644);
    await store.register({ github_handle: 'alan', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal((await stat(rosterPath)).mode & 0o777, 0o644);
    assert.equal((await readRoster(rosterPath)).learners.length, 3);
  });

  test('a folder removed between writes is made again, and the registration is not refused', async () => {
    const rosterPath = freshPath();
    const store = new RosterStore({ path: rosterPath });
    await store.register({ github_handle: 'grace', cohort_id: 'c1', path: 'day1-day2' });
    await rm(path.dirname(rosterPath), { recursive: true });
    assert.deepEqual(await store.register({ github_handle: 'ada', cohort_id: 'c1', path: 'day1-day2' }), { outcome: 'created' });
    assert.deepEqual((await readRoster(rosterPath)).learners.map((l) => l.github_handle), ['ada']);
  });

  test('keeps unknown fields, notes and provisioning data through a write', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day2-only' });
    const roster = await readRoster(rosterPath);
    assert.deepEqual(roster.learners.find((l) => l.github_handle === 'ada-lovelace'), seeded.learners[0]);
    assert.deepEqual(roster.cohorts, seeded.cohorts);
    assert.deepEqual(roster.sync_state, { cursor: 'abc' });
  });

  test('registering an existing learner again writes nothing', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual(await store.register({ github_handle: 'Ada-Lovelace', cohort_id: 'spring-2026', path: 'day1-day2' }), { outcome: 'unchanged' });
    assert.equal(await readFile(rosterPath, 'utf8'), text);
  });

  test('a cohort that is not listed is refused and nothing is written', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual(await store.register({ github_handle: 'grace', cohort_id: 'autumn-2030', path: 'day1-day2' }), { outcome: 'unknown-cohort' });
    assert.equal(await readFile(rosterPath, 'utf8'), text);
  });

  test('re-reads the file under the lock, keeping a change another program just made', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    await store.read();
    const changed: Roster = { ...seeded, learners: [{ ...seeded.learners[0]!, notes: 'written by a facilitator a moment ago' }] };
    await seed(rosterPath, changed);
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    const roster = await readRoster(rosterPath);
    assert.equal(roster.learners.find((l) => l.github_handle === 'ada-lovelace')!.notes, 'written by a facilitator a moment ago');
  });

  for (const [what, content] of [
    ['corrupt', '{"version": 1, "learners": [ {"github_handle": '],
    ['foreign', '{"name": "some other tool", "items": [1, 2, 3]}\n'],
    ['future-version', '{"version": 2, "learners": []}\n'],
  ] as const) {
    test(`a ${what} file is left byte for byte untouched and the registration is refused`, async () => {
      const rosterPath = freshPath();
      await mkdir(path.dirname(rosterPath), { recursive: true });
      await writeFile(rosterPath, content);
      const store = new RosterStore({ path: rosterPath });
      await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'unreadable');
      assert.equal(await readFile(rosterPath, 'utf8'), content);
      assert.deepEqual(await leftovers(rosterPath), []);
    });
  }

  test('a roster of thousands of learners (more chunks than one writev call takes) is written whole', async () => {
    const rosterPath = freshPath();
    const bulk = Array.from({ length: 3000 }, (_, i) => provisionedLearner({ github_handle: `bulk-${i}`, notes: `note ${i}` }));
    const big: Roster = { ...seeded, learners: [...seeded.learners, ...bulk] };
    await seed(rosterPath, big);
    const store = new RosterStore({ path: rosterPath, now: () => new Date('2026-02-01T00:00:00.000Z') });
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    const text = await readFile(rosterPath, 'utf8');
    const roster = parseRoster(text);
    assert.equal(roster.learners.length, 3002);
    assert.equal(text, serializeRoster(roster, new Date('2026-02-01T00:00:00.000Z')));
  });

  test('many registrations at once in one process are all kept, in fewer writes than registrations', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const counting = countingWrites();
    const store = new RosterStore({ path: rosterPath, fs: counting.fs });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.register({ github_handle: `learner-${i}`, cohort_id: 'spring-2026', path: i % 2 ? 'day2-only' : 'day1-day2' })),
    );
    assert.ok(results.every((r) => r.outcome === 'created'));
    const roster = await readRoster(rosterPath);
    assert.equal(roster.learners.length, 201);
    assert.ok(counting.writes < 200, `expected batched writes, got ${counting.writes}`);
    assert.deepEqual(await leftovers(rosterPath), []);
  });

  test('registrations that arrive while the lock is being taken join that write', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const counting = countingWrites();
    // The lock is slow to come: another process holds it for a moment.
    let lockAsked!: () => void;
    const asked = new Promise<void>((resolve) => (lockAsked = resolve));
    const slowLock: LockFn = async () => {
      lockAsked();
      await new Promise((resolve) => setTimeout(resolve, 50));
      return async () => {};
    };
    const store = new RosterStore({ path: rosterPath, fs: counting.fs, lock: slowLock });
    const first = store.register({ github_handle: 'first', cohort_id: 'spring-2026', path: 'day1-day2' });
    await asked;
    const later = Array.from({ length: 5 }, (_, i) => store.register({ github_handle: `later-${i}`, cohort_id: 'spring-2026', path: 'day1-day2' }));
    await Promise.all([first, ...later]);
    assert.equal(counting.writes, 1);
    assert.equal((await readRoster(rosterPath)).learners.length, 7);
  });

  test('several processes registering into one file at once lose nothing', async (t) => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const children = ['p1', 'p2', 'p3'].map((prefix) => outputOf(runWorker(t, rosterPath, prefix, 40)));
    const outputs = await Promise.all(children);
    for (const output of outputs) {
      assert.equal(output.code, 0);
      assert.equal(output.lines.length, 40);
    }
    const handles = new Set((await readRoster(rosterPath)).learners.map((l) => l.github_handle));
    for (const prefix of ['p1', 'p2', 'p3']) for (let i = 0; i < 40; i++) assert.ok(handles.has(`${prefix}-${i}`), `${prefix}-${i} lost`);
    assert.ok(handles.has('ada-lovelace'));
    assert.deepEqual(await leftovers(rosterPath), []);
  });

  test('a process killed with SIGKILL in the middle of writes leaves a file that parses and keeps what it confirmed', async (t) => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    for (let round = 0; round < 3; round++) {
      const child = runWorker(t, rosterPath, `k${round}`, 0);
      const output = outputOf(child);
      // Let it write for a while, then kill it wherever it is.
      await new Promise((resolve) => setTimeout(resolve, 600 + round * 170));
      child.kill('SIGKILL');
      const { signal, lines } = await output;
      assert.equal(signal, 'SIGKILL');
      const roster = await readRoster(rosterPath);
      const handles = new Set(roster.learners.map((l) => l.github_handle));
      for (const line of lines) assert.ok(handles.has(line.replace('saved ', '')), `${line} was confirmed but is missing`);
    }
    // The next writer takes over the dead writer's lock and clears its temporary files.
    const store = new RosterStore({ path: rosterPath, lockStaleMs: 2000 });
    await store.register({ github_handle: 'after-the-crash', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.ok((await readRoster(rosterPath)).learners.some((l) => l.github_handle === 'after-the-crash'));
    assert.deepEqual(await leftovers(rosterPath), []);
  });
});

describe('roster store: a facilitator\'s edit', () => {
  const ada = { github_handle: 'ada-lovelace', cohort_id: 'spring-2026' } as const;

  test('changes only that learner\'s field in the file, keeping every other byte a rewrite keeps', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath, now: () => new Date('2026-03-02T10:00:00.000Z') });
    // The handle in another case is the same learner.
    const result = await store.edit({ github_handle: 'Ada-Lovelace', cohort_id: 'spring-2026', field: 'notes', from: 'facilitator note', to: 'Uses NVDA with Firefox\nprefers large print' });
    assert.deepEqual(result, { outcome: 'edited', current: 'Uses NVDA with Firefox\nprefers large print' });
    const after = parseRoster(await readFile(rosterPath, 'utf8'));
    assert.deepEqual(after.learners, [{ ...seeded.learners[0], notes: 'Uses NVDA with Firefox\nprefers large print' }]);
    assert.deepEqual(after.cohorts, seeded.cohorts);
    assert.deepEqual(after.sync_state, seeded.sync_state);
  });

  test('a field someone changed since the page was read is a conflict: the file is left byte for byte, and the value now is returned', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual(await store.edit({ ...ada, field: 'notes', from: 'what the page showed', to: 'mine' }), { outcome: 'conflict', current: 'facilitator note' });
    assert.deepEqual(await store.edit({ ...ada, field: 'provision_state', from: 'failed', to: 'pending' }), { outcome: 'conflict', current: 'provisioned' });
    assert.equal(await readFile(rosterPath, 'utf8'), text);
  });

  test('a learner who is not there, and a value already there, change nothing', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const store = new RosterStore({ path: rosterPath });
    assert.deepEqual(await store.edit({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', field: 'notes', from: '', to: 'x' }), { outcome: 'missing', current: null });
    assert.deepEqual(await store.edit({ ...ada, cohort_id: 'autumn-2026', field: 'notes', from: '', to: 'x' }), { outcome: 'missing', current: null }, 'the cohort is part of who the learner is');
    assert.deepEqual(await store.edit({ ...ada, field: 'provision_state', from: 'failed', to: 'provisioned' }), { outcome: 'unchanged', current: 'provisioned' });
    assert.equal(await readFile(rosterPath, 'utf8'), text);
  });

  test('a record with no notes or provision state is edited from the contract\'s defaults', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath, { version: 1, learners: [{ github_handle: 'ada-lovelace', cohort_id: 'spring-2026' }] });
    const store = new RosterStore({ path: rosterPath });
    assert.equal((await store.edit({ ...ada, field: 'notes', from: '', to: 'first note' })).outcome, 'edited');
    assert.equal((await store.edit({ ...ada, field: 'provision_state', from: 'pending', to: 'failed' })).outcome, 'edited');
    assert.deepEqual(parseRoster(await readFile(rosterPath, 'utf8')).learners, [{ github_handle: 'ada-lovelace', cohort_id: 'spring-2026', notes: 'first note', provision_state: 'failed' }]);
  });

  test('in GitHub mode an edit made is in the outbox before it is answered, survives a new store, and one refused is not', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    let recorded = 0;
    const store = new RosterStore({ path: rosterPath, outbox: true, onRecorded: () => (recorded += 1) });
    await store.edit({ ...ada, field: 'notes', from: 'facilitator note', to: 'second note' });
    await store.edit({ ...ada, field: 'notes', from: 'stale', to: 'third note' });
    await store.register({ github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day2-only' });
    assert.equal(recorded, 2);
    const reopened = new RosterStore({ path: rosterPath, outbox: true });
    const pending = await reopened.pending();
    assert.deepEqual(
      pending.map((e) => ('edit' in e ? e.edit : e.registration)),
      [
        { ...ada, field: 'notes', from: 'facilitator note', to: 'second note' },
        { github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day2-only' },
      ],
    );
    // The working copy shows the edit at once.
    assert.equal((await reopened.read()).learners.find((l) => l.github_handle === 'ada-lovelace')?.notes, 'second note');
  });
});

describe('roster store: faults', () => {
  function failing(step: 'write' | 'short' | 'sync' | 'rename' | 'mkdir' | 'open', code: string): { fs: RosterFs; heal: () => void } {
    let broken = true;
    const fault = () => Object.assign(new Error(`${code}: injected`), { code });
    const wrap = (handle: RosterFileHandle): RosterFileHandle => ({
      writev: async (buffers) => {
        if (broken && step === 'write') throw fault();
        if (broken && step === 'short') {
          // The disk took only part of the file.
          const { bytesWritten } = await handle.writev(buffers.slice(0, 1));
          return { bytesWritten };
        }
        return handle.writev(buffers);
      },
      chmod: (mode) => handle.chmod(mode),
      sync: async () => {
        if (broken && step === 'sync') throw fault();
        return handle.sync();
      },
      close: () => handle.close(),
    });
    const real = fsp as unknown as RosterFs;
    const fs: RosterFs = {
      ...real,
      open: async (file, flags, mode) => {
        if (broken && step === 'open' && flags === 'wx') throw fault();
        return wrap(await real.open(file, flags, mode));
      },
      rename: async (from, to) => {
        if (broken && step === 'rename') throw fault();
        return real.rename(from, to);
      },
      mkdir: async (target, options) => {
        if (broken && step === 'mkdir') throw fault();
        return real.mkdir(target, options);
      },
    };
    return { fs, heal: () => (broken = false) };
  }

  for (const [step, code] of [
    ['write', 'ENOSPC'],
    ['short', 'a short write'],
    ['sync', 'ENOSPC'],
    ['rename', 'ENOSPC'],
    ['open', 'EROFS'],
    ['mkdir', 'EACCES'],
  ] as const) {
    test(`${code} on ${step} keeps the old roster intact, leaves no temporary file, and works again once healed`, async () => {
      const rosterPath = freshPath();
      const text = await seed(rosterPath);
      const { fs, heal } = failing(step, code);
      const store = new RosterStore({ path: rosterPath, fs });
      await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'unwritable');
      assert.equal(await readFile(rosterPath, 'utf8'), text);
      assert.deepEqual(await leftovers(rosterPath), []);
      heal();
      assert.deepEqual(await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), { outcome: 'created' });
      assert.equal((await readRoster(rosterPath)).learners.length, 2);
    });
  }

  test('what a registration flushes before it is answered: in local mode the new file and the folder (the rename); in GitHub mode the outbox and the new file, the outbox standing for the rename, and the folder once for the outbox\'s own name', async () => {
    for (const outbox of [false, true]) {
      const rosterPath = freshPath();
      await seed(rosterPath);
      const real = fsp as unknown as RosterFs;
      const flushed: string[] = [];
      const name = (file: string) => (file === path.dirname(rosterPath) ? 'folder' : file === outboxPath(rosterPath) ? 'outbox' : path.basename(file).endsWith('.tmp') ? 'new file' : path.basename(file));
      const fs: RosterFs = {
        ...real,
        open: async (file, flags, mode) => {
          const handle = await real.open(file, flags, mode);
          return { ...handle, writev: (b) => handle.writev(b), chmod: (m) => handle.chmod(m), close: () => handle.close(), sync: async () => { flushed.push(name(file)); return handle.sync(); } };
        },
      };
      const store = new RosterStore({ path: rosterPath, fs, outbox });
      await store.pending();
      flushed.length = 0;
      await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
      // The first registration in GitHub mode makes the outbox: its name is flushed with the folder.
      assert.deepEqual(flushed.sort(), outbox ? ['folder', 'new file', 'outbox'] : ['folder', 'new file'], outbox ? 'GitHub mode, first' : 'local mode, first');
      flushed.length = 0;
      await store.register({ github_handle: 'alan', cohort_id: 'spring-2026', path: 'day1-day2' });
      assert.deepEqual(flushed.sort(), outbox ? ['new file', 'outbox'] : ['folder', 'new file'], outbox ? 'GitHub mode, next' : 'local mode, next');
      if (outbox) {
        // Dropping committed entries replaces the outbox: the folder is flushed for its new name, then not again.
        flushed.length = 0;
        await store.adoptRecord(await store.read(), new Set((await store.pending()).slice(0, 1).map((e) => e.id)));
        assert.ok(flushed.includes('folder'), `after the outbox was replaced: ${flushed.join(', ')}`);
        flushed.length = 0;
        await store.register({ github_handle: 'hedy', cohort_id: 'spring-2026', path: 'day1-day2' });
        assert.deepEqual(flushed.sort(), ['new file', 'outbox'], 'GitHub mode, after the outbox was replaced');
      }
      await store.close();
    }
  });

  test('in GitHub mode the working copy is replaced only once the outbox has the registration, and not at all when the outbox cannot be written', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const real = fsp as unknown as RosterFs;
    let outboxBroken = true;
    let openGate: () => void = () => undefined;
    let gated = false;
    const gate = () => new Promise<void>((resolve) => (openGate = resolve));
    const fs: RosterFs = {
      ...real,
      open: async (file, flags, mode) => {
        const handle = await real.open(file, flags, mode);
        if (flags !== 'a' || file !== outboxPath(rosterPath)) return handle;
        return {
          ...handle,
          writev: async (buffers) => {
            if (outboxBroken) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
            return handle.writev(buffers);
          },
          // The outbox's flush is held open while the working copy is written beside it.
          sync: async () => {
            if (gated) await gate();
            return handle.sync();
          },
          chmod: (m) => handle.chmod(m),
          close: () => handle.close(),
        };
      },
    };
    const store = new RosterStore({ path: rosterPath, fs, outbox: true });
    await store.pending();
    await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'unwritable');
    assert.equal(await readFile(rosterPath, 'utf8'), text, 'a registration the outbox could not take is not in the working copy either');
    assert.deepEqual(await leftovers(rosterPath), []);

    outboxBroken = false;
    gated = true;
    let answered = false;
    const registering = store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }).then((r) => ((answered = true), r));
    // Long enough for the working copy's own write and flush to finish.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(answered, false);
    assert.equal(await readFile(rosterPath, 'utf8'), text, 'the working copy waits for the outbox');
    gated = false;
    openGate();
    assert.deepEqual(await registering, { outcome: 'created' });
    assert.equal((await readRoster(rosterPath)).learners.length, 2);
    assert.deepEqual((await store.pending()).map((e) => ('registration' in e ? e.registration.github_handle : null)), ['grace']);
  });

  test('a lock left by a process that died is taken over after a bounded wait', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    // The dead holder's lock: nobody refreshes it any more.
    await mkdir(`${rosterPath}.lock`);
    const old = new Date(Date.now() - 1000);
    await utimes(`${rosterPath}.lock`, old, old);
    const store = new RosterStore({ path: rosterPath, lockStaleMs: 2000, lockWaitMs: 10_000 });
    const started = Date.now();
    assert.deepEqual(await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), { outcome: 'created' });
    const waited = Date.now() - started;
    assert.ok(waited >= 500, `took the lock after ${waited} ms, before it went stale`);
    assert.deepEqual(await leftovers(rosterPath), []);
  });

  test('a lock held by a live process is waited for, then reported as busy rather than blocking forever', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const holder = new RosterStore({ path: rosterPath });
    const lockfile = (await import('proper-lockfile')).default;
    const release = await lockfile.lock(rosterPath, { realpath: false, lockfilePath: `${rosterPath}.lock`, stale: 2000 });
    try {
      const store = new RosterStore({ path: rosterPath, lockStaleMs: 2000, lockWaitMs: 300 });
      await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'busy');
      assert.equal(await readFile(rosterPath, 'utf8'), text);
    } finally {
      await release();
    }
    await holder.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal((await readRoster(rosterPath)).learners.length, 2);
  });

  test('a lock in a folder that is not there fails at once, not after the whole wait for a busy lock', { timeout: 10_000 }, async () => {
    const rosterPath = freshPath();
    // A minute's wait would run past the test's timeout if the missing folder were waited on like a busy lock.
    const lock = properLock(10_000, 60_000, { info() {}, warn() {}, error() {} });
    await assert.rejects(lock(rosterPath), (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT');
  });

  test('when the lock cannot be had, those already waiting are told it is busy and a later arrival gets its own try', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    let attempts = 0;
    let firstAsked!: () => void;
    const asked = new Promise<void>((resolve) => (firstAsked = resolve));
    const lock: LockFn = async () => {
      attempts += 1;
      if (attempts === 1) {
        firstAsked();
        await new Promise((resolve) => setTimeout(resolve, 30));
        throw Object.assign(new Error('Lock file is already being held'), { code: 'ELOCKED' });
      }
      return async () => {};
    };
    const store = new RosterStore({ path: rosterPath, lock });
    const early = store.register({ github_handle: 'early', cohort_id: 'spring-2026', path: 'day1-day2' });
    await asked;
    const late = store.register({ github_handle: 'late', cohort_id: 'spring-2026', path: 'day1-day2' });
    await assert.rejects(early, (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'busy');
    assert.deepEqual(await late, { outcome: 'created' });
    assert.deepEqual((await readRoster(rosterPath)).learners.map((l) => l.github_handle).sort(), ['ada-lovelace', 'late']);
  });

  test('the sweep removes only this roster\'s temporary files, not those of a roster whose name starts the same', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const folder = path.dirname(rosterPath);
    const ours = '.roster.json.4242.0123456789ab.tmp';
    const theirs = '.roster.json.1.4242.0123456789ab.tmp';
    await writeFile(path.join(folder, ours), 'left by a writer that died');
    await writeFile(path.join(folder, theirs), 'another roster\'s write in progress');
    await new RosterStore({ path: rosterPath }).register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    const names = await readdir(folder);
    assert.ok(!names.includes(ours), 'this roster\'s leftover was kept');
    assert.ok(names.includes(theirs), 'the other roster\'s temporary file was removed');
  });
});

describe('roster store: a roster path that is a symbolic link', () => {
  /** The real lock, recording which file each lock was taken for. */
  function recordingLock(): { lock: LockFn; paths: string[] } {
    const paths: string[] = [];
    const real = properLock(10_000, 5_000, { info() {}, warn() {}, error() {} });
    return { paths, lock: async (file) => { paths.push(file); return real(file); } };
  }

  test('registrations are written to (and locked on) the file the link points to, and the link stays a link', async () => {
    const rosterPath = freshPath();
    const target = path.join(path.dirname(rosterPath), 'real', 'roster-of-record.json');
    await seed(target);
    await fsp.symlink(path.relative(path.dirname(rosterPath), target), rosterPath);
    const { lock, paths } = recordingLock();
    const store = new RosterStore({ path: rosterPath, lock });
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.ok((await fsp.lstat(rosterPath)).isSymbolicLink(), 'the link was replaced by a plain file');
    assert.ok((await readRoster(target)).learners.some((l) => l.github_handle === 'grace'));
    assert.deepEqual(paths, [target]);
    assert.deepEqual(await leftovers(target), []);
    assert.equal((await store.read()).learners.length, 2);
  });

  test('a link to a roster not made yet (and a link to that link) creates the file where the links point', async () => {
    const rosterPath = freshPath();
    const target = path.join(path.dirname(rosterPath), 'elsewhere', 'roster.json');
    const middle = path.join(path.dirname(rosterPath), 'middle.json');
    await mkdir(path.dirname(target), { recursive: true });
    await fsp.symlink(target, middle);
    await fsp.symlink(middle, rosterPath);
    const store = new RosterStore({ path: rosterPath });
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.ok((await fsp.lstat(rosterPath)).isSymbolicLink());
    assert.ok((await fsp.lstat(middle)).isSymbolicLink());
    assert.equal((await readRoster(target)).learners[0]!.github_handle, 'grace');
  });
});

describe('roster store: a file that cannot be used is remembered, not re-read', () => {
  /** The real file system, counting whole-file reads. */
  function countingReads(): { fs: RosterFs; readonly reads: number } {
    let reads = 0;
    const fs: RosterFs = { ...(fsp as unknown as RosterFs), readFile: async (file, encoding) => { reads += 1; return fsp.readFile(file, encoding); } };
    return { fs, get reads() { return reads; } };
  }
  const errors = () => {
    const lines: string[] = [];
    return { lines, log: { info() {}, warn() {}, error: (_obj: object, msg: string) => void lines.push(msg) } };
  };

  test('a corrupt file is read and parsed once while it is unchanged, logged once, and read again once it changes', async () => {
    const rosterPath = freshPath();
    await mkdir(path.dirname(rosterPath), { recursive: true });
    await writeFile(rosterPath, '{"version": 1, "learners": [');
    const counting = countingReads();
    const { lines, log } = errors();
    const store = new RosterStore({ path: rosterPath, fs: counting.fs, log });
    for (let i = 0; i < 5; i++) await assert.rejects(store.read(), RosterUnavailableError);
    await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), RosterUnavailableError);
    assert.equal(counting.reads, 1);
    assert.equal(lines.length, 1);
    await seed(rosterPath);
    assert.equal((await store.read()).learners.length, 1);
    assert.equal(counting.reads, 2);
  });

  test('a file over the size limit is refused as unreadable without being read, and logged', async () => {
    const rosterPath = freshPath();
    const text = await seed(rosterPath);
    const counting = countingReads();
    const { lines, log } = errors();
    const store = new RosterStore({ path: rosterPath, fs: counting.fs, log, maxBytes: text.length - 1 });
    await assert.rejects(store.read(), (error: unknown) => error instanceof RosterUnavailableError && error.problem === 'unreadable' && /over the limit/.test(error.message));
    await assert.rejects(store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }), RosterUnavailableError);
    assert.equal(counting.reads, 0);
    assert.equal(lines.length, 1);
    assert.equal(await readFile(rosterPath, 'utf8'), text);
    // At the limit exactly, it is read.
    const fits = new RosterStore({ path: rosterPath, maxBytes: text.length });
    assert.equal((await fits.read()).learners.length, 1);
  });
});

describe('roster store: the read-modify-write is inside the lock', () => {
  /**
   * An in-process lock with one holder at a time, which says whether anyone
   * is waiting for it: enough to put a second writer at an exact point.
   */
  function mutex(): { lock: LockFn; readonly held: boolean; readonly waiting: number } {
    let held = false;
    const queue: Array<() => void> = [];
    const lock: LockFn = async () => {
      if (held) await new Promise<void>((resolve) => queue.push(resolve));
      held = true;
      return async () => {
        const next = queue.shift();
        if (next) next();
        else held = false;
      };
    };
    return { lock, get held() { return held; }, get waiting() { return queue.length; } };
  }

  test('a second writer put between the first writer\'s read and its rename waits for the lock, and its learner survives', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const shared = mutex();
    const second = new RosterStore({ path: rosterPath, lock: shared.lock });
    let secondWrite: Promise<unknown> | null = null;
    // The first writer's file system: when it reads the file, the second writer
    // starts, and the first goes on only once the second has either written
    // (the lock did not hold it off) or is waiting for the lock.
    const fs: RosterFs = {
      ...(fsp as unknown as RosterFs),
      stat: async (file, options) => {
        if (secondWrite === null && shared.held) {
          let done = false;
          secondWrite = second.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' }).finally(() => (done = true));
          while (!done && shared.waiting === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        return fsp.stat(file, options);
      },
    };
    const first = new RosterStore({ path: rosterPath, lock: shared.lock, fs });
    await first.register({ github_handle: 'hedy', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.ok(secondWrite, 'the second writer was never started');
    await secondWrite;
    const handles = (await readRoster(rosterPath)).learners.map((l) => l.github_handle).sort();
    assert.deepEqual(handles, ['ada-lovelace', 'grace', 'hedy']);
  });

  test('every read of the file during a write, and the rename over it, happen while the lock is held', async () => {
    const rosterPath = freshPath();
    await seed(rosterPath);
    const shared = mutex();
    const outside: string[] = [];
    let writing = false;
    const fs: RosterFs = {
      ...(fsp as unknown as RosterFs),
      readFile: async (file, encoding) => {
        if (writing && !shared.held) outside.push('read');
        return fsp.readFile(file, encoding);
      },
      rename: async (from, to) => {
        if (!shared.held) outside.push('rename');
        return fsp.rename(from, to);
      },
    };
    const store = new RosterStore({ path: rosterPath, lock: shared.lock, fs });
    // Another program changes the file, so the write must read it again.
    await store.read();
    await seed(rosterPath, { ...seeded, learners: [{ ...seeded.learners[0]!, notes: 'changed' }] });
    writing = true;
    await store.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.deepEqual(outside, []);
    assert.equal((await readRoster(rosterPath)).learners.find((l) => l.github_handle === 'ada-lovelace')!.notes, 'changed');
  });
});
