/**
 * The outbox: registrations and facilitators' edits recorded durably beside
 * the local roster until a commit to the roster of record carries them
 * (GitHub mode).
 *
 * One JSON object per line (`{"id", "at", "registration"}` or
 * `{"id", "at", "edit"}`), appended and
 * flushed before the person is told they are registered, and rewritten
 * atomically (temporary file, flush, rename) when committed entries are
 * dropped. The store calls it only while holding the roster's lock, so
 * appends and rewrites never interleave. A line cut short by a crash or a
 * full disk belongs to a registration that was never confirmed: it is
 * skipped, and moved to a file beside the outbox at the next rewrite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { isPath, isProvisionState, type LearnerEdit, type Registration } from './contract.js';
import type { RosterChange } from './incremental.js';
import type { RosterFs } from './store.js';

export type OutboxEntry = Readonly<
  {
    id: string;
    /** When it was recorded (ISO-8601). */
    at: string;
  } & ({ registration: Registration } | { edit: LearnerEdit })
>;

/** The outbox file beside a roster file. */
export function outboxPath(rosterFile: string): string {
  return `${rosterFile}.outbox.jsonl`;
}

/** The change an entry records; a registration is received at the entry's time. */
export function entryChange(entry: OutboxEntry): RosterChange {
  return 'edit' in entry ? { edit: entry.edit } : { registration: { ...entry.registration, registered_at: entry.at } };
}

/**
 * A new entry's id, unique in its outbox across restarts (122 random bits).
 * randomUUID draws from a pool it refills in batches; a randomBytes call per
 * entry took about 7 µs where each one is a system call.
 */
export function newEntryId(): string {
  return randomUUID();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whether `at` is a time as toISOString writes it (the learner's registered_at, which the contract wants so). */
function isIsoTime(at: string): boolean {
  return !Number.isNaN(Date.parse(at)) && new Date(at).toISOString() === at;
}

/** The registration or edit a parsed line holds, with only the fields it may have; null when it is not one. */
function entryOf(value: unknown, lastTime: { at: string | null }): OutboxEntry | null {
  if (!isRecord(value)) return null;
  const { id, at, registration, edit } = value;
  if (typeof id !== 'string' || typeof at !== 'string') return null;
  // The entries of one write share their time: it is checked once for them.
  if (at !== lastTime.at) {
    if (!isIsoTime(at)) return null;
    lastTime.at = at;
  }
  if (isRecord(registration)) {
    const { github_handle, cohort_id, path: learnerPath } = registration;
    if (typeof github_handle !== 'string' || typeof cohort_id !== 'string' || !isPath(learnerPath)) return null;
    return { id, at, registration: { github_handle, cohort_id, path: learnerPath } };
  }
  if (isRecord(edit)) {
    const { github_handle, cohort_id, field, from, to } = edit;
    if (typeof github_handle !== 'string' || typeof cohort_id !== 'string' || typeof from !== 'string' || typeof to !== 'string') return null;
    if (field === 'notes') return { id, at, edit: { github_handle, cohort_id, field, from, to } };
    if (field === 'provision_state' && isProvisionState(from) && isProvisionState(to)) return { id, at, edit: { github_handle, cohort_id, field, from, to } };
  }
  return null;
}

/** The id a line written by linesOf starts with, without parsing it; null for any other line. */
function idOfLine(line: string): string | null {
  if (!line.startsWith(ID_PREFIX)) return null;
  const end = line.indexOf('"', ID_PREFIX.length);
  return end < 0 ? null : line.slice(ID_PREFIX.length, end);
}
const ID_PREFIX = '{"id":"';

export interface ReadOptions {
  /** Ids whose lines are left out unread. */
  skip?: ReadonlySet<string>;
  /** Told of each line cut short by an interrupted write (left out): its number and its text. */
  torn?: (line: number, text: string) => void;
}

/**
 * Reads the entries in the order they were recorded. A line that is not JSON
 * at all was cut short by an interrupted append (a crash, a full disk): its
 * registration was never confirmed, and it is left out wherever it is, since
 * later appends start on a new line after it. Any other unreadable line is an
 * error, except a last one.
 */
export async function readOutbox(fs: RosterFs, file: string, options: ReadOptions = {}): Promise<OutboxEntry[]> {
  const skip = options.skip ?? new Set<string>();
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') return [];
    throw error;
  }
  const lines = text.split('\n');
  const entries: OutboxEntry[] = [];
  const lastTime = { at: null as string | null };
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    if (skip.size > 0) {
      const id = idOfLine(line);
      if (id !== null && skip.has(id)) return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      options.torn?.(i + 1, line);
      return;
    }
    const entry = entryOf(value, lastTime);
    if (entry !== null) {
      entries.push(entry);
    } else if (i !== lines.length - 1) {
      throw new Error(`the outbox ${file} has an unreadable entry on line ${i + 1}`);
    }
  });
  return entries;
}

function linesOf(entries: readonly OutboxEntry[]): Buffer {
  return Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

/** Appends entries and flushes them to disk before resolving. */
export async function appendOutbox(fs: RosterFs, file: string, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  // A line cut short by an earlier crash must not swallow the first new entry.
  await appendFlushed(fs, file, [Buffer.from('\n'), linesOf(entries)]);
}

/** The file beside the outbox where lines cut short are moved, as they were. */
export function cutShortPath(outboxFile: string): string {
  return `${outboxFile}.cut-short`;
}

/** Appends `parts` to `file` (made if need be) and flushes them. */
async function appendFlushed(fs: RosterFs, file: string, parts: Buffer[]): Promise<void> {
  const expected = parts.reduce((sum, part) => sum + part.length, 0);
  const handle = await fs.open(file, 'a', 0o600);
  try {
    const { bytesWritten } = await handle.writev(parts);
    if (bytesWritten !== expected) throw new Error(`short write to ${path.basename(file)}: ${bytesWritten} of ${expected} bytes`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The entries that remain once those whose ids are given are dropped. When
 * any are dropped, or lines cut short were found, the outbox is rewritten
 * without them (the lines cut short moved first, as they were, to the
 * cut-short file beside it): `rewritten` says so, `cutShort` how many lines
 * were moved. Otherwise nothing is written.
 */
export async function dropFromOutbox(fs: RosterFs, file: string, ids: ReadonlySet<string>): Promise<{ remaining: OutboxEntry[]; cutShort: number; rewritten: boolean }> {
  const torn: string[] = [];
  // The committed entries' lines are left out unparsed; any other line is read and checked as always.
  const remaining = (await readOutbox(fs, file, { skip: ids, torn: (_line, text) => torn.push(text) })).filter((e) => !ids.has(e.id));
  if (ids.size === 0 && torn.length === 0) return { remaining, cutShort: 0, rewritten: false };
  if (torn.length > 0) await appendFlushed(fs, cutShortPath(file), [Buffer.from(torn.map((line) => `${line}\n`).join(''))]);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temporary, 'wx', 0o600);
    try {
      const bytes = linesOf(remaining);
      const { bytesWritten } = await handle.writev([bytes]);
      if (bytesWritten !== bytes.length) throw new Error(`short write to the outbox: ${bytesWritten} of ${bytes.length} bytes`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.unlink(temporary).catch(() => undefined);
    throw error;
  }
  return { remaining, cutShort: torn.length, rewritten: true };
}
