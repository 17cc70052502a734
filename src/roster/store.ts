/**
 * The roster file: the only code that touches it.
 *
 * - Reads are cached and the cache is checked against the file's identity
 *   (inode, size, modification and change times in nanoseconds), so a change
 *   made by another program is noticed on the next read.
 * - Registrations and facilitators' edits are queued; while one write is in
 *   flight the next ones gather and are applied together in the following
 *   write (group commit). Each caller is answered only once its change is
 *   durably on disk.
 * - Every read-modify-write holds a cross-process lock (a `<roster>.lock`
 *   directory, taken over when its holder stops refreshing it), re-reads the
 *   file under the lock, and replaces it atomically: a temporary file in the
 *   same folder, flushed, renamed over the roster, then the folder flushed.
 *   Temporary files left by a writer that died are swept away now and then.
 * - A file that cannot be parsed, breaks the contract or is larger than the
 *   limit is never written, and is not read again until it changes.
 * - When the configured path is a symbolic link, writes (and the lock) go to
 *   the file it points to, so the link stays a link.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { RosterInvalidError, editedValue, emptyRoster, keyOfLearner, learnerKey, parseRoster, type EditOutcome, type LearnerEdit, type Registration, type Roster, type UpsertOutcome } from './contract.js';
import { applyChanges, canonicalForm, learnerWithKey, serializeCanonicalChunks, type ChangeOutcome, type RosterChange } from './incremental.js';
import { appendOutbox, cutShortPath, dropFromOutbox, entryChange, newEntryId, outboxPath, type OutboxEntry } from './outbox.js';
import { RosterTooLargeError, RosterUnavailableError, silentLog, type Logger } from './errors.js';
import { properLock, type LockFn } from './lock.js';

export { RosterUnavailableError, type RosterProblem, type Logger } from './errors.js';
export type { LockFn } from './lock.js';

/** The narrow file-system seam the store uses (node:fs/promises by default). */
export interface RosterFileHandle {
  writev(buffers: Buffer[]): Promise<{ bytesWritten: number }>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}
export interface RosterFs {
  readFile(file: string, encoding: 'utf8'): Promise<string>;
  stat(file: string, options: { bigint: true }): Promise<BigIntStats>;
  lstat(file: string): Promise<{ isSymbolicLink(): boolean }>;
  readlink(file: string): Promise<string>;
  open(file: string, flags: string, mode?: number): Promise<RosterFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  mkdir(dir: string, options: { recursive: true }): Promise<string | undefined>;
  readdir(dir: string): Promise<string[]>;
}

export type RegisterResult = { outcome: UpsertOutcome };

/** The working copy when it is the record it follows with the waiting changes applied in order, and each change's outcome there. */
export interface AppliedWaiting {
  /** The record followed. */
  readonly record: Roster;
  readonly roster: Roster;
  readonly outcomes: readonly ChangeOutcome[];
}
/** An edit's outcome, and the field's value afterwards (null when the learner is not there). */
export type EditResult = { outcome: EditOutcome; current: string | null };

/** The largest roster file read by default (20 MiB). */
export const DEFAULT_ROSTER_MAX_BYTES = 20 * 1024 * 1024;

export interface RosterStoreOptions {
  path: string;
  fs?: RosterFs;
  lock?: LockFn;
  /** How long a lock may go unrefreshed before it is taken over (at least 2000 ms). */
  lockStaleMs?: number;
  /** How long to wait for the lock before giving up. */
  lockWaitMs?: number;
  /** A roster file larger than this is refused, not read. */
  maxBytes?: number;
  now?: () => Date;
  log?: Logger;
  /**
   * GitHub mode: every accepted registration and edit is also recorded in the
   * outbox beside the roster, before it is confirmed, until a commit carries it.
   */
  outbox?: boolean;
  /** Called after changes were recorded in the outbox. */
  onRecorded?: () => void;
}

/** What the file held the last time it was read: a roster, or why it could not be used. */
type Remembered = { signature: string; roster: Roster; failure?: undefined } | { signature: string; roster?: undefined; failure: Error };

interface CurrentFile {
  roster: Roster;
  /** The file's permission bits; null when there is no file yet. */
  mode: number | null;
}

/** How often, at most, a store sweeps away temporary files left by interrupted writes. */
const SWEEP_INTERVAL_MS = 60_000;

/** How many symbolic links are followed to find the roster file, as the kernel allows. */
const MAX_LINKS = 40;

interface Pending {
  change: RosterChange;
  /** Given the change's outcome and the roster it was applied to. */
  resolve: (outcome: ChangeOutcome, roster: Roster) => void;
  reject: (error: unknown) => void;
}

function signatureOf(stat: BigIntStats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export class RosterStore {
  /** The configured path (it may be a symbolic link; writes go to the file it points to). */
  readonly path: string;
  private readonly fs: RosterFs;
  private readonly lock: LockFn;
  private readonly maxBytes: number;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly useOutbox: boolean;
  /** Whether the folder has been flushed since this store last made or replaced the outbox (or first wrote to it). */
  private outboxNameFlushed = false;
  private readonly onRecorded: () => void;
  private remembered: Remembered | null = null;
  private reading: Promise<Roster> | null = null;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** The folder each write target was made (or found) in by an earlier batch. */
  private readyFolder: string | null = null;
  /** When (monotonic ms) temporary files left by interrupted writers were last swept away; null: not yet. */
  private sweptAt: number | null = null;
  /**
   * GitHub mode: the roster of record the working copy was last made to
   * follow, and the identity of the working copy as this store last wrote it.
   * While the file is still that one, it is exactly that record with the
   * outbox's changes applied in order.
   */
  private followed: { record: Roster; signature: string } | null = null;
  /** The outcome each waiting change had on the working copy, by entry id, for those applied while it followed a record. */
  private followedOutcomes = new Map<string, ChangeOutcome>();
  /**
   * Set from the moment this store renames a new file over the roster until
   * it has noted that file's identity. A read meanwhile would find an
   * identity it does not know, and read and parse the whole file again (tens
   * of milliseconds for a large roster) only to learn what this store wrote:
   * it waits for the identity instead.
   */
  private replacing: Promise<void> | null = null;

  constructor(options: RosterStoreOptions) {
    this.path = path.resolve(options.path);
    this.fs = options.fs ?? (fsp as unknown as RosterFs);
    this.log = options.log ?? silentLog;
    this.lock = options.lock ?? properLock(options.lockStaleMs ?? 10_000, options.lockWaitMs ?? 30_000, this.log);
    this.maxBytes = options.maxBytes ?? DEFAULT_ROSTER_MAX_BYTES;
    this.now = options.now ?? (() => new Date());
    this.useOutbox = options.outbox ?? false;
    this.onRecorded = options.onRecorded ?? (() => undefined);
  }

  /** The current roster, from the cache when the file has not changed. */
  read(): Promise<Roster> {
    this.reading ??= this.currentFile()
      .then((file) => file.roster)
      .catch((error: unknown) => {
        throw error instanceof RosterUnavailableError ? error : new RosterUnavailableError('unreadable', { cause: error });
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  /**
   * Registers a learner (the contract's upsert). Resolves once the change is
   * durably on disk, or at once when there was nothing to change.
   */
  register(registration: Registration): Promise<RegisterResult> {
    return new Promise((resolve, reject) => {
      // A registration's outcome is always an upsert outcome.
      this.queue.push({ change: { registration }, resolve: (outcome) => resolve({ outcome: outcome as UpsertOutcome }), reject });
      this.startFlush();
    });
  }

  /**
   * A facilitator's edit of one learner's field (the contract's edit rule):
   * made in the file, or refused as a conflict when the field no longer holds
   * the value the facilitator saw. In GitHub mode an edit made is also
   * recorded in the outbox for the roster of record. Resolves once the change
   * is durably on disk, or at once when nothing was changed.
   */
  edit(edit: LearnerEdit): Promise<EditResult> {
    return new Promise((resolve, reject) => {
      const key = learnerKey(edit.github_handle, edit.cohort_id);
      const resolveEdit = (outcome: ChangeOutcome, roster: Roster) => {
        const learner = learnerWithKey(roster, key);
        // An edit's outcome is always an edit outcome.
        resolve({ outcome: outcome as EditOutcome, current: learner === undefined ? null : editedValue(learner, edit.field) });
      };
      this.queue.push({ change: { edit }, resolve: resolveEdit, reject });
      this.startFlush();
    });
  }

  /** Waits for every queued registration to be written (for shutdown). */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
  }

  // -- The outbox (GitHub mode) --

  /** The changes recorded here and not yet carried by a commit to the roster of record, oldest first. */
  async pending(): Promise<OutboxEntry[]> {
    return (await this.waitingOn(null)).entries;
  }

  /**
   * The changes waiting, oldest first; and, when the working copy is exactly
   * `record` with them applied in order (it follows that record, and nothing
   * else has written the file since), the working copy and each change's
   * outcome on it: what applying them to `record` gives, without doing it again.
   */
  waitingOn(record: Roster | null): Promise<{ entries: OutboxEntry[]; applied: AppliedWaiting | null }> {
    return this.withLock(async (target) => {
      const entries = await this.waitingAfter(target, new Set());
      if (record === null) return { entries, applied: null };
      // Read under the lock, so that a change another program made is seen (and the file no longer counts as followed).
      const current = await this.currentFile().catch(() => null);
      if (current === null || this.followedRecord() !== record) return { entries, applied: null };
      const outcomes = entries.map((e) => this.followedOutcomes.get(e.id));
      if (!outcomes.every((o) => o !== undefined)) return { entries, applied: null };
      return { entries, applied: { record, roster: current.roster, outcomes } };
    });
  }

  /**
   * Follows the roster of record: drops the entries a commit has carried
   * (`committed`), then makes the local roster the roster of record with the
   * changes still waiting applied to it. Returns how many still wait.
   *
   * `basis` is the roster the committed one was made from, when it is the
   * commit's: if that is the record the working copy last followed, and the
   * file is still as this store wrote it, the working copy already is the new
   * record with the waiting changes applied (the committed entries are the
   * outbox's first ones, applied in the same order), and is not written again.
   */
  adoptRecord(record: Roster, committed: ReadonlySet<string>, basis?: Roster): Promise<number> {
    return this.withLock(async (target) => {
      // A local file that breaks the contract is reported, never overwritten, even here.
      const current = await this.currentFile();
      const file = outboxPath(target);
      if ((await this.statOrNull(file)) === null) await this.keepLocalLearners(target, current.roster, record, file);
      const waiting = await this.waitingAfter(target, committed);
      // Only while every entry, committed or waiting, is one this store applied to the working copy (a line that reached
      // the outbox another way never was).
      const allApplied = [...committed].every((id) => this.followedOutcomes.has(id)) && waiting.every((e) => this.followedOutcomes.has(e.id));
      if (basis !== undefined && this.followedRecord() === basis && allApplied) {
        this.follow(record, current.roster);
        for (const id of committed) this.followedOutcomes.delete(id);
        return waiting.length;
      }
      const now = this.now();
      const { roster: local, outcomes } = applyChanges(canonicalForm(record, now), waiting.map(entryChange), now);
      this.followed = null;
      await this.writeAtomically(target, local, current.mode ?? 0o600);
      this.follow(record, local);
      this.followedOutcomes = new Map(waiting.map((e, i) => [e.id, outcomes[i]!]));
      return waiting.length;
    });
  }

  /** The entries still waiting once `committed` are dropped from the outbox, and any lines cut short moved aside. */
  private async waitingAfter(target: string, committed: ReadonlySet<string>): Promise<OutboxEntry[]> {
    const file = outboxPath(target);
    const { remaining, cutShort, rewritten } = await dropFromOutbox(this.fs, file, committed);
    if (cutShort > 0) {
      this.log.warn({ lines: cutShort, file: cutShortPath(file) }, 'the outbox had lines cut short by an interrupted write; their registrations were never confirmed; they are moved, as they were, to the file named');
    }
    // The outbox was replaced: its new name is flushed before anything is appended to it.
    if (rewritten) await this.settleOutboxName(target, true);
    return remaining;
  }

  /**
   * The first time a roster file follows a roster of record (no outbox beside
   * it yet: it was a local-mode roster, or is new), learners it holds that the
   * roster of record does not would vanish from it. They are kept: the file is
   * copied beside itself first and the copy named in the log. Then the outbox
   * is made, so this happens once.
   */
  private async keepLocalLearners(target: string, local: Roster, record: Roster, outboxFile: string): Promise<void> {
    const recorded = new Set(record.learners.map(keyOfLearner));
    const missing = local.learners.filter((l) => !recorded.has(keyOfLearner(l)));
    if (missing.length > 0) {
      const copy = path.join(path.dirname(target), `${path.basename(target)}.before-github-mode.${this.now().toISOString().replace(/[:.]/g, '-')}.json`);
      const bytes = Buffer.from(await this.fs.readFile(target, 'utf8'));
      const handle = await this.fs.open(copy, 'wx', 0o600);
      try {
        await handle.writev([bytes]);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.log.warn(
        { learners: missing.length, copy },
        'the local roster holds learners the roster of record does not; it is kept as a copy before it follows the roster of record: commit them to the admin repository, or ask them to register again',
      );
    }
    await (await this.fs.open(outboxFile, 'a', 0o600)).close();
    await this.settleOutboxName(target, true);
  }

  /**
   * Flushes the folder once after the outbox is made or replaced (`made`: it
   * just was, here), so that its name, and so what is appended to it,
   * survives a power cut. (In GitHub mode the working copy's writes do not
   * flush the folder, so nothing else would.)
   */
  private async settleOutboxName(target: string, made = false): Promise<void> {
    if (this.outboxNameFlushed && !made) return;
    await this.syncFolder(path.dirname(target));
    this.outboxNameFlushed = true;
  }

  /** The record the working copy follows, while the file is still the one this store last wrote or left (`followed`). */
  private followedRecord(): Roster | null {
    const followed = this.followed;
    return followed !== null && this.remembered?.signature === followed.signature ? followed.record : null;
  }

  /** Notes that the file, as last written or read here, is `roster`: `record` with the outbox applied in order. */
  private follow(record: Roster, roster: Roster): void {
    this.followed = this.remembered?.roster === roster ? { record, signature: this.remembered.signature } : null;
  }

  /** Runs `fn` on the write target while holding the roster's lock. */
  private async withLock<T>(fn: (target: string) => Promise<T>): Promise<T> {
    const { target, release } = await this.takeLock();
    try {
      return await fn(target);
    } catch (error) {
      throw error instanceof RosterUnavailableError ? error : new RosterUnavailableError('unwritable', { cause: error });
    } finally {
      await release();
    }
  }

  // -- Reading: the one path, for pages and for writes under the lock alike --

  private async statOrNull(file = this.path): Promise<BigIntStats | null> {
    try {
      return await this.fs.stat(file, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /**
   * The file as it is now, with its permission bits (null when there is no
   * file yet). When its identity (inode, size, modification and change times)
   * is the one remembered, what was remembered is that very file: the roster
   * is used without parsing it again, and a file that could not be used is
   * reported again without reading it again. Any replacement or edit by
   * another program changes the identity.
   */
  private async currentFile(): Promise<CurrentFile> {
    let stat = await this.statOrNull();
    // Replaced by this store a moment ago: once it has noted the new identity the file is known, unless someone else
    // replaced it since. (A bounded wait: a read is never held behind write after write.)
    for (let waits = 0; this.replacing !== null && waits < 3 && (stat === null || this.remembered?.signature !== signatureOf(stat)); waits++) {
      await this.replacing;
      stat = await this.statOrNull();
    }
    if (stat === null) {
      this.remembered = null;
      return { roster: emptyRoster(), mode: null };
    }
    const mode = Number(stat.mode & 0o777n);
    const remembered = this.remembered;
    if (remembered?.signature === signatureOf(stat)) {
      if (remembered.failure) throw remembered.failure;
      return { roster: remembered.roster, mode };
    }
    return { roster: await this.load(stat), mode };
  }

  /**
   * Reads and validates the file from disk. A roster is remembered against
   * the file's identity; so is a file that breaks the contract or is over the
   * size limit, which is logged once and then refused without being read or
   * parsed again until it changes.
   */
  private async load(first: BigIntStats): Promise<Roster> {
    // Stat, read, stat again: if the file was replaced while being read, read again.
    for (let attempt = 0, before: BigIntStats | null = first; ; attempt++, before = await this.statOrNull()) {
      if (before === null) {
        this.remembered = null;
        return emptyRoster();
      }
      const signature = signatureOf(before);
      let roster: Roster;
      try {
        if (before.size > BigInt(this.maxBytes)) throw new RosterTooLargeError(Number(before.size), this.maxBytes);
        let text: string;
        try {
          text = await this.fs.readFile(this.path, 'utf8');
        } catch (error) {
          if (isMissing(error)) continue;
          throw error;
        }
        const after = await this.statOrNull();
        if ((after === null || signatureOf(after) !== signature) && attempt < 3) continue;
        roster = parseRoster(text);
      } catch (error) {
        if (error instanceof RosterInvalidError || error instanceof RosterTooLargeError) {
          this.remembered = { signature, failure: error };
          this.log.error({ err: error, roster: this.path }, 'the roster file cannot be used: it is not read again until it changes');
        }
        throw error;
      }
      this.remembered = { signature, roster };
      return roster;
    }
  }

  // -- Writing: group commits under the cross-process lock --

  private startFlush(): void {
    if (this.flushing) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
      if (this.queue.length > 0) this.startFlush();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.writeBatch();
  }

  /**
   * The file that writes replace: the configured path, or, when that is a
   * symbolic link, the file it points to (followed link by link, so a link to
   * a file not made yet works too). Replacing the link itself would leave the
   * real roster behind.
   */
  private async writeTarget(): Promise<string> {
    let target = this.path;
    for (let hops = 0; hops < MAX_LINKS; hops++) {
      let isLink: boolean;
      try {
        isLink = (await this.fs.lstat(target)).isSymbolicLink();
      } catch (error) {
        if (isMissing(error)) return target;
        throw error;
      }
      if (!isLink) return target;
      target = path.resolve(path.dirname(target), await this.fs.readlink(target));
    }
    throw Object.assign(new Error(`too many symbolic links from ${this.path}`), { code: 'ELOOP' });
  }

  /** Takes the lock of the file writes go to, making its folder first unless an earlier batch did. */
  private async takeLock(): Promise<{ target: string; release: () => Promise<void> }> {
    let target: string;
    try {
      target = await this.writeTarget();
    } catch (error) {
      throw new RosterUnavailableError('unwritable', { cause: error });
    }
    const dir = path.dirname(target);
    for (let attempt = 0; ; attempt++) {
      if (this.readyFolder !== dir) {
        await this.mkdirRoster(dir);
        this.readyFolder = dir;
      }
      try {
        return { target, release: await this.lock(target) };
      } catch (error) {
        if (isMissing(error) && attempt === 0) {
          // The folder was removed since the last batch: make it again.
          this.readyFolder = null;
          continue;
        }
        throw new RosterUnavailableError((error as NodeJS.ErrnoException)?.code === 'ELOCKED' ? 'busy' : 'unwritable', { cause: error });
      }
    }
  }

  /**
   * One group commit. The waiting registrations are taken only once the lock
   * is held and the file has been checked, so those that arrive meanwhile
   * join this write instead of waiting for the next. Each is answered once
   * the write is durable (or has failed).
   */
  private async writeBatch(): Promise<void> {
    // If the lock cannot be had, those already waiting are told so; later arrivals get their own try.
    const waiting = this.queue.length;
    let batch: Pending[] | null = null;
    try {
      const { target, release } = await this.takeLock();
      try {
        let current: CurrentFile;
        try {
          // Checked again under the lock, so a change another program made a moment ago is kept.
          current = await this.currentFile();
        } catch (error) {
          throw new RosterUnavailableError('unreadable', { cause: error });
        }
        batch = this.queue.splice(0);
        const now = this.now();
        const { roster, outcomes } = applyChanges(current.roster, batch.map((p) => p.change), now);
        // Registrations are recorded even when the working copy has them already (the roster of record may not); edits only when made.
        const at = now.toISOString();
        const recorded: Array<{ entry: OutboxEntry; outcome: ChangeOutcome }> = [];
        if (this.useOutbox) {
          batch.forEach((p, i) => {
            const outcome = outcomes[i]!;
            if ('edit' in p.change ? outcome === 'edited' : outcome !== 'unknown-cohort') recorded.push({ entry: { id: newEntryId(), at, ...p.change }, outcome });
          });
        }
        // While the file is the record followed with the outbox applied, it stays so: these changes go to both.
        const following = this.followedRecord();
        this.followed = null;
        try {
          await this.sweepNowAndThen(target);
          // Recorded for the roster of record before the working copy is replaced: a crash between the two sends a
          // registration nobody was told of, never the reverse. The two files are written and flushed at the same
          // time; only the rename waits for the outbox.
          const outbox =
            recorded.length === 0
              ? Promise.resolve()
              : appendOutbox(this.fs, outboxPath(target), recorded.map((r) => r.entry)).then(() => this.settleOutboxName(target));
          // Its failure is seen below; a handler now keeps an early one from counting as unhandled meanwhile.
          outbox.catch(() => undefined);
          try {
            if (roster !== current.roster) await this.writeAtomically(target, roster, current.mode ?? 0o600, outbox);
            else await outbox;
          } finally {
            // Settled before the lock is let go, whatever happened to the working copy.
            await Promise.allSettled([outbox]);
          }
        } catch (error) {
          throw new RosterUnavailableError('unwritable', { cause: error });
        }
        if (following !== null) {
          this.follow(following, roster);
          for (const r of recorded) this.followedOutcomes.set(r.entry.id, r.outcome);
        }
        batch.forEach((p, i) => p.resolve(outcomes[i]!, roster));
        if (recorded.length > 0) this.onRecorded();
      } finally {
        await release();
      }
    } catch (error) {
      for (const p of batch ?? this.queue.splice(0, waiting)) p.reject(error);
    }
  }

  private async mkdirRoster(dir: string): Promise<void> {
    try {
      await this.fs.mkdir(dir, { recursive: true });
    } catch (error) {
      throw new RosterUnavailableError('unwritable', { cause: error });
    }
  }

  /**
   * Temporary files are left only by a writer that died mid-write, so they
   * are swept on this store's first write and then at most once a minute,
   * not on every write. Safe while holding the lock: only a lock holder writes them.
   */
  private async sweepNowAndThen(target: string): Promise<void> {
    if (this.sweptAt !== null && performance.now() - this.sweptAt < SWEEP_INTERVAL_MS) return;
    const dir = path.dirname(target);
    for (const name of await this.fs.readdir(dir)) {
      if (isTemporaryName(target, name)) {
        await this.fs.unlink(path.join(dir, name)).catch(() => undefined);
        this.log.warn({ file: name }, 'removed a temporary roster file left by an interrupted write');
      }
    }
    this.sweptAt = performance.now();
  }

  /**
   * Writes the roster in place of the target file, keeping the file's
   * permission bits (`mode`). With `first`, the new file replaces the old
   * only once `first` has succeeded (it is written meanwhile); if it fails,
   * the target is left as it was.
   */
  private async writeAtomically(target: string, roster: Roster, mode: number, first: Promise<void> = Promise.resolve()): Promise<void> {
    const chunks = serializeCanonicalChunks(roster);
    const temporary = temporaryName(target);
    let replaced = (): void => undefined;
    try {
      try {
        const handle = await this.fs.open(temporary, 'wx', mode);
        try {
          const { bytesWritten } = await handle.writev(chunks);
          const expected = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          // Never rename a short file over the roster.
          if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`);
          await handle.chmod(mode);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await first;
        this.replacing = new Promise((resolve) => (replaced = resolve));
        await this.fs.rename(temporary, target);
      } catch (error) {
        await this.fs.unlink(temporary).catch(() => undefined);
        this.remembered = null;
        throw error;
      }
      const stat = await this.statOrNull();
      this.remembered = stat ? { signature: signatureOf(stat), roster } : null;
    } finally {
      this.replacing = null;
      replaced();
    }
    // In GitHub mode the working copy is the roster of record with the outbox applied, and the outbox is flushed
    // before anyone is told: a rename lost to a power cut leaves the last working copy, which the next sync makes
    // whole from the outbox. So only local mode, where the file is the roster itself, flushes the folder (reads
    // need not wait for it).
    if (!this.useOutbox) await this.syncFolder(path.dirname(target));
  }

  /** Flushes the folder entry so the rename itself survives a power cut. */
  private async syncFolder(dir: string): Promise<void> {
    let handle: RosterFileHandle | undefined;
    try {
      handle = await this.fs.open(dir, 'r');
      await handle.sync();
    } catch (error) {
      // Some file systems refuse to flush a folder; the rename has happened.
      this.log.warn({ err: error }, 'could not flush the roster folder');
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}

function temporaryName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Whether a name in the target's folder is one of its temporary files (not another roster's with a longer name). */
function isTemporaryName(target: string, name: string): boolean {
  const prefix = `.${path.basename(target)}.`;
  return name.startsWith(prefix) && /^\d+\.[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length));
}
