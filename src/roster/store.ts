/**
 * The roster file: the only code that touches it.
 *
 * - Reads are cached and the cache is checked against the file's identity
 *   (inode, size, modification and change times in nanoseconds), so a change
 *   made by another program is noticed on the next read.
 * - Registrations are queued; while one write is in flight the next ones
 *   gather and are applied together in the following write (group commit).
 *   Each caller is answered only once its registration is durably on disk.
 * - Every read-modify-write holds a cross-process lock (a `<roster>.lock`
 *   directory, taken over when its holder stops refreshing it), re-reads the
 *   file under the lock, and replaces it atomically: a temporary file in the
 *   same folder, flushed, renamed over the roster, then the folder flushed.
 *   Temporary files left by a writer that died are swept away now and then.
 * - A file that cannot be parsed or breaks the contract is never written.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import {
  applyRegistrations,
  emptyRoster,
  parseRoster,
  serializeCanonicalChunks,
  type Registration,
  type Roster,
  type BatchOutcome,
} from './contract.js';

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
  open(file: string, flags: string, mode?: number): Promise<RosterFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  mkdir(dir: string, options: { recursive: true }): Promise<string | undefined>;
  readdir(dir: string): Promise<string[]>;
}

/** Takes the cross-process lock for a roster file; resolves to its release. */
export type LockFn = (rosterPath: string) => Promise<() => Promise<void>>;

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type RosterProblem = 'unreadable' | 'unwritable' | 'busy';

/** The roster could not be used; `problem` says which way, `cause` has the details for the log. */
export class RosterUnavailableError extends Error {
  override readonly name = 'RosterUnavailableError';
  constructor(readonly problem: RosterProblem, options: { cause: unknown }) {
    super(`roster ${problem}: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
  }
}

export type RegisterResult = { outcome: BatchOutcome };

export interface RosterStoreOptions {
  path: string;
  fs?: RosterFs;
  lock?: LockFn;
  /** How long a lock may go unrefreshed before it is taken over (at least 2000 ms). */
  lockStaleMs?: number;
  /** How long to wait for the lock before giving up. */
  lockWaitMs?: number;
  now?: () => Date;
  log?: Logger;
}

interface Cached {
  signature: string;
  roster: Roster;
}

interface CurrentFile {
  roster: Roster;
  /** The file's permission bits; null when there is no file yet. */
  mode: number | null;
}

/** How often, at most, a store sweeps away temporary files left by interrupted writes. */
const SWEEP_INTERVAL_MS = 60_000;

interface Pending {
  registration: Registration;
  resolve: (result: RegisterResult) => void;
  reject: (error: unknown) => void;
}

const silentLog: Logger = { info() {}, warn() {}, error() {} };

/**
 * The cross-process lock, with proper-lockfile. Only a lock held by someone
 * else is waited for (up to `waitMs`, polling every 10 to 100 ms); any other
 * failure, such as a missing folder or a read-only disk, is reported at once.
 */
export function properLock(staleMs: number, waitMs: number, log: Logger): LockFn {
  return async (rosterPath) => {
    const deadline = performance.now() + waitMs;
    for (let pause = 10; ; pause = Math.min(100, pause * 1.2)) {
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(rosterPath, {
          realpath: false,
          lockfilePath: `${rosterPath}.lock`,
          stale: staleMs,
          retries: 0,
          onCompromised: (error) => log.error({ err: error }, 'roster lock was compromised'),
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException)?.code !== 'ELOCKED' || performance.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
        continue;
      }
      return async () => {
        try {
          await release();
        } catch (error) {
          log.warn({ err: error }, 'roster lock release failed');
        }
      };
    }
  };
}

function signatureOf(stat: BigIntStats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export class RosterStore {
  readonly path: string;
  private readonly dir: string;
  private readonly base: string;
  private readonly fs: RosterFs;
  private readonly lock: LockFn;
  private readonly now: () => Date;
  private readonly log: Logger;
  private cached: Cached | null = null;
  private reading: Promise<Roster> | null = null;
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** The roster's folder was made (or found there) by an earlier batch. */
  private folderReady = false;
  /** When (monotonic ms) temporary files left by interrupted writers were last swept away; null: not yet. */
  private sweptAt: number | null = null;

  constructor(options: RosterStoreOptions) {
    this.path = path.resolve(options.path);
    this.dir = path.dirname(this.path);
    this.base = path.basename(this.path);
    this.fs = options.fs ?? (fsp as unknown as RosterFs);
    this.log = options.log ?? silentLog;
    this.lock = options.lock ?? properLock(options.lockStaleMs ?? 10_000, options.lockWaitMs ?? 30_000, this.log);
    this.now = options.now ?? (() => new Date());
  }

  /** The current roster, from the cache when the file has not changed. */
  read(): Promise<Roster> {
    this.reading ??= this.readCurrent().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readCurrent(): Promise<Roster> {
    try {
      return await this.current();
    } catch (error) {
      throw error instanceof RosterUnavailableError ? error : new RosterUnavailableError('unreadable', { cause: error });
    }
  }

  private async statOrNull(): Promise<BigIntStats | null> {
    try {
      return await this.fs.stat(this.path, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Reads and validates the file from disk, refreshing the cache. */
  private async load(): Promise<Roster> {
    // Stat, read, stat again: if the file was replaced while being read, read again.
    for (let attempt = 0; ; attempt++) {
      const before = await this.statOrNull();
      if (before === null) {
        this.cached = null;
        return emptyRoster();
      }
      let text: string;
      try {
        text = await this.fs.readFile(this.path, 'utf8');
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      const after = await this.statOrNull();
      const signature = after === null ? null : signatureOf(after);
      if (signature !== signatureOf(before) && attempt < 3) continue;
      const roster = parseRoster(text);
      if (signature !== null) this.cached = { signature, roster };
      return roster;
    }
  }

  /**
   * Registers a learner (the contract's upsert). Resolves once the change is
   * durably on disk, or at once when there was nothing to change.
   */
  register(registration: Registration): Promise<RegisterResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ registration, resolve, reject });
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.flushing) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
      if (this.pending.length > 0) this.startFlush();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) await this.writeBatch();
  }

  /** Takes the roster's lock, making its folder first unless an earlier batch did. */
  private async takeLock(): Promise<() => Promise<void>> {
    for (let attempt = 0; ; attempt++) {
      if (!this.folderReady) {
        await this.mkdirRoster();
        this.folderReady = true;
      }
      try {
        return await this.lock(this.path);
      } catch (error) {
        if (isMissing(error) && attempt === 0) {
          // The folder was removed since the last batch: make it again.
          this.folderReady = false;
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
    const waiting = this.pending.length;
    let batch: Pending[] | null = null;
    try {
      const release = await this.takeLock();
      try {
        let current: CurrentFile;
        try {
          // Checked again under the lock, so a change another program made a moment ago is kept.
          current = await this.currentFile();
        } catch (error) {
          throw new RosterUnavailableError('unreadable', { cause: error });
        }
        batch = this.pending.splice(0);
        const now = this.now();
        const { roster, outcomes } = applyRegistrations(current.roster, batch.map((p) => p.registration), now);
        try {
          await this.sweepNowAndThen();
          if (roster !== current.roster) await this.writeAtomically(roster, current.mode ?? 0o600);
        } catch (error) {
          throw new RosterUnavailableError('unwritable', { cause: error });
        }
        batch.forEach((p, i) => p.resolve({ outcome: outcomes[i]! }));
      } finally {
        await release();
      }
    } catch (error) {
      for (const p of batch ?? this.pending.splice(0, waiting)) p.reject(error);
    }
  }

  /**
   * The file as it is now. When its identity (inode, size, modification and
   * change times) is the one cached, the cached roster is that very file and
   * is used without parsing it again; any replacement or edit by another
   * program changes the identity.
   */
  private async current(): Promise<Roster> {
    return (await this.currentFile()).roster;
  }

  /** The file as it is now, with its permission bits (null when there is no file yet). */
  private async currentFile(): Promise<CurrentFile> {
    const stat = await this.statOrNull();
    if (stat === null) {
      this.cached = null;
      return { roster: emptyRoster(), mode: null };
    }
    const mode = Number(stat.mode & 0o777n);
    if (this.cached?.signature === signatureOf(stat)) return { roster: this.cached.roster, mode };
    return { roster: await this.load(), mode };
  }

  private async mkdirRoster(): Promise<void> {
    try {
      await this.fs.mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw new RosterUnavailableError('unwritable', { cause: error });
    }
  }

  private temporaryName(): string {
    return path.join(this.dir, `.${this.base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  }

  /** Whether a name in the folder is one of this roster's temporary files (not another roster's with a longer name). */
  private isTemporaryName(name: string): boolean {
    const prefix = `.${this.base}.`;
    return name.startsWith(prefix) && /^\d+\.[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length));
  }

  /**
   * Temporary files are left only by a writer that died mid-write, so they
   * are swept on this store's first write and then at most once a minute,
   * not on every write.
   */
  private async sweepNowAndThen(): Promise<void> {
    if (this.sweptAt !== null && performance.now() - this.sweptAt < SWEEP_INTERVAL_MS) return;
    await this.removeStaleTemporaries();
    this.sweptAt = performance.now();
  }

  /** Temporary files left by a writer that died; safe to remove while holding the lock. */
  private async removeStaleTemporaries(): Promise<void> {
    const names = await this.fs.readdir(this.dir);
    for (const name of names) {
      if (this.isTemporaryName(name)) {
        await this.fs.unlink(path.join(this.dir, name)).catch(() => undefined);
        this.log.warn({ file: name }, 'removed a temporary roster file left by an interrupted write');
      }
    }
  }

  /** Writes the roster in place of the file, keeping the file's permission bits (`mode`). */
  private async writeAtomically(roster: Roster, mode: number): Promise<void> {
    const chunks = serializeCanonicalChunks(roster);
    const temporary = this.temporaryName();
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
      await this.fs.rename(temporary, this.path);
    } catch (error) {
      await this.fs.unlink(temporary).catch(() => undefined);
      this.cached = null;
      throw error;
    }
    await this.syncFolder();
    const stat = await this.statOrNull();
    this.cached = stat ? { signature: signatureOf(stat), roster } : null;
  }

  /** Flushes the folder entry so the rename itself survives a power cut. */
  private async syncFolder(): Promise<void> {
    let handle: RosterFileHandle | undefined;
    try {
      handle = await this.fs.open(this.dir, 'r');
      await handle.sync();
    } catch (error) {
      // Some file systems refuse to flush a folder; the rename has happened.
      this.log.warn({ err: error }, 'could not flush the roster folder');
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  /** Waits for every queued registration to be written (for shutdown). */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
  }
}
