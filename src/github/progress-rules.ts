/**
 * Derived progress: the workshop's rules for reading a learner's progress
 * from the signals GitHub holds (`github.md`, "Derived progress";
 * `roster-contract.md`, "Progress signals"). This module is those rules,
 * written plainly; the progress reader (GitHub calls, caching) feeds it and
 * the dashboard shows what it returns.
 *
 * Pure: no I/O, no clock except `context.now`, no caches. Every input and
 * every result is read-only; a result holds only strings, numbers, booleans
 * and null, so a snapshot can be cached or serialised as it is. Nothing here
 * is ever written back into the roster.
 *
 * Where the specification is silent, the choice made is written beside the
 * rule that makes it.
 */
import { derivedFrom } from '../lib/derived.js';
import { momentWords } from '../lib/moments.js';
import {
  PROVISION_STATES,
  STATUSES,
  learnerPath,
  learnerProvisionState,
  normalizeHandle,
  type Cohort,
  type Learner,
  type LearnerStatus,
  type Learners,
  type ProvisionState,
} from '../roster/contract.js';

// ---------------------------------------------------------------------------
// Thresholds and constants
// ---------------------------------------------------------------------------

export type Thresholds = Readonly<{
  /** The current challenge not updated for this long, while the cohort runs: stuck (`COMPANION_STUCK_MINUTES`). */
  stuckMinutes: number;
  /** An open, non-draft pull request opened at least this long ago: needs review. */
  reviewAfterMinutes: number;
  /** Still `pending` in the roster this long after registering: pending too long. */
  pendingTooLongMinutes: number;
  /** No activity for this long while the cohort runs: listed as no activity. */
  noActivityHours: number;
  /** How long a cohort runs from its `opens_at`: two days. */
  cohortRunHours: number;
}>;

export const DEFAULT_THRESHOLDS: Thresholds = Object.freeze({
  stuckMinutes: 20,
  // Not in the specification: an hour is long enough that a facilitator is
  // not paged for a pull request opened a moment ago, short enough that a
  // learner is not left waiting for most of a session.
  reviewAfterMinutes: 60,
  // Not in the specification: the companion starts the provisioning workflow
  // right after it commits new learners, and a run takes minutes, so an hour
  // means something went wrong.
  pendingTooLongMinutes: 60,
  noActivityHours: 24,
  cohortRunHours: 48,
});

/** What every rule here is given besides the learner and the signals. */
export type ProgressContext = Readonly<
  {
    /** The time the rules are evaluated at: the only clock. */
    now: Date;
    /** The roster's cohorts; a learner's cohort is the one with its exact `cohort_id`. */
    cohorts?: ReadonlyArray<Cohort>;
  } & Partial<Thresholds>
>;

/** Day 1 is complete when this challenge is closed. */
export const DAY_ONE_FINAL_CHALLENGE = 9;

/** The enrollment issue's labels the status rule reads. */
export const LABELS = Object.freeze({
  acked: 'acked',
  needsInfo: 'needs-info',
  day1Complete: 'day1-complete',
  day2Released: 'day2-released',
});

/** The words a learner's own comment may say, each as a whole word. */
export const WORDS = Object.freeze({ ack: 'ack', day1Complete: 'day1-complete' });
export type SignalWord = (typeof WORDS)[keyof typeof WORDS];

// ---------------------------------------------------------------------------
// The signals, as the GitHub REST API names them (only the fields used)
// ---------------------------------------------------------------------------

/** A label on an issue: the API gives objects with a `name`; a plain name is accepted too. */
export type LabelSignal = string | Readonly<{ name?: string | null }>;

/** `GET /repos/{o}/{r}/issues/{n}`: the learner's enrollment issue. */
export type EnrollmentIssueSignal = Readonly<{
  state: 'open' | 'closed';
  labels: ReadonlyArray<LabelSignal>;
}>;

/** `GET /repos/{o}/{r}/issues/{n}/comments`: `user` is null for a deleted account. */
export type IssueCommentSignal = Readonly<{
  user: Readonly<{ login: string }> | null;
  body?: string | null;
  created_at: string;
}>;

/** `GET /repos/{o}/{r}/issues?state=all`: an entry with a `pull_request` key is a pull request. */
export type RoomIssueSignal = Readonly<{
  number: number;
  title: string;
  state: 'open' | 'closed';
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  labels?: ReadonlyArray<LabelSignal>;
  pull_request?: unknown;
}>;

/** `GET /repos/{o}/{r}/pulls?state=open`. */
export type PullRequestSignal = Readonly<{
  number: number;
  title: string;
  user: Readonly<{ login: string }> | null;
  created_at: string;
  updated_at: string;
  draft?: boolean;
}>;

export const PROVISIONING_RESULTS = ['created', 'already-exists', 'healed', 'error'] as const;
export type ProvisioningResult = (typeof PROVISIONING_RESULTS)[number];

/** One entry of the admin repository's `provisioning-log.json`. */
export type ProvisioningLogEntry = Readonly<{
  github_handle: string;
  cohort_id: string;
  attempt_at: string;
  result: ProvisioningResult;
  repo?: string | null;
  template_sha?: string | null;
  error_detail?: string | null;
}>;

/** Everything read from GitHub for one learner. */
export type LearnerSignals = Readonly<{
  /** Null when the roster records no enrollment issue, or it could not be read. */
  enrollmentIssue: EnrollmentIssueSignal | null;
  /** All comments on the enrollment issue, by anyone: the rules pick the learner's own. */
  comments: ReadonlyArray<IssueCommentSignal>;
  /** All issues of the Learning Room, pull requests included: the rules pick the challenges. */
  roomIssues: ReadonlyArray<RoomIssueSignal>;
  openPullRequests: ReadonlyArray<PullRequestSignal>;
  /** The provisioning log, whole or in part: the rules pick this learner's entries. */
  provisioningLog: ReadonlyArray<ProvisioningLogEntry>;
}>;

// ---------------------------------------------------------------------------
// The result
// ---------------------------------------------------------------------------

/** Why a status was derived: one signal, and when it happened where GitHub says. */
export type StatusEvidence =
  /** A label on the enrollment issue. The issue does not say when a label was added. */
  | Readonly<{ signal: 'label'; label: string; at: null }>
  /** The learner's own comment saying the word (the earliest one). */
  | Readonly<{ signal: 'comment'; word: SignalWord; author: string; at: string | null }>
  /** A closed challenge (the first one closed). */
  | Readonly<{ signal: 'challenge'; challenge: number; issue: number; at: string | null }>
  /** The learner chose the Day 2 only path. */
  | Readonly<{ signal: 'path'; path: 'day2-only'; at: null }>;

export type ChallengeIssue = Readonly<{
  /** N in "Challenge N". */
  challenge: number;
  /** The issue's number in the Learning Room. */
  issue: number;
  title: string;
  state: 'open' | 'closed';
  updatedAt: string | null;
  closedAt: string | null;
}>;

export type StuckOn = Readonly<{
  challenge: number;
  issue: number;
  /** The later of the issue's last update and the cohort's opening: time before the cohort opened does not count. */
  idleSince: string;
}>;

export type AwaitingReview = Readonly<{
  number: number;
  title: string;
  author: string | null;
  openedAt: string;
}>;

export type ActivitySignal = 'comment' | 'challenge' | 'pull-request';

export type LearnerProgress = Readonly<{
  status: LearnerStatus;
  /** The signals behind `status`, at most one of each kind; empty for `awaiting-ack`. */
  evidence: ReadonlyArray<StatusEvidence>;
  /** Every challenge issue, by challenge number then issue number. */
  challenges: ReadonlyArray<ChallengeIssue>;
  /** How many distinct challenge numbers have a closed issue. */
  challengesCompleted: number;
  /** The lowest challenge number with an open issue; null when none is open. */
  currentChallenge: number | null;
  /** Challenge 9 is closed. */
  dayOneComplete: boolean;
  stuck: StuckOn | null;
  /** Open, non-draft pull requests opened at least `reviewAfterMinutes` ago, the longest-waiting first. */
  awaitingReview: ReadonlyArray<AwaitingReview>;
  needsReview: boolean;
  lastActivity: Readonly<{ at: string; signal: ActivitySignal }> | null;
  /** This learner's provisioning attempts, oldest first. */
  provisioningAttempts: ReadonlyArray<ProvisioningLogEntry>;
  lastProvisioningAttempt: ProvisioningLogEntry | null;
  enrollmentIssueState: 'open' | 'closed' | null;
}>;

// ---------------------------------------------------------------------------
// Small rules
// ---------------------------------------------------------------------------

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The thresholds in force: the context's where it gives a finite, non-negative number, the defaults elsewhere. */
export function thresholdsOf(context: ProgressContext): Thresholds {
  const pick = (name: keyof Thresholds): number => {
    const value = context[name];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_THRESHOLDS[name];
  };
  return {
    stuckMinutes: pick('stuckMinutes'),
    reviewAfterMinutes: pick('reviewAfterMinutes'),
    pendingTooLongMinutes: pick('pendingTooLongMinutes'),
    noActivityHours: pick('noActivityHours'),
    cohortRunHours: pick('cohortRunHours'),
  };
}

/** Milliseconds since the epoch, or null for a missing or unreadable time. */
function timeOf(value: string | null | undefined): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** A time as a normalised ISO string, or null. */
function isoOf(value: string | null | undefined): string | null {
  const ms = timeOf(value);
  return ms === null ? null : new Date(ms).toISOString();
}

/** Earliest first; unreadable times last. */
function byTime(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  return a - b;
}

/** The cohort a learner belongs to: the one with exactly its `cohort_id`. */
export function cohortOf(learner: Learner, cohorts: ReadonlyArray<Cohort> = []): Cohort | null {
  return cohorts.find((c) => c.cohort_id === learner.cohort_id) ?? null;
}

/**
 * A cohort runs from its `opens_at` for `runHours` (two days unless the
 * context says otherwise): `opens_at <= now < opens_at + runHours`. A cohort
 * without a readable `opens_at` (or no cohort at all) is never said to be
 * running, so nobody in it is called stuck or inactive on a guess.
 */
export function cohortRunning(cohort: Cohort | null | undefined, now: Date, runHours: number = DEFAULT_THRESHOLDS.cohortRunHours): boolean {
  const opens = timeOf(cohort?.opens_at);
  if (opens === null) return false;
  const t = now.getTime();
  return t >= opens && t < opens + runHours * HOUR;
}

/** A GitHub login compared as GitHub does: without case; the roster's handle may carry a leading `@`. */
function sameLogin(login: string | null | undefined, handle: string): boolean {
  return typeof login === 'string' && normalizeHandle(login).toLowerCase() === normalizeHandle(handle).toLowerCase();
}

/**
 * The words a comment says itself. An e-mailed reply carries the message it
 * answers as quoted lines (`> reply ack to confirm`): a line whose first
 * non-blank character is `>` is someone else's text and is left out, so a
 * facilitator's instruction quoted back never counts as the learner's ack,
 * while the learner's own lines around it still do. Hidden HTML comments
 * (`<!-- ... -->`, as issue templates leave) are not the learner's words
 * either. Text quoted without `>` (some mail programs' "Original Message"
 * style) cannot be told apart and counts.
 */
export function ownText(body: string | null | undefined): string {
  if (typeof body !== 'string') return '';
  return body
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .split(/\r\n|\r|\n/)
    .filter((line) => !/^\s*>/.test(line))
    .join('\n');
}

// A whole word: not touching a letter, a digit, `_` or `-` on either side, so
// `ack` matches "ack", "Ack!", "`ack`", but not "acknowledge", "backtrack",
// "ack-ing" or "re-ack". Case does not matter.
const WORD_EDGE = '[\\p{L}\\p{N}\\p{M}_-]';
function wordPattern(word: string): RegExp {
  // Outside a character class, so `-` needs no escape (the `u` flag refuses one).
  const escaped = word.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`(?<!${WORD_EDGE})${escaped}(?!${WORD_EDGE})`, 'iu');
}

/** The comment's own text (see `ownText`) says `word` as a whole word. */
export function saysWord(body: string | null | undefined, word: string): boolean {
  return wordPattern(word).test(ownText(body));
}

/**
 * N when a title names a challenge as GitHub shows it: "Challenge N" at the
 * start, any case, N a whole number, then the end of the title or a
 * separator (`:`, a dash, a space) before its name: "Challenge 3",
 * "challenge 3: Open an issue", "Challenge 3 - Open an issue". Not
 * "Challenge 3.5", "Challenge 3a", "Challenge #3" or "Re: Challenge 3".
 */
export function challengeNumber(title: string): number | null {
  const match = /^\s*challenge\s+(\d+)(?=$|\s|:|-|\u2013|\u2014)/iu.exec(title);
  if (match === null) return null;
  const n = Number(match[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/** An entry of the issues list with a `pull_request` key is a pull request, never a challenge. */
export function isPullRequest(issue: RoomIssueSignal): boolean {
  return 'pull_request' in issue && issue.pull_request !== undefined;
}

function labelNames(labels: ReadonlyArray<LabelSignal> | undefined): ReadonlyArray<string> {
  return (labels ?? []).flatMap((label) => {
    const name = typeof label === 'string' ? label : label.name;
    return typeof name === 'string' ? [name.trim().toLowerCase()] : [];
  });
}

/** A provisioning-log entry is this learner's: same handle without case or `@`, exactly the same cohort id. */
export function isLearnersLogEntry(entry: ProvisioningLogEntry, learner: Learner): boolean {
  return sameLogin(entry.github_handle, learner.github_handle) && entry.cohort_id === learner.cohort_id;
}

// ---------------------------------------------------------------------------
// The status rule
// ---------------------------------------------------------------------------

/** What the status rule looks at, gathered once. */
type StatusFacts = Readonly<{
  labels: ReadonlyArray<string>;
  ownComments: ReadonlyArray<IssueCommentSignal>;
  challenges: ReadonlyArray<ChallengeIssue>;
  dayTwoOnly: boolean;
}>;

function labelEvidence(facts: StatusFacts, label: string): StatusEvidence[] {
  return facts.labels.includes(label) ? [{ signal: 'label', label, at: null }] : [];
}

/** The learner's earliest own comment saying the word. */
function commentEvidence(facts: StatusFacts, word: SignalWord): StatusEvidence[] {
  const saying = facts.ownComments.filter((c) => saysWord(c.body, word));
  const first = [...saying].sort((a, b) => byTime(timeOf(a.created_at), timeOf(b.created_at)))[0];
  return first === undefined ? [] : [{ signal: 'comment', word, author: first.user?.login ?? '', at: isoOf(first.created_at) }];
}

/** The first challenge closed. */
function closedChallengeEvidence(facts: StatusFacts): StatusEvidence[] {
  const closed = facts.challenges.filter((c) => c.state === 'closed');
  const first = [...closed].sort((a, b) => byTime(timeOf(a.closedAt), timeOf(b.closedAt)) || a.challenge - b.challenge)[0];
  return first === undefined ? [] : [{ signal: 'challenge', challenge: first.challenge, issue: first.issue, at: first.closedAt }];
}

function dayTwoOnlyEvidence(facts: StatusFacts): StatusEvidence[] {
  return facts.dayTwoOnly ? [{ signal: 'path', path: 'day2-only', at: null }] : [];
}

/**
 * The workshop's status rule, highest first: the first status with any
 * evidence wins; with none, `awaiting-ack`. Within a status the evidence is
 * listed label first, then the learner's own comment, then the rest.
 */
const STATUS_RULE: ReadonlyArray<Readonly<{ status: LearnerStatus; evidence: (facts: StatusFacts) => StatusEvidence[] }>> = [
  { status: 'needs-info', evidence: (f) => labelEvidence(f, LABELS.needsInfo) },
  { status: 'day2-released', evidence: (f) => labelEvidence(f, LABELS.day2Released) },
  {
    status: 'day1-complete',
    evidence: (f) => [...labelEvidence(f, LABELS.day1Complete), ...commentEvidence(f, WORDS.day1Complete), ...dayTwoOnlyEvidence(f)],
  },
  {
    status: 'active-day1',
    evidence: (f) => [...labelEvidence(f, LABELS.acked), ...commentEvidence(f, WORDS.ack), ...closedChallengeEvidence(f)],
  },
];

/** The derived status and its evidence. */
export function deriveStatus(
  learner: Learner,
  signals: Pick<LearnerSignals, 'enrollmentIssue' | 'comments' | 'roomIssues'>,
): Readonly<{ status: LearnerStatus; evidence: ReadonlyArray<StatusEvidence> }> {
  const facts: StatusFacts = {
    labels: labelNames(signals.enrollmentIssue?.labels),
    ownComments: signals.comments.filter((c) => sameLogin(c.user?.login, learner.github_handle)),
    challenges: challengesOf(signals.roomIssues),
    dayTwoOnly: learnerPath(learner) === 'day2-only',
  };
  for (const level of STATUS_RULE) {
    const evidence = level.evidence(facts);
    if (evidence.length > 0) return { status: level.status, evidence };
  }
  return { status: 'awaiting-ack', evidence: [] };
}

// ---------------------------------------------------------------------------
// Challenges, review, activity, provisioning
// ---------------------------------------------------------------------------

/** The Learning Room's challenge issues: not pull requests, titled "Challenge N". */
export function challengesOf(roomIssues: ReadonlyArray<RoomIssueSignal>): ReadonlyArray<ChallengeIssue> {
  return roomIssues
    .flatMap((issue): ChallengeIssue[] => {
      if (isPullRequest(issue)) return [];
      const challenge = challengeNumber(issue.title);
      if (challenge === null) return [];
      return [
        {
          challenge,
          issue: issue.number,
          title: issue.title,
          state: issue.state === 'closed' ? 'closed' : 'open',
          updatedAt: isoOf(issue.updated_at),
          closedAt: isoOf(issue.closed_at),
        },
      ];
    })
    .sort((a, b) => a.challenge - b.challenge || a.issue - b.issue);
}

/**
 * Stuck: the cohort is running and the current challenge has not moved for
 * `stuckMinutes`. When more than one open issue carries the current number,
 * the most recently updated one counts. Time before the cohort opened does
 * not count, so nobody is stuck the moment a cohort starts.
 */
function stuckOn(
  challenges: ReadonlyArray<ChallengeIssue>,
  current: number | null,
  cohort: Cohort | null,
  now: Date,
  thresholds: Thresholds,
): StuckOn | null {
  if (current === null || !cohortRunning(cohort, now, thresholds.cohortRunHours)) return null;
  const open = challenges.filter((c) => c.challenge === current && c.state === 'open');
  const updated = (c: ChallengeIssue): number => timeOf(c.updatedAt) ?? Number.NEGATIVE_INFINITY;
  const latest = open.reduce<ChallengeIssue | undefined>((best, c) => (best === undefined || updated(c) > updated(best) ? c : best), undefined);
  if (latest === undefined) return null;
  const opens = timeOf(cohort?.opens_at) ?? 0;
  const idleSince = Math.max(timeOf(latest.updatedAt) ?? opens, opens);
  if (now.getTime() - idleSince < thresholds.stuckMinutes * MINUTE) return null;
  return { challenge: current, issue: latest.issue, idleSince: new Date(idleSince).toISOString() };
}

/**
 * Needs review: an open pull request that is not a draft, opened at least
 * `reviewAfterMinutes` ago. Any author counts (the Learning Room is the
 * learner's); the age is from `created_at`, since a push to it is not a review.
 */
function awaitingReviewOf(pulls: ReadonlyArray<PullRequestSignal>, now: Date, thresholds: Thresholds): ReadonlyArray<AwaitingReview> {
  return pulls
    .flatMap((pr): Array<AwaitingReview & { ms: number }> => {
      const opened = timeOf(pr.created_at);
      if (pr.draft === true || opened === null || now.getTime() - opened < thresholds.reviewAfterMinutes * MINUTE) return [];
      return [{ number: pr.number, title: pr.title, author: pr.user?.login ?? null, openedAt: new Date(opened).toISOString(), ms: opened }];
    })
    .sort((a, b) => a.ms - b.ms || a.number - b.number)
    .map(({ ms: _ms, ...rest }) => rest);
}

/** The latest of: the learner's own comments, updates to challenge issues, updates to open pull requests. */
function lastActivityOf(
  ownComments: ReadonlyArray<IssueCommentSignal>,
  challenges: ReadonlyArray<ChallengeIssue>,
  pulls: ReadonlyArray<PullRequestSignal>,
): LearnerProgress['lastActivity'] {
  const moments: Array<{ ms: number | null; signal: ActivitySignal }> = [
    ...ownComments.map((c) => ({ ms: timeOf(c.created_at), signal: 'comment' as const })),
    ...challenges.map((c) => ({ ms: timeOf(c.updatedAt), signal: 'challenge' as const })),
    ...pulls.map((p) => ({ ms: timeOf(p.updated_at), signal: 'pull-request' as const })),
  ];
  let latest: { ms: number; signal: ActivitySignal } | null = null;
  for (const { ms, signal } of moments) {
    if (ms !== null && (latest === null || ms > latest.ms)) latest = { ms, signal };
  }
  return latest === null ? null : { at: new Date(latest.ms).toISOString(), signal: latest.signal };
}

/** The key a provisioning-log entry and a learner share: the login as `sameLogin` compares it, and the exact cohort id. */
function logKey(login: string, cohortId: string): string {
  return `${normalizeHandle(login).toLowerCase()}\u0000${cohortId}`;
}

/**
 * Every learner's provisioning attempts, oldest first, by `logKey`, made in
 * one pass over the log (once per log read: looking through the whole log
 * for each learner would grow with learners times entries). Entries whose
 * `attempt_at` cannot be read are left out; at the same time, the later
 * entry in the log counts as the later attempt.
 */
const attemptsByLearner = derivedFrom<ReadonlyArray<ProvisioningLogEntry>, ReadonlyMap<string, ReadonlyArray<ProvisioningLogEntry>>>((log) => {
  const timed = new Map<string, Array<{ entry: ProvisioningLogEntry; index: number; ms: number }>>();
  log.forEach((entry, index) => {
    const ms = timeOf(entry.attempt_at);
    if (ms === null || typeof entry.github_handle !== 'string' || typeof entry.cohort_id !== 'string') return;
    const key = logKey(entry.github_handle, entry.cohort_id);
    let list = timed.get(key);
    if (list === undefined) timed.set(key, (list = []));
    list.push({ entry, index, ms });
  });
  return new Map([...timed].map(([key, list]) => [key, list.sort((a, b) => a.ms - b.ms || a.index - b.index).map((e) => e.entry)]));
});

/** This learner's provisioning attempts (entries that are `isLearnersLogEntry`), oldest first. */
function provisioningAttemptsOf(log: ReadonlyArray<ProvisioningLogEntry>, learner: Learner): ReadonlyArray<ProvisioningLogEntry> {
  return attemptsByLearner.get(log).get(logKey(learner.github_handle, learner.cohort_id)) ?? [];
}

// ---------------------------------------------------------------------------
// Per learner
// ---------------------------------------------------------------------------

/** Everything the dashboard shows about one learner's progress, from that learner's signals. */
export function deriveProgress(learner: Learner, signals: LearnerSignals, context: ProgressContext): LearnerProgress {
  const thresholds = thresholdsOf(context);
  const { status, evidence } = deriveStatus(learner, signals);
  const challenges = challengesOf(signals.roomIssues);
  const closedNumbers = new Set(challenges.filter((c) => c.state === 'closed').map((c) => c.challenge));
  const openNumbers = challenges.filter((c) => c.state === 'open').map((c) => c.challenge);
  const currentChallenge = openNumbers.length === 0 ? null : Math.min(...openNumbers);
  const awaitingReview = awaitingReviewOf(signals.openPullRequests, context.now, thresholds);
  const ownComments = signals.comments.filter((c) => sameLogin(c.user?.login, learner.github_handle));
  const provisioningAttempts = provisioningAttemptsOf(signals.provisioningLog, learner);
  return {
    status,
    evidence,
    challenges,
    challengesCompleted: closedNumbers.size,
    currentChallenge,
    dayOneComplete: closedNumbers.has(DAY_ONE_FINAL_CHALLENGE),
    stuck: stuckOn(challenges, currentChallenge, cohortOf(learner, context.cohorts), context.now, thresholds),
    awaitingReview,
    needsReview: awaitingReview.length > 0,
    lastActivity: lastActivityOf(ownComments, challenges, signals.openPullRequests),
    provisioningAttempts,
    lastProvisioningAttempt: provisioningAttempts.at(-1) ?? null,
    enrollmentIssueState: signals.enrollmentIssue?.state ?? null,
  };
}

// ---------------------------------------------------------------------------
// Needs attention
// ---------------------------------------------------------------------------

export const ATTENTION_KINDS = ['provisioning-failed', 'pending-too-long', 'needs-info', 'stuck', 'needs-review', 'no-activity'] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/** One reason a facilitator should look at a learner, in words they can act on. */
export type AttentionReason = Readonly<{ kind: AttentionKind; sentence: string }>;

/** "2 March 2026 at 16:05 UTC". */
export function formatMoment(iso: string): string {
  const ms = timeOf(iso);
  return ms === null ? 'an unknown time' : momentWords(ms);
}

/**
 * A length of time as a facilitator says it, rounded down to its largest
 * unit: "less than a minute", "a minute", "35 minutes", "an hour",
 * "3 hours", "a day", "2 days".
 */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / MINUTE);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 60) return minutes === 1 ? 'a minute' : `${minutes} minutes`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? 'an hour' : `${hours} hours`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'a day' : `${days} days`;
}

const ERROR_DETAIL_MAX = 300;

/** An error detail on one line, cut short when long: it is a log excerpt, not a page. */
function oneLine(detail: string | null | undefined): string {
  const text = (detail ?? '').replace(/\s+/g, ' ').trim();
  if (text === '') return 'no error detail was recorded';
  return text.length > ERROR_DETAIL_MAX ? `${text.slice(0, ERROR_DETAIL_MAX - 3)}...` : text;
}

const SUCCESSFUL_RESULTS: ReadonlySet<ProvisioningResult> = new Set(['created', 'already-exists', 'healed']);

function provisioningFailed(learner: Learner, progress: LearnerProgress | null): string | null {
  const last = progress?.lastProvisioningAttempt ?? null;
  if (last?.result === 'error') return `Provisioning failed on ${formatMoment(last.attempt_at)}: ${oneLine(last.error_detail)}`;
  if (learnerProvisionState(learner) !== 'failed') return null;
  if (last === null) return 'Provisioning failed, and the provisioning log has no attempt for this learner';
  return `Provisioning is marked failed in the roster; the last attempt, on ${formatMoment(last.attempt_at)}, ended "${last.result}"`;
}

/**
 * The time the attention rules are evaluated at, noting as they look at it
 * the earliest later time at which anything they found could read
 * differently: a threshold reached, a cohort opening or closing, or a
 * duration's words changing ("39 minutes" to "40 minutes"). Until then, the
 * same rules give the same reasons, word for word.
 */
class AttentionClock {
  /** The earliest later time at which anything could read differently. */
  until = Number.POSITIVE_INFINITY;
  /** The earliest later time at which a reason could come or go (a threshold, a cohort's opening or closing); words alone may change before. */
  kindsUntil = Number.POSITIVE_INFINITY;
  constructor(readonly now: number) {}

  private wordsChangeAt(t: number): void {
    if (t > this.now && t < this.until) this.until = t;
  }

  private kindsChangeAt(t: number): void {
    this.wordsChangeAt(t);
    if (t > this.now && t < this.kindsUntil) this.kindsUntil = t;
  }

  /** now < t */
  before(t: number): boolean {
    this.kindsChangeAt(t);
    return this.now < t;
  }

  /** At least `ms` since `anchor`. */
  reached(anchor: number, ms: number): boolean {
    this.kindsChangeAt(anchor + ms);
    return this.now - anchor >= ms;
  }

  /** `formatDuration` of the time since `anchor` (none when it is not known). */
  durationSince(anchor: number | null): string {
    if (anchor === null) return formatDuration(0);
    const elapsed = this.now - anchor;
    this.wordsChangeAt(anchor + nextDurationStep(elapsed));
    return formatDuration(elapsed);
  }

  /** `cohortRunning` at this time. */
  running(cohort: Cohort | null, runHours: number): boolean {
    const opens = timeOf(cohort?.opens_at);
    if (opens === null) return false;
    return !this.before(opens) && this.before(opens + runHours * HOUR);
  }
}

/** The least elapsed time, above `elapsed`, at which `formatDuration` gives other words. */
function nextDurationStep(elapsed: number): number {
  if (elapsed < 0) return MINUTE;
  const minutes = Math.floor(elapsed / MINUTE);
  if (minutes < 60) return (minutes + 1) * MINUTE;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return (hours + 1) * HOUR;
  return (Math.floor(hours / 24) + 1) * DAY;
}

/**
 * Pending too long: still `pending` in the roster `pendingTooLongMinutes`
 * after registering. With no registration time, only once the cohort has
 * opened. When the log already records a Learning Room, the roster has not
 * caught up, and the sentence says so.
 */
function pendingTooLong(learner: Learner, progress: LearnerProgress | null, cohort: Cohort | null, clock: AttentionClock, thresholds: Thresholds): string | null {
  if (learnerProvisionState(learner) !== 'pending') return null;
  const registered = timeOf(learner.registered_at);
  const last = progress?.lastProvisioningAttempt ?? null;
  const made = last !== null && SUCCESSFUL_RESULTS.has(last.result) ? last : null;
  if (registered === null) {
    const opens = timeOf(cohort?.opens_at);
    if (opens === null || clock.before(opens)) return null;
    return made === null
      ? 'Pending since an unknown time, and the cohort has opened: no Learning Room yet'
      : `Pending in the roster, though the provisioning log says the Learning Room was made on ${formatMoment(made.attempt_at)}`;
  }
  if (!clock.reached(registered, thresholds.pendingTooLongMinutes * MINUTE)) return null;
  const waited = clock.durationSince(registered);
  return made === null
    ? `Pending for ${waited}: no Learning Room yet`
    : `Pending for ${waited} in the roster, though the provisioning log says the Learning Room was made on ${formatMoment(made.attempt_at)}`;
}

/**
 * No activity: the cohort is running and nothing has happened for
 * `noActivityHours`, counting from the later of the last activity and the
 * cohort's opening (time before the cohort opened does not count).
 */
function noActivity(progress: LearnerProgress, cohort: Cohort | null, clock: AttentionClock, thresholds: Thresholds): string | null {
  if (!clock.running(cohort, thresholds.cohortRunHours)) return null;
  const opens = timeOf(cohort?.opens_at) ?? 0;
  const quietSince = Math.max(timeOf(progress.lastActivity?.at) ?? opens, opens);
  if (!clock.reached(quietSince, thresholds.noActivityHours * HOUR)) return null;
  return `No activity for ${clock.durationSince(quietSince)} while the cohort is running`;
}

/**
 * Why a facilitator should look at this learner, in the order the dashboard
 * lists them: provisioning failed, pending too long, needs information,
 * stuck, needs review (one reason per pull request), no activity. Whether a
 * learner is stuck or needs review is the snapshot's finding; how long is
 * counted to `context.now`, so a page shown later still tells the truth.
 * `progress` is null when there is no snapshot (local mode, or not read
 * yet): only the roster's own reasons are given then.
 */
export function needsAttention(learner: Learner, progress: LearnerProgress | null, context: ProgressContext): ReadonlyArray<AttentionReason> {
  return needsAttentionUntil(learner, progress, context).reasons;
}

/** A learner's reasons for attention at a time, and how long they hold. */
export interface AttentionAt {
  readonly reasons: ReadonlyArray<AttentionReason>;
  /** The earliest later time (ms since the epoch; Infinity for never) at which other reasons or other words could be given: until then, these. */
  readonly until: number;
  /** The earliest later time at which the reasons' kinds (so their number) could change; only their words may change before. */
  readonly kindsUntil: number;
}

/**
 * `needsAttention`, and until when its answer holds for the same learner,
 * progress and context: word for word until `until`, kind for kind until
 * `kindsUntil`.
 */
export function needsAttentionUntil(learner: Learner, progress: LearnerProgress | null, context: ProgressContext): AttentionAt {
  const thresholds = thresholdsOf(context);
  const cohort = cohortOf(learner, context.cohorts);
  const clock = new AttentionClock(context.now.getTime());
  const reasons: AttentionReason[] = [];
  const add = (kind: AttentionKind, sentence: string | null): void => {
    if (sentence !== null) reasons.push({ kind, sentence });
  };
  add('provisioning-failed', provisioningFailed(learner, progress));
  add('pending-too-long', pendingTooLong(learner, progress, cohort, clock, thresholds));
  if (progress !== null) {
    if (progress.status === 'needs-info') add('needs-info', 'Needs information: the enrollment issue has the needs-info label');
    if (progress.stuck !== null) add('stuck', `Stuck on Challenge ${progress.stuck.challenge} for ${clock.durationSince(timeOf(progress.stuck.idleSince))}`);
    for (const pr of progress.awaitingReview) add('needs-review', `Pull request #${pr.number} has waited ${clock.durationSince(timeOf(pr.openedAt))} for review`);
    add('no-activity', noActivity(progress, cohort, clock, thresholds));
  }
  return { reasons, until: clock.until, kindsUntil: clock.kindsUntil };
}

/** The evidence for a status in words, for the learner's page. */
export function describeEvidence(evidence: StatusEvidence): string {
  switch (evidence.signal) {
    case 'label':
      return `the "${evidence.label}" label on the enrollment issue`;
    case 'comment':
      return `${evidence.author}'s comment saying "${evidence.word}"${evidence.at === null ? '' : ` on ${formatMoment(evidence.at)}`}`;
    case 'challenge':
      return `Challenge ${evidence.challenge} closed${evidence.at === null ? '' : ` on ${formatMoment(evidence.at)}`}`;
    case 'path':
      return 'the Day 2 only path';
  }
}

// ---------------------------------------------------------------------------
// Per cohort
// ---------------------------------------------------------------------------

export type CohortSummary = Readonly<{
  total: number;
  /** By the roster's `provision_state` (its default, `pending`, where absent). */
  byProvisionState: Readonly<Record<ProvisionState, number>>;
  /** By derived status, for learners with a progress snapshot. */
  byStatus: Readonly<Record<LearnerStatus, number>>;
  /** Learners with no progress snapshot yet: their status is not guessed. */
  statusUnknown: number;
}>;

/** Counts by provisioning state and by derived status; every state and status is present, zero or not. */
export function summarizeCohort(learners: Learners, progressOf: (learner: Learner) => LearnerProgress | null | undefined): CohortSummary {
  const byProvisionState = Object.fromEntries(PROVISION_STATES.map((s) => [s, 0])) as Record<ProvisionState, number>;
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<LearnerStatus, number>;
  let statusUnknown = 0;
  for (const learner of learners) {
    byProvisionState[learnerProvisionState(learner)] += 1;
    const progress = progressOf(learner);
    if (progress === null || progress === undefined) statusUnknown += 1;
    else byStatus[progress.status] += 1;
  }
  return { total: learners.length, byProvisionState, byStatus, statusUnknown };
}
