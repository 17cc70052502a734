/**
 * The outbox: registrations recorded durably beside the local roster until a
 * commit to the roster of record carries them (GitHub mode).
 *
 * One JSON object per line (`{"id", "at", "registration"}`), appended and
 * flushed before the person is told they are registered, and rewritten
 * atomically (temporary file, flush, rename) when committed entries are
 * dropped. The store calls it only while holding the roster's lock, so
 * appends and rewrites never interleave. A last line cut short by a crash
 * belongs to a registration that was never confirmed, and is skipped.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isPath, type Registration } from './contract.js';
import type { RosterFs } from './store.js';

export interface OutboxEntry {
  readonly id: string;
  /** When it was recorded (ISO-8601). */
  readonly at: string;
  readonly registration: Registration;
}

/** The outbox file beside a roster file. */
export function outboxPath(rosterFile: string): string {
  return `${rosterFile}.outbox.jsonl`;
}

/** The registration an entry records, received at the entry's time. */
export function entryRegistration(entry: OutboxEntry): Registration {
  return { ...entry.registration, registered_at: entry.at };
}

export function newEntryId(): string {
  return `${Date.now().toString(36)}-${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`;
}

function isEntry(value: unknown): value is OutboxEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { id, at, registration } = value as Record<string, unknown>;
  if (typeof id !== 'string' || typeof at !== 'string' || typeof registration !== 'object' || registration === null) return false;
  // The time becomes the learner's registered_at, which the contract wants as toISOString writes it.
  if (Number.isNaN(Date.parse(at)) || new Date(at).toISOString() !== at) return false;
  const r = registration as Record<string, unknown>;
  return typeof r.github_handle === 'string' && typeof r.cohort_id === 'string' && isPath(r.path);
}

/** Reads the entries in the order they were recorded; an unreadable line other than a torn last one is an error. */
export async function readOutbox(fs: RosterFs, file: string): Promise<OutboxEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') return [];
    throw error;
  }
  const lines = text.split('\n');
  const entries: OutboxEntry[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    if (isEntry(value)) {
      entries.push({ id: value.id, at: value.at, registration: { github_handle: value.registration.github_handle, cohort_id: value.registration.cohort_id, path: value.registration.path } });
    } else if (i !== lines.length - 1) {
      throw new Error(`the outbox ${file} has an unreadable entry on line ${i + 1}`);
    }
  });
  return entries;
}

function linesOf(entries: readonly OutboxEntry[]): Buffer {
  return Buffer.from(entries.map((e) => `${JSON.stringify({ id: e.id, at: e.at, registration: e.registration })}\n`).join(''));
}

/** Appends entries and flushes them to disk before resolving. */
export async function appendOutbox(fs: RosterFs, file: string, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const bytes = linesOf(entries);
  const handle = await fs.open(file, 'a', 0o600);
  try {
    // A line cut short by an earlier crash must not swallow the first new entry.
    const { bytesWritten } = await handle.writev([Buffer.from('\n'), bytes]);
    if (bytesWritten !== bytes.length + 1) throw new Error(`short write to the outbox: ${bytesWritten} of ${bytes.length + 1} bytes`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Rewrites the outbox without the entries whose ids are given; returns those that remain. */
export async function dropFromOutbox(fs: RosterFs, file: string, ids: ReadonlySet<string>): Promise<OutboxEntry[]> {
  if (ids.size === 0) return readOutbox(fs, file);
  const remaining = (await readOutbox(fs, file)).filter((e) => !ids.has(e.id));
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
  return remaining;
}
