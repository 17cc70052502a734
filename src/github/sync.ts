/**
 * The roster sync (GitHub mode): registrations recorded in the local outbox
 * are applied on top of the newest roster of record and committed to the
 * admin repository with its blob `sha` as compare-and-swap; the local
 * working copy then follows the roster of record.
 *
 * - Only registrations and facilitators' edits are sent: a new learner (the
 *   contract's new-learner record), a new `path` for one already there, or
 *   one edited field (notes, provision state). Every other field, and a
 *   learner deleted from the roster of record, is left as the record has it;
 *   an edit whose field someone else changed meanwhile is not applied, and
 *   is reported (`editProblems`).
 * - A moved branch (409/422) is read again and the registrations re-applied,
 *   with jittered backoff and a bound; then again at the next round.
 * - A roster of record that breaks the contract is never written.
 * - No commit while a run of the provisioning workflow is queued or in
 *   progress, up to a bound; after committing new learners, or a learner
 *   marked `failed` to be provisioned again, the workflow is started, at
 *   most once per window.
 * - A burst of registrations is gathered into a few commits (rounds are
 *   started a short while after a registration, one at a time). Each commit
 *   sends the whole file, so after one, the next round a registration starts
 *   waits a second per megabyte committed, up to five seconds: a stream of
 *   registrations into a large roster does not become a continuous upload
 *   of it. And past a burst of twenty commits, commits are paced to one per
 *   ten seconds on average (a token bucket), well within the 80 a minute and
 *   500 an hour GitHub allows content-creating requests.
 * - Periodic reads are conditional (ETag), so an idle companion's pulls are
 *   answered 304 and cost no rate limit.
 */
import type { GitHubConfig } from '../config.js';
import { RosterInvalidError, emptyRoster, parseRoster, type LearnerEdit, type Roster } from '../roster/contract.js';
import { applyChanges, serializeCanonicalChunks, type ChangeOutcome } from '../roster/incremental.js';
import type { Logger } from '../roster/errors.js';
import { entryChange, type OutboxEntry } from '../roster/outbox.js';
import type { AppliedWaiting, RosterStore } from '../roster/store.js';
import { GitHubError, type GitHubApi, type RepoRef } from './client.js';

export interface SyncState {
  /** `owner/name` of the admin repository. */
  readonly repository: string;
  readonly rosterFile: string;
  /** The branch in use, once known. */
  readonly branch: string | null;
  /** When the roster of record was last read (or found unchanged). */
  readonly lastReadAt: Date | null;
  /** When a round last ended with nothing left undone that could be done. */
  readonly lastSuccessAt: Date | null;
  readonly lastCommit: { readonly sha: string; readonly changes: number; readonly at: Date } | null;
  /** Registrations and edits recorded here and not yet in a commit, as of the last look. */
  readonly pending: number;
  /** The last problem, in plain words; null once a round succeeds. */
  readonly problem: { readonly text: string; readonly at: Date } | null;
  /** Set while commits wait for a provisioning run to finish. */
  readonly waitingForProvisioningSince: Date | null;
  /** The last failure to start the provisioning workflow, if any since the last start. */
  readonly dispatchProblem: string | null;
  /** Facilitators' edits the roster of record could not take, newest last (at most EDIT_PROBLEMS_KEPT). */
  readonly editProblems: ReadonlyArray<EditProblem>;
}

/** An edit that was not applied to the roster of record, and why, in words. */
export interface EditProblem {
  readonly github_handle: string;
  readonly cohort_id: string;
  readonly field: LearnerEdit['field'];
  readonly text: string;
  readonly at: Date;
}

export const EDIT_PROBLEMS_KEPT = 50;

const FIELD_WORDS: Readonly<Record<LearnerEdit['field'], string>> = { notes: 'notes', provision_state: 'provisioning state' };

/** Why an edit was not applied, in words a facilitator can act on. */
function editProblemText(edit: LearnerEdit, outcome: 'conflict' | 'missing'): string {
  const field = FIELD_WORDS[edit.field];
  return outcome === 'missing'
    ? `${edit.github_handle} is no longer in the roster of record, so the change to their ${field} was not made.`
    : `Someone else changed the ${field} of ${edit.github_handle} in the roster of record before this change reached it, so it was not made. Open the learner's page to see them now, and make the change again if it is still wanted.`;
}

export interface SyncOptions {
  /** The clock (ms). */
  now?: () => number;
  random?: () => number;
  /** How long after a registration a round starts, so a burst shares a commit. */
  gatherMs?: number;
  /** After a commit, rounds started by registrations wait for its bytes at this rate (bytes a second)... */
  commitBytesPerSecond?: number;
  /** ...but never longer than this (ms). */
  maxCommitSpacingMs?: number;
  /** Commits that may follow one another without the steady pace below (a burst)... */
  commitBurst?: number;
  /** ...which then applies: at most one commit per this many ms on average. */
  commitEveryMs?: number;
  /** At most one start of the provisioning workflow per this many ms. */
  dispatchWindowMs?: number;
  /** How long commits wait for a provisioning run before going ahead anyway. */
  provisioningWaitMs?: number;
  /** How often a waiting round looks at the provisioning run again. */
  provisioningPollMs?: number;
  /** Compare-and-swap attempts per round before waiting for the next. */
  conflictAttempts?: number;
  /** Base of the jittered backoff between compare-and-swap attempts (ms). */
  conflictBackoffMs?: number;
  /** After a failed round, the next comes this soon, doubling with each failure in a row, up to the interval. */
  retryBaseMs?: number;
  /** How long stop() waits for the round in flight before leaving it behind. */
  stopWaitMs?: number;
}

const DEFAULTS = {
  gatherMs: 1_000,
  commitBytesPerSecond: 1_000_000,
  maxCommitSpacingMs: 5_000,
  // GitHub documents at most 80 content-creating requests a minute and 500 an hour: 20 in a row, then 360 an hour.
  commitBurst: 20,
  commitEveryMs: 10_000,
  dispatchWindowMs: 60_000,
  provisioningWaitMs: 10 * 60_000,
  provisioningPollMs: 15_000,
  conflictAttempts: 6,
  conflictBackoffMs: 250,
  retryBaseMs: 5_000,
  stopWaitMs: 2_000,
} as const;

/** The commit message: counts, never personal data. */
export function commitMessage(registrations: number, edits = 0): string {
  const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const parts = [registrations > 0 || edits === 0 ? counted(registrations, 'registration', 'registrations') : null, edits > 0 ? counted(edits, 'facilitator edit', 'facilitator edits') : null];
  return `Companion: ${parts.filter((p) => p !== null).join(', ')}`;
}

type RecordVersion = { roster: Roster; sha: string | null; etag: string | null };

/**
 * The roster to commit, from a working copy that is `record` with the
 * waiting changes applied in order: as applying them again would make it
 * (with `record` itself when none changed anything), dated `now`.
 */
function asCommitted(applied: AppliedWaiting, record: Roster, now: Date): { roster: Roster; outcomes: readonly ChangeOutcome[] } {
  const changed = applied.outcomes.some((o) => o === 'created' || o === 'updated' || o === 'edited');
  return { roster: changed ? { ...applied.roster, generated_at: now.toISOString() } : record, outcomes: applied.outcomes };
}

export class RosterSync {
  private readonly repo: RepoRef;
  private readonly options: Required<Omit<SyncOptions, 'now' | 'random'>>;
  private readonly now: () => number;
  private readonly random: () => number;
  private branch: string | null;
  /** The version of the roster of record the local copy was last made from. */
  private adopted: RecordVersion | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private dispatchTimer: NodeJS.Timeout | null = null;
  private lastDispatchAt = -Infinity;
  private round: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Set by stop(): nothing new is started after it. */
  private closed = false;
  /** Set when stop() stopped waiting for the round in flight: that round no longer touches the working copy or the outbox. */
  private abandoned = false;
  private notBefore = 0;
  /** Rounds started by registrations start no earlier than this (ms): the spacing after a commit. */
  private nextCommitAt = 0;
  /** Commits the budget allows now (a token bucket: `commitBurst` at most, one more every `commitEveryMs`), as of `budgetAt`. */
  private commitBudget: number;
  private budgetAt: number;
  /** Whether the last commit left the budget pacing the next. */
  private pacing = false;
  private waitingSince: number | null = null;
  /** Failed rounds in a row. */
  private failures = 0;
  private current: SyncState;

  constructor(
    private readonly config: GitHubConfig,
    private readonly api: GitHubApi,
    private readonly store: RosterStore,
    private readonly log: Logger,
    options: SyncOptions = {},
  ) {
    this.repo = { owner: config.owner, repo: config.repo };
    this.branch = config.branch;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.options = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof this.options;
    this.commitBudget = this.options.commitBurst;
    this.budgetAt = this.now();
    this.current = {
      repository: `${config.owner}/${config.repo}`,
      rosterFile: config.rosterFile,
      branch: config.branch,
      lastReadAt: null,
      lastSuccessAt: null,
      lastCommit: null,
      pending: 0,
      problem: null,
      waitingForProvisioningSince: null,
      dispatchProblem: null,
      editProblems: [],
    };
  }

  get state(): SyncState {
    return this.current;
  }

  /** Ready when the last round succeeded within three intervals (of the end of a wait for a commit's turn); otherwise why not, in a few words. */
  readiness(): { ready: true } | { ready: false; reason: string } {
    const last = this.current.lastSuccessAt;
    if (last === null) return { ready: false, reason: this.current.problem?.text ?? 'the roster has not been synced with GitHub yet' };
    // A wait for the next commit's turn (its spacing, or the pace) is deliberate: the three intervals count from its end.
    if (this.now() - Math.max(last.getTime(), this.nextCommitAt) > 3 * this.config.syncIntervalSeconds * 1000) {
      return { ready: false, reason: `the last successful sync with GitHub was at ${last.toISOString()}${this.current.problem ? `: ${this.current.problem.text}` : ''}` };
    }
    return { ready: true };
  }

  /** Starts the rounds: one now, then one every interval, and soon after each registration. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** A registration was recorded: a round starts shortly, so a burst shares one commit. */
  nudge(): void {
    if (this.stopped) return;
    if (this.round) this.again = true;
    else this.schedule(this.gatherDelay());
  }

  /** How long a round started by a registration waits: to gather a burst, and to space commits. */
  private gatherDelay(): number {
    return Math.max(this.options.gatherMs, this.nextCommitAt - this.now());
  }

  /**
   * Stops the rounds and waits for the one in flight, but not for long: a
   * round waiting on GitHub (the client's retries with backoff, timeouts)
   * would otherwise hold a shutdown for up to a minute. A round left behind
   * changes nothing here any more: what it was sending stays in the outbox
   * and is sent after the next start (and a commit it still makes is then
   * found already applied, so nothing is sent twice).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.dispatchTimer) clearTimeout(this.dispatchTimer);
    this.timer = this.dispatchTimer = null;
    this.timerAt = Infinity;
    const round = this.round;
    if (round === null) return;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      round.then(() => true, () => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.options.stopWaitMs))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      this.abandoned = true;
      this.log.warn({ waitedMs: this.options.stopWaitMs }, 'roster sync: stopped while a round was still waiting on GitHub; its registrations stay in the outbox and are sent after the next start');
    }
  }

  private firstRoundEnded!: () => void;
  /** Settles once the first round has ended, whatever its outcome. */
  readonly firstRound: Promise<void> = new Promise((resolve) => (this.firstRoundEnded = resolve));

  /** Runs one round now (or joins the one in flight). */
  syncNow(): Promise<void> {
    this.round ??= this.runRound().finally(() => {
      this.firstRoundEnded();
      this.round = null;
      if (this.stopped) return;
      const interval = this.config.syncIntervalSeconds * 1000;
      if (this.again) {
        this.again = false;
        this.schedule(this.gatherDelay());
      } else if (this.failures > 0) {
        this.schedule(Math.min(interval, this.options.retryBaseMs * 2 ** (this.failures - 1)));
      } else {
        this.schedule(interval);
      }
    });
    return this.round;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const wait = Math.max(delayMs, this.notBefore - this.now());
    const at = this.now() + wait;
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.syncNow();
    }, wait);
    this.timer.unref();
  }

  private update(change: Partial<SyncState>): void {
    this.current = { ...this.current, ...change };
  }

  private problem(text: string): void {
    this.update({ problem: { text, at: new Date(this.now()) } });
  }

  private succeeded(pending: number): void {
    this.update({ lastSuccessAt: new Date(this.now()), problem: null, pending, waitingForProvisioningSince: null });
    this.waitingSince = null;
  }

  private async runRound(): Promise<void> {
    try {
      await this.roundBody();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      if (error instanceof GitHubError) {
        if (error.retryAt !== null) this.notBefore = error.retryAt;
        this.problem(error.plain);
        this.log.warn({ problem: error.problem, status: error.status }, `roster sync failed: ${error.plain}`);
      } else {
        const text = `the local roster working copy could not be updated (${(error as Error)?.message ?? String(error)})`;
        this.problem(text);
        this.log.error({ err: error }, `roster sync failed: ${text}`);
      }
    }
  }

  private async resolveBranch(): Promise<string> {
    this.branch ??= await this.api.defaultBranch(this.repo);
    if (this.current.branch !== this.branch) this.update({ branch: this.branch });
    return this.branch;
  }

  /** The roster of record now; with `etag`, null when it has not changed since. */
  private async readRecord(branch: string, etag: string | null): Promise<RecordVersion | null> {
    const read = await this.api.readFile(this.repo, this.config.rosterFile, branch, etag);
    this.update({ lastReadAt: new Date(this.now()) });
    if (read.kind === 'unchanged') return null;
    if (read.kind === 'missing') return { roster: emptyRoster(), sha: null, etag: null };
    try {
      return { roster: parseRoster(read.file.text), sha: read.file.sha, etag: read.file.etag };
    } catch (error) {
      if (error instanceof RosterInvalidError) {
        throw new GitHubError('refused', `the roster in the admin repository is not valid, so nothing is committed until it is mended: ${error.problems.slice(0, 3).join('; ')}`, null);
      }
      throw error;
    }
  }

  private async roundBody(): Promise<void> {
    if (this.now() < this.notBefore) return;
    const branch = await this.resolveBranch();
    const { entries, applied } = await this.store.waitingOn(this.adopted?.roster ?? null);
    this.update({ pending: entries.length });
    if (entries.length > 0) return this.commitWaiting(branch, entries, applied);
    // Nothing waiting: a conditional read, answered 304 (no rate limit) while the roster of record is unchanged.
    const record = await this.readRecord(branch, this.adopted?.etag ?? null);
    if (record !== null && (this.adopted === null || record.sha !== this.adopted.sha)) await this.adopt(record, []);
    // The same version read in full (after a commit, whose answer carries no ETag): keep the roster object the working copy follows.
    else if (record !== null) this.adopted = { ...this.adopted!, etag: record.etag };
    this.succeeded(0);
  }

  /**
   * Commits the changes waiting. The version of the roster of record
   * this companion last read or committed is tried first, without reading it
   * again (the compare-and-swap refuses it if the branch moved, and it is
   * read then); only a batch that would change nothing on that version is
   * checked against a fresh read before its entries are dropped. On that
   * version the working copy, when `applied`, already is the roster to send.
   */
  private async commitWaiting(branch: string, entries: readonly OutboxEntry[], applied: AppliedWaiting | null): Promise<void> {
    if (this.pacedFor() > 0) return;
    if (await this.waitForProvisioning()) return;
    let known = this.adopted !== null;
    let record = this.adopted ?? (await this.readRecord(branch, null))!;
    for (let attempt = 1; ; attempt++) {
      const now = new Date(this.now());
      const fromWorkingCopy = known && applied?.record === record.roster;
      const { roster, outcomes } = fromWorkingCopy ? asCommitted(applied, record.roster, now) : applyChanges(record.roster, entries.map(entryChange), now);
      if (roster === record.roster) {
        if (known) {
          // Nothing to change on the version known here: make sure of it on the current one.
          known = false;
          record = (await this.readRecord(branch, null))!;
          continue;
        }
        // Everything waiting is already in the roster of record (or cannot be applied to it).
        this.reportRefused(entries, outcomes);
        this.succeeded(await this.adopt(record, entries));
        return;
      }
      const registrations = outcomes.filter((o) => o === 'created' || o === 'updated').length;
      const edits = outcomes.filter((o) => o === 'edited').length;
      const changes = registrations + edits;
      const content = serializeCanonicalChunks(roster);
      const result = await this.api.writeFile(this.repo, this.config.rosterFile, { branch, content, sha: record.sha, message: commitMessage(registrations, edits) });
      if (result.kind === 'committed') {
        const bytes = content.reduce((sum, chunk) => sum + chunk.length, 0);
        this.nextCommitAt = this.now() + Math.max(Math.min(this.options.maxCommitSpacingMs, (1000 * bytes) / this.options.commitBytesPerSecond), this.spendCommit());
        this.log.info({ changes, registrations, edits, entries: entries.length, commit: result.commitSha, attempt, fromWorkingCopy }, 'roster sync: committed changes to the roster of record');
        this.reportRefused(entries, outcomes);
        this.update({ lastCommit: { sha: result.commitSha, changes, at: now } });
        const waiting = await this.adopt({ roster, sha: result.blobSha, etag: null }, entries, record.roster);
        // New learners, and learners marked failed to be provisioned again, are the workflow's work.
        const toProvision = entries.some((e, i) => outcomes[i] === 'created' || (outcomes[i] === 'edited' && 'edit' in e && e.edit.field === 'provision_state' && e.edit.to === 'failed'));
        if (toProvision) this.requestDispatch();
        this.succeeded(waiting);
        return;
      }
      if (attempt >= this.options.conflictAttempts) {
        throw new GitHubError('server', `the roster in the admin repository changed during each of ${attempt} attempts to commit; the companion tries again shortly`, null);
      }
      const pause = this.options.conflictBackoffMs * 2 ** (attempt - 1) * (0.5 + this.random());
      this.log.info({ attempt, pauseMs: Math.round(pause) }, 'roster sync: the roster of record moved since it was read; reading it again');
      await new Promise((resolve) => setTimeout(resolve, pause));
      const previousSha = record.sha;
      const wasKnown = known;
      known = false;
      record = (await this.readRecord(branch, null))!;
      if (record.sha === previousSha && !wasKnown) {
        // Nothing moved: GitHub refused the commit itself (a rule on the branch, say), so trying again would not help.
        throw new GitHubError('refused', `GitHub refused the commit to ${this.config.rosterFile} (${result.status}${result.message ? `: ${result.message}` : ''}); check the rules on the branch and the token's permissions`, result.status);
      }
    }
  }

  /** The commits the budget allows now, refilled since it was last looked at. */
  private budgetNow(): number {
    const now = this.now();
    this.commitBudget = Math.min(this.options.commitBurst, this.commitBudget + (now - this.budgetAt) / this.options.commitEveryMs);
    this.budgetAt = now;
    return this.commitBudget;
  }

  /** How long until a budget of `budget` commits reaches one (ms). */
  private budgetWait(budget: number): number {
    return budget >= 1 ? 0 : Math.ceil((1 - budget) * this.options.commitEveryMs);
  }

  /**
   * Whichever timer started this round (a registration's, the interval's, a
   * retry's), no commit is made before the budget allows one: this round
   * ends (a deliberate wait, so the sync stays ready) and the next is set
   * for when it does. Returns that wait (ms), 0 when a commit may go now.
   */
  private pacedFor(): number {
    const wait = this.budgetWait(this.budgetNow());
    if (wait === 0) return 0;
    this.update({ lastSuccessAt: new Date(this.now()), problem: null });
    queueMicrotask(() => this.schedule(wait));
    return wait;
  }

  /**
   * Takes a commit from the budget; returns how long until the budget allows
   * the next (ms), 0 while a burst lasts. Logged when it starts to pace.
   */
  private spendCommit(): number {
    this.commitBudget = this.budgetNow() - 1;
    const wait = this.budgetWait(this.commitBudget);
    const wasPacing = this.pacing;
    this.pacing = wait > 0;
    if (this.pacing && !wasPacing) {
      this.log.info({ commitEveryMs: this.options.commitEveryMs, commitBurst: this.options.commitBurst }, 'roster sync: many commits in a row; the next ones are paced to stay well within the content-creation limits GitHub documents');
    }
    return wait;
  }

  /** Logs the changes the roster of record could not take; an edit's also kept in `editProblems` for the pages. */
  private reportRefused(entries: readonly OutboxEntry[], outcomes: readonly ChangeOutcome[]): void {
    const registrations: Array<{ github_handle: string; cohort_id: string; at: string }> = [];
    const problems: EditProblem[] = [];
    entries.forEach((entry, i) => {
      const outcome = outcomes[i];
      if ('registration' in entry && outcome === 'unknown-cohort') {
        registrations.push({ github_handle: entry.registration.github_handle, cohort_id: entry.registration.cohort_id, at: entry.at });
      } else if ('edit' in entry && (outcome === 'conflict' || outcome === 'missing')) {
        const { github_handle, cohort_id, field } = entry.edit;
        problems.push({ github_handle, cohort_id, field, text: editProblemText(entry.edit, outcome), at: new Date(this.now()) });
        // Never the notes themselves: they may say something personal.
        this.log.warn({ github_handle, cohort_id, field, outcome, at: entry.at }, 'roster sync: a facilitator edit was not applied to the roster of record');
      }
    });
    if (registrations.length > 0) {
      // The cohort was listed when the person registered here, and has since gone from the roster of record.
      this.log.warn({ registrations }, 'roster sync: registrations for a cohort the roster of record no longer lists are not sent; ask these learners to register again');
    }
    if (problems.length > 0) this.update({ editProblems: [...this.current.editProblems, ...problems].slice(-EDIT_PROBLEMS_KEPT) });
  }

  /** Makes the working copy follow `record` (committed from `basis`, when it is a commit's); returns how many changes still wait. */
  private async adopt(record: RecordVersion, committed: readonly OutboxEntry[], basis?: Roster): Promise<number> {
    if (this.abandoned) return this.current.pending;
    const waiting = await this.store.adoptRecord(record.roster, new Set(committed.map((e) => e.id)), basis);
    this.adopted = record;
    return waiting;
  }

  /**
   * True when commits should wait because the provisioning workflow is
   * running (its push would fail on a branch that moved). The wait is bounded.
   */
  private async waitForProvisioning(): Promise<boolean> {
    const provisioning = this.config.provisioning;
    if (provisioning === null) return false;
    const active = await this.api.activeRuns({ owner: provisioning.owner, repo: provisioning.repo }, provisioning.workflow);
    if (active === 0) {
      this.waitingSince = null;
      this.update({ waitingForProvisioningSince: null });
      return false;
    }
    const now = this.now();
    this.waitingSince ??= now;
    if (now - this.waitingSince >= this.options.provisioningWaitMs) {
      this.log.warn({ waitedMs: now - this.waitingSince }, 'roster sync: a provisioning run is still in progress after the longest wait; committing anyway');
      return false;
    }
    // Reading worked and waiting is deliberate: the sync is healthy, and /readyz stays ready.
    this.update({ waitingForProvisioningSince: new Date(this.waitingSince), lastSuccessAt: new Date(now), problem: null });
    this.log.info({ active }, 'roster sync: a provisioning run is in progress; the commit waits for it');
    this.again = false;
    queueMicrotask(() => this.schedule(this.options.provisioningPollMs));
    return true;
  }

  /** Starts the provisioning workflow now, or at the end of the current window. */
  private requestDispatch(): void {
    const provisioning = this.config.provisioning;
    if (provisioning === null || this.dispatchTimer !== null || this.closed) return;
    const wait = Math.max(0, this.lastDispatchAt + this.options.dispatchWindowMs - this.now());
    this.dispatchTimer = setTimeout(() => {
      this.dispatchTimer = null;
      this.lastDispatchAt = this.now();
      this.api.dispatchWorkflow({ owner: provisioning.owner, repo: provisioning.repo }, provisioning.workflow, provisioning.ref).then(
        () => {
          this.update({ dispatchProblem: null });
          this.log.info({ workflow: provisioning.workflow }, 'roster sync: started the provisioning workflow for new learners');
        },
        (error: unknown) => {
          const text = error instanceof GitHubError ? error.plain : String(error);
          this.update({ dispatchProblem: text });
          this.log.warn({ workflow: provisioning.workflow }, `roster sync: could not start the provisioning workflow: ${text}`);
        },
      );
    }, wait);
    this.dispatchTimer.unref();
  }
}
