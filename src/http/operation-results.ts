/**
 * The results of facilitator operations, kept for the page the facilitator
 * is sent to after doing one (POST, then 303, then GET): each result in its
 * own file in a folder beside the roster (`<roster>.results/<id>.json`), so
 * the page shows it after a restart too, and from any companion process
 * sharing the roster's folder.
 *
 * An id is 128 random bits: unguessable, and only signed-in facilitators
 * may open a result at all. A result is written atomically (a temporary file,
 * flushed, renamed) with mode 0600, like the roster beside it, and is removed
 * after a day. The log's audit lines, not these files, are the record of what
 * was done.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { OPERATIONS, OUTCOME_WORDS, type OperationResult } from '../github/operations.js';

/** How long a result is kept. */
export const RESULT_KEPT_MS = 24 * 60 * 60 * 1000;
/** How often, at most, old results are looked for and removed. */
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

/** A stored result, as the page shows it: the operation's result and where to go back to. */
export interface StoredResult extends OperationResult {
  readonly back: string;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** A light check of a file's shape: a damaged or foreign file is not shown. */
function isStoredResult(value: unknown): value is StoredResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const outcomes = Object.keys(OUTCOME_WORDS);
  const isOutcome = (o: unknown) => typeof o === 'object' && o !== null && outcomes.includes(String((o as { outcome?: unknown }).outcome)) && typeof (o as { text?: unknown }).text === 'string';
  return (
    (OPERATIONS as readonly unknown[]).includes(v.operation) &&
    typeof v.at === 'string' &&
    typeof v.back === 'string' &&
    typeof v.dryRun === 'boolean' &&
    (v.general === null || isOutcome(v.general)) &&
    Array.isArray(v.learners) &&
    v.learners.every((l) => isOutcome(l) && typeof (l as { github_handle?: unknown }).github_handle === 'string' && typeof (l as { cohort_id?: unknown }).cohort_id === 'string')
  );
}

export class OperationResults {
  private prunedAt = -Infinity;

  constructor(readonly dir: string, private readonly now: () => number = Date.now) {}

  /** The results' folder for a roster: beside it, on the same storage. */
  static besideRoster(rosterPath: string, now?: () => number): OperationResults {
    return new OperationResults(`${rosterPath}.results`, now);
  }

  /** Keeps a result; resolves to its id. */
  async save(result: StoredResult): Promise<string> {
    const id = randomBytes(16).toString('base64url');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${id}.json`);
    const temp = path.join(this.dir, `.${id}.${process.pid}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(result));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await this.prune();
    return id;
  }

  /** A kept result; null when there is none with that id (never kept, removed, or damaged). */
  async load(id: string): Promise<StoredResult | null> {
    if (!ID_RE.test(id)) return null;
    let text: string;
    try {
      text = await readFile(path.join(this.dir, `${id}.json`), 'utf8');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      const value: unknown = JSON.parse(text);
      return isStoredResult(value) && this.now() - Date.parse(value.at) < RESULT_KEPT_MS ? value : null;
    } catch {
      return null;
    }
  }

  /** Removes results older than a day (and temporary files left by an interrupted write), at most every few minutes. */
  private async prune(): Promise<void> {
    const now = this.now();
    if (now - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = now;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/^\.?[A-Za-z0-9_-]{22}(?:\.json|\.\d+\.tmp)$/.test(name)) continue;
      const file = path.join(this.dir, name);
      try {
        const info = await stat(file);
        if (now - info.mtimeMs > RESULT_KEPT_MS) await unlink(file);
      } catch {
        // Removed meanwhile by another process: nothing to do.
      }
    }
  }
}
