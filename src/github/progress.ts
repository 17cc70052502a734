/**
 * The progress reader (GitHub mode): for every learner in the roster, the
 * signals of derived progress (the enrollment issue's labels and comments,
 * the Learning Room's challenge issues and open pull requests) and the admin
 * repository's provisioning log, read in the background every
 * COMPANION_PROGRESS_INTERVAL seconds, a bounded number of requests at a
 * time, every read conditional (a 304 costs no rate limit).
 *
 * A repository's enrollment issues are read as its issue list, a hundred to
 * a request, where that takes no more pages than there are learners there to
 * read; an issue the list does not hold is read on its own.
 *
 * The result is a snapshot with the time it was taken. It is never written
 * back into the roster. When a refresh fails, the last snapshot stays, and
 * the problem is kept in words beside it; when only some learners' reads
 * fail, those learners keep their last signals.
 */
import type { GitHubConfig } from '../config.js';
import { isLinkableRepo, type Learner } from '../roster/contract.js';
import { keyOfLearner } from '../roster/incremental.js';
import type { Logger } from '../roster/errors.js';
import type { RosterStore } from '../roster/store.js';
import { GitHubError, type RepoRef } from './client.js';
import type { ProgressApi } from './progress-api.js';
import type { EnrollmentIssueSignal, LearnerSignals, ProvisioningLogEntry } from './progress-rules.js';

export interface ProgressSnapshot {
  /** When the refresh that made it began. */
  readonly takenAt: Date;
  /** Signals by learner key (`keyOfLearner`). */
  readonly signals: ReadonlyMap<string, LearnerSignals>;
  readonly provisioningLog: ReadonlyArray<ProvisioningLogEntry>;
  /** Learners whose signals could not be read this time (their last ones are kept). */
  readonly unread: number;
}

export interface ProgressState {
  readonly snapshot: ProgressSnapshot | null;
  readonly refreshing: boolean;
  /** The last refresh's problem, in words; null once one succeeds. */
  readonly problem: { readonly text: string; readonly at: Date } | null;
}

export interface ProgressOptions {
  now?: () => number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Path of the provisioning log in the admin repository. */
  provisioningLogPath?: string;
}

/** The repository of `owner/name`, or null. */
function repoOf(value: unknown): RepoRef | null {
  if (typeof value !== 'string' || !isLinkableRepo(value)) return null;
  const [owner, repo] = value.split('/') as [string, string];
  return { owner, repo };
}

/** The enrollment issues of one repository, by number (pull requests left out). */
type IssueIndex = ReadonlyMap<number, EnrollmentIssueSignal>;

const repoKey = (repo: RepoRef): string => `${repo.owner}/${repo.repo}`.toLowerCase();

/** A learner's enrollment issue: its repository and number, or null. */
function enrollmentOf(learner: Learner): { repo: RepoRef; number: number } | null {
  const repo = repoOf(learner.enrollment_repo);
  const number = learner.enrollment_issue_number;
  return repo !== null && typeof number === 'number' ? { repo, number } : null;
}

/** Runs `work` on each item, at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** How long stop() waits for a refresh in flight. */
const STOP_WAIT_MS = 2_000;

export class ProgressReader {
  private readonly now: () => number;
  private readonly concurrency: number;
  private readonly logPath: string;
  private current: ProgressState = { snapshot: null, refreshing: false, problem: null };
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private closed = false;
  /** How many pages each enrollment repository's issue list took when last read. */
  private readonly listPages = new Map<string, number>();

  constructor(
    private readonly config: GitHubConfig,
    private readonly api: ProgressApi,
    private readonly store: RosterStore,
    private readonly log: Logger,
    options: ProgressOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 4;
    this.logPath = options.provisioningLogPath ?? 'provisioning-log.json';
  }

  get state(): ProgressState {
    return this.current;
  }

  start(): void {
    if (!this.stopped || this.closed) return;
    this.stopped = false;
    void this.refreshNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A refresh writes nothing, so a shutdown waits for it only briefly (it may be waiting on GitHub's retries).
    const running = this.running;
    if (running === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Refreshes now, or joins the refresh in flight. */
  refreshNow(): Promise<void> {
    this.running ??= this.refresh().finally(() => {
      this.running = null;
      if (this.stopped) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.refreshNow(), this.config.progressIntervalSeconds * 1000);
      this.timer.unref();
    });
    return this.running;
  }

  private async refresh(): Promise<void> {
    const takenAt = new Date(this.now());
    this.current = { ...this.current, refreshing: true };
    try {
      const roster = await this.store.read();
      const admin = { owner: this.config.owner, repo: this.config.repo };
      const provisioningLog = await this.api.provisioningLog(admin, this.logPath, this.config.branch);
      const before = this.current.snapshot?.signals ?? new Map<string, LearnerSignals>();
      const signals = new Map<string, LearnerSignals>();
      let unread = 0;
      let firstProblem: GitHubError | null = null;
      const indexOf = this.enrollmentIndexes(roster.learners);
      await eachLimited(roster.learners, this.concurrency, async (learner) => {
        const key = keyOfLearner(learner);
        try {
          signals.set(key, await this.readLearner(learner, provisioningLog, indexOf));
        } catch (error) {
          if (!(error instanceof GitHubError)) throw error;
          unread += 1;
          firstProblem ??= error;
          const kept = before.get(key);
          if (kept) signals.set(key, kept);
        }
      });
      this.api.endRound();
      this.current = { snapshot: { takenAt, signals, provisioningLog, unread }, refreshing: false, problem: null };
      if (firstProblem !== null) {
        const text = `the progress of ${unread} ${unread === 1 ? 'learner' : 'learners'} could not be read: ${(firstProblem as GitHubError).plain}`;
        this.current = { ...this.current, problem: { text, at: takenAt } };
        this.log.warn({ unread }, `progress refresh: ${text}`);
      } else {
        this.log.info({ learners: roster.learners.length, requests: this.api.usage.full, notModified: this.api.usage.notModified }, 'progress refresh: done');
      }
    } catch (error) {
      const text = error instanceof GitHubError ? error.plain : `progress could not be read (${(error as Error)?.message ?? String(error)})`;
      this.current = { ...this.current, refreshing: false, problem: { text, at: takenAt } };
      this.log.warn({}, `progress refresh failed: ${text}; the last snapshot stays`);
    }
  }

  /**
   * For one refresh: each enrollment repository's issues by number, read once
   * as its issue list and shared by its learners; null for a repository whose
   * list took more pages last time than it has learners to read now, or whose
   * list could not be read.
   */
  private enrollmentIndexes(learners: readonly Learner[]): (repo: RepoRef) => Promise<IssueIndex | null> {
    const learnersIn = new Map<string, number>();
    for (const learner of learners) {
      const enrollment = enrollmentOf(learner);
      if (enrollment !== null) learnersIn.set(repoKey(enrollment.repo), (learnersIn.get(repoKey(enrollment.repo)) ?? 0) + 1);
    }
    const reads = new Map<string, Promise<IssueIndex | null>>();
    const read = async (repo: RepoRef, key: string): Promise<IssueIndex | null> => {
      if ((this.listPages.get(key) ?? 1) > (learnersIn.get(key) ?? 0)) return null;
      try {
        const { issues, pages } = await this.api.issuesOldestFirst(repo);
        this.listPages.set(key, pages);
        const index = new Map<number, EnrollmentIssueSignal>();
        for (const issue of issues) if (issue.pull_request === undefined) index.set(issue.number, issue);
        return index;
      } catch (error) {
        // A list that could not be read costs no learner their signals: each issue is read on its own this time.
        if (error instanceof GitHubError) return null;
        throw error;
      }
    };
    return (repo) => {
      const key = repoKey(repo);
      let pending = reads.get(key);
      if (pending === undefined) reads.set(key, (pending = read(repo, key)));
      return pending;
    };
  }

  private async enrollmentIssue(repo: RepoRef, number: number, indexOf: (repo: RepoRef) => Promise<IssueIndex | null>): Promise<EnrollmentIssueSignal | null> {
    return (await indexOf(repo))?.get(number) ?? (await this.api.issue(repo, number));
  }

  private async readLearner(learner: Learner, provisioningLog: ReadonlyArray<ProvisioningLogEntry>, indexOf: (repo: RepoRef) => Promise<IssueIndex | null>): Promise<LearnerSignals> {
    const enrollment = enrollmentOf(learner);
    const room = repoOf(learner.learning_room_repo);
    const [enrollmentIssue, comments] =
      enrollment !== null
        ? await Promise.all([this.enrollmentIssue(enrollment.repo, enrollment.number, indexOf), this.api.issueComments(enrollment.repo, enrollment.number)])
        : [null, []];
    const [roomIssues, openPullRequests] = room !== null ? await Promise.all([this.api.repositoryIssues(room), this.api.openPullRequests(room)]) : [[], []];
    return { enrollmentIssue, comments, roomIssues, openPullRequests, provisioningLog };
  }
}

