/**
 * The signed-out list: facilitator sessions that were signed out, kept in a
 * small file beside the roster (`<roster>.signed-out`) so that sign-out holds
 * across restarts and across every companion process sharing that roster.
 *
 * The file has one line per session, `<session id> <until (ms)>`; an entry
 * is dropped once its session would have ended anyway (its absolute
 * lifetime), so the file stays as small as the number of recent sign-outs.
 *
 * Writing: sign-outs are rare, so each one takes a cross-process lock
 * (proper-lockfile, the library the roster store uses, with its own
 * `<roster>.signed-out.lock`), re-reads the file, drops expired entries,
 * adds the new one, and replaces the file atomically (temporary file, flush,
 * rename). The lock is what keeps two processes signing out at once from
 * losing an entry; an append-only file would avoid the lock, but O_APPEND is
 * not atomic on network file systems (where a shared roster may well live),
 * and expired entries could then never be dropped safely.
 *
 * Reading: every request of a signed-in facilitator asks `has()`, which
 * costs one stat; the file is re-read only when its signature (inode, size,
 * times) changes. A file that cannot be read fails closed: `has()` throws,
 * and the request gets the error page rather than a session that may have
 * been signed out.
 */
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/** How long a sign-out waits for another process's sign-out to finish before failing. */
const LOCK_WAIT = { retries: 50, minTimeout: 10, maxTimeout: 100 };
/** A lock whose holder stopped refreshing it this long ago is taken over. */
const LOCK_STALE_MS = 10_000;

function signatureOf(info: BigIntStats): string {
  return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function parse(text: string): Map<string, number> {
  const entries = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z0-9_-]{1,100}) (\d{1,16})$/.exec(line);
    if (match) entries.set(match[1]!, Math.max(Number(match[2]), entries.get(match[1]!) ?? 0));
  }
  return entries;
}

export class SignedOutList {
  private cached: { signature: string; entries: Map<string, number> } | null = null;

  constructor(readonly path: string, private readonly now: () => number = Date.now) {}

  /** The list's file for a roster: beside it, on the same storage. */
  static besideRoster(rosterPath: string, now?: () => number): SignedOutList {
    return new SignedOutList(`${rosterPath}.signed-out`, now);
  }

  /** True when the session was signed out (and would not have ended yet anyway). */
  async has(sid: string): Promise<boolean> {
    const until = (await this.entries()).get(sid);
    return until !== undefined && until > this.now();
  }

  /** Records a signed-out session until `until` (ms), when it would have ended anyway. */
  async add(sid: string, until: number): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(sid)) throw new Error('a session id is base64url');
    await mkdir(path.dirname(this.path), { recursive: true });
    const release = await lockfile.lock(this.path, { realpath: false, lockfilePath: `${this.path}.lock`, stale: LOCK_STALE_MS, retries: LOCK_WAIT });
    try {
      const entries = parse(await readFile(this.path, 'utf8').catch((error: unknown) => (isMissing(error) ? '' : Promise.reject(error))));
      const now = this.now();
      for (const [id, end] of entries) if (end <= now) entries.delete(id);
      entries.set(sid, Math.max(until, entries.get(sid) ?? 0));
      await this.replace([...entries].map(([id, end]) => `${id} ${end}\n`).join(''));
    } finally {
      await release();
    }
    this.cached = null;
  }

  private async replace(text: string): Promise<void> {
    const temp = path.join(path.dirname(this.path), `.${path.basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }

  private async entries(): Promise<Map<string, number>> {
    let info: BigIntStats;
    try {
      info = await stat(this.path, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return new Map();
      throw error;
    }
    const signature = signatureOf(info);
    if (this.cached?.signature !== signature) {
      const text = await readFile(this.path, 'utf8');
      // Cache against the signature seen before the read: if the file changed in between, the next stat differs and reads again.
      this.cached = { signature, entries: parse(text) };
    }
    return this.cached.entries;
  }
}
