/**
 * Property-based tests of the derived-progress rules (github.md, "Derived
 * progress"), with fast-check. The status rule and the challenge rules are
 * written out again here, plainly, over generated signals whose meaning is
 * known from how they were generated, so a change to a rule in
 * src/github/progress-rules.ts that the specification does not allow makes a
 * property fail. Set FC_NUM_RUNS to run more.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  deriveProgress,
  isLearnersLogEntry,
  needsAttention,
  needsAttentionUntil,
  type IssueCommentSignal,
  type LearnerSignals,
  type ProgressContext,
  type ProvisioningLogEntry,
  type PullRequestSignal,
  type RoomIssueSignal,
} from '../src/github/progress-rules.js';
import type { Learner, LearnerStatus, Roster } from '../src/roster/contract.js';
import { keyOfLearner } from '../src/roster/incremental.js';
import type { ProgressSnapshot } from '../src/github/progress.js';
import { dashboardCsv, dashboardModel, type ProgressView } from '../src/routes/dashboard.js';
import { parseTableQuery } from '../src/routes/learner-table.js';
import { provisionedLearner } from './helpers/fixtures.js';

const RUNS = Number(process.env.FC_NUM_RUNS ?? '') || 0;
const runs = (n: number) => ({ numRuns: RUNS > 0 ? RUNS : n });

const OPENS = Date.parse('2026-03-02T15:00:00.000Z');
const at = (minutes: number): string => new Date(OPENS + minutes * 60_000).toISOString();
const CONTEXT: ProgressContext = { now: new Date(at(600)), cohorts: [{ cohort_id: 'spring-2026', opens_at: at(0) }] };

// ---------------------------------------------------------------------------
// Generated signals
// ---------------------------------------------------------------------------

const LEARNER_LOGINS = ['ada-lovelace', 'Ada-Lovelace', 'ADA-LOVELACE'];
const OTHER_LOGINS = ['glow-facilitator', 'grace-hopper', 'ada-lovelace-bot'];
const FRAGMENTS = ['ack', 'Ack!', 'acknowledge', 'backtrack', 'day1-complete', 'day1-completed', 'hello', 'thanks', ' ', '\n', '> reply ack', '> day1-complete', 'ok.', '`ack`', 're-ack', '-'];
const minute = fc.integer({ min: -3000, max: 3000 });
const body = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 8 }).map((parts) => parts.join(''));

const commentBy = (logins: readonly string[]): fc.Arbitrary<IssueCommentSignal> =>
  fc.record({ login: fc.constantFrom(...logins), body, created: minute }).map(({ login, body: text, created }) => ({ user: { login }, body: text, created_at: at(created) }));

const LABEL_NAMES = ['acked', 'needs-info', 'day1-complete', 'day2-released', 'bug'];

/** A Learning Room issue with what it means known: its challenge number (or null) and whether it is a pull request. */
type RoomIssueSpec = { n: number | null; state: 'open' | 'closed'; isPR: boolean; updated: number; titleStyle: number };
const roomIssueSpec: fc.Arbitrary<RoomIssueSpec> = fc.record({
  n: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }),
  state: fc.constantFrom('open' as const, 'closed' as const),
  isPR: fc.boolean(),
  updated: minute,
  titleStyle: fc.integer({ min: 0, max: 3 }),
});
function titleOf(spec: RoomIssueSpec): string {
  if (spec.n === null) return ['Question about Challenge 3', 'Challenge three', 'Welcome', 'Re: Challenge 2'][spec.titleStyle]!;
  return [`Challenge ${spec.n}`, `challenge ${spec.n}: Do the thing`, `CHALLENGE ${spec.n} - Do the thing`, `Challenge ${spec.n} Do the thing`][spec.titleStyle]!;
}
function roomIssue(spec: RoomIssueSpec, index: number): RoomIssueSignal {
  return {
    number: index + 1,
    title: titleOf(spec),
    state: spec.state,
    created_at: at(-4000),
    updated_at: at(spec.updated),
    closed_at: spec.state === 'closed' ? at(spec.updated) : null,
    labels: [],
    ...(spec.isPR ? { pull_request: { url: `https://api.github.example/pulls/${index + 1}` } } : {}),
  };
}

const pullRequests = fc
  .array(fc.record({ created: minute, draft: fc.boolean() }), { maxLength: 4 })
  .map((prs): PullRequestSignal[] => prs.map((p, i) => ({ number: 1000 + i, title: `PR ${i}`, user: { login: 'ada-lovelace' }, created_at: at(p.created), updated_at: at(p.created + 5), draft: p.draft })));

/** Log entries at distinct times: at the same time the log's order decides, which shuffling would change. */
const provisioningLog = fc.uniqueArray(fc.record({ t: minute, mine: fc.boolean(), result: fc.constantFrom('created' as const, 'error' as const, 'healed' as const) }), { selector: (e) => e.t, maxLength: 5 }).map(
  (entries): ProvisioningLogEntry[] =>
    entries.map((e) => ({ github_handle: e.mine ? '@Ada-Lovelace' : 'grace-hopper', cohort_id: 'spring-2026', attempt_at: at(e.t), result: e.result, repo: null, template_sha: null, error_detail: e.result === 'error' ? `failure at ${e.t}` : null })),
);

type Case = { learner: Learner; signals: LearnerSignals; specs: RoomIssueSpec[] };
const aCase: fc.Arbitrary<Case> = fc
  .record({
    dayTwoOnly: fc.boolean(),
    labels: fc.subarray(LABEL_NAMES),
    comments: fc.array(commentBy([...LEARNER_LOGINS, ...OTHER_LOGINS]), { maxLength: 5 }),
    specs: fc.array(roomIssueSpec, { maxLength: 8 }),
    pulls: pullRequests,
    log: provisioningLog,
  })
  .map(({ dayTwoOnly, labels, comments, specs, pulls, log }) => ({
    learner: provisionedLearner({ path: dayTwoOnly ? 'day2-only' : 'day1-day2' }),
    specs,
    signals: {
      enrollmentIssue: { state: 'open', labels: labels.map((name) => ({ name })) },
      comments,
      roomIssues: specs.map(roomIssue),
      openPullRequests: pulls,
      provisioningLog: log,
    },
  }));

// ---------------------------------------------------------------------------
// The rules, written out plainly
// ---------------------------------------------------------------------------

/** The learner's own words: not lines quoted with `>`; tokens split on anything but ASCII letters, digits, `_` and `-`. */
function ownTokens(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('>'))
    .join('\n')
    .split(/[^A-Za-z0-9_-]+/)
    .map((token) => token.toLowerCase());
}
function learnerSays(signals: LearnerSignals, word: string): boolean {
  return signals.comments.some((c) => c.user?.login.toLowerCase() === 'ada-lovelace' && ownTokens(c.body ?? '').includes(word));
}
function plainStatus(learner: Learner, signals: LearnerSignals, specs: RoomIssueSpec[]): LearnerStatus {
  const labels = (signals.enrollmentIssue?.labels ?? []).map((l) => (typeof l === 'string' ? l : l.name));
  if (labels.includes('needs-info')) return 'needs-info';
  if (labels.includes('day2-released')) return 'day2-released';
  if (labels.includes('day1-complete') || learnerSays(signals, 'day1-complete') || learner.path === 'day2-only') return 'day1-complete';
  if (labels.includes('acked') || learnerSays(signals, 'ack') || specs.some((s) => s.n !== null && !s.isPR && s.state === 'closed')) return 'active-day1';
  return 'awaiting-ack';
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed || 1;
  for (let i = copy.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('derived progress, as properties', () => {
  test('the status is the workshop\'s rule, highest signal first', () => {
    fc.assert(
      fc.property(aCase, ({ learner, signals, specs }) => {
        assert.equal(deriveProgress(learner, signals, CONTEXT).status, plainStatus(learner, signals, specs));
      }),
      runs(400),
    );
  });

  test('challenges: completed is the distinct closed numbers, current the lowest open one, Day 1 complete when 9 is closed; pull requests never count', () => {
    fc.assert(
      fc.property(aCase, ({ learner, signals, specs }) => {
        const challenges = specs.filter((s): s is RoomIssueSpec & { n: number } => s.n !== null && !s.isPR);
        const closed = new Set(challenges.filter((s) => s.state === 'closed').map((s) => s.n));
        const open = challenges.filter((s) => s.state === 'open').map((s) => s.n);
        const progress = deriveProgress(learner, signals, CONTEXT);
        assert.equal(progress.challengesCompleted, closed.size);
        assert.equal(progress.currentChallenge, open.length === 0 ? null : Math.min(...open));
        assert.equal(progress.dayOneComplete, closed.has(9));
        assert.equal(progress.challenges.length, challenges.length);
      }),
      runs(400),
    );
  });

  test('the order GitHub lists things in changes nothing', () => {
    fc.assert(
      fc.property(aCase, fc.integer({ min: 1, max: 2 ** 30 }), ({ learner, signals }, seed) => {
        const reordered: LearnerSignals = {
          enrollmentIssue: signals.enrollmentIssue && { ...signals.enrollmentIssue, labels: shuffled(signals.enrollmentIssue.labels, seed) },
          comments: shuffled(signals.comments, seed + 1),
          roomIssues: shuffled(signals.roomIssues, seed + 2),
          openPullRequests: shuffled(signals.openPullRequests, seed + 3),
          provisioningLog: shuffled(signals.provisioningLog, seed + 4),
        };
        const a = deriveProgress(learner, signals, CONTEXT);
        const b = deriveProgress(learner, reordered, CONTEXT);
        // Two comments saying the word at the same minute may name either author spelling as evidence.
        assert.deepEqual({ ...b, evidence: b.evidence.map((e) => e.signal) }, { ...a, evidence: a.evidence.map((e) => e.signal) });
      }),
      runs(300),
    );
  });

  test('other people\'s comments change nothing at all', () => {
    fc.assert(
      fc.property(aCase, fc.array(commentBy(OTHER_LOGINS), { minLength: 1, maxLength: 5 }), ({ learner, signals }, others) => {
        const withOthers: LearnerSignals = { ...signals, comments: [...signals.comments, ...others] };
        assert.deepEqual(deriveProgress(learner, withOthers, CONTEXT), deriveProgress(learner, signals, CONTEXT));
      }),
      runs(300),
    );
  });

  test('quoted lines added to a reply change nothing', () => {
    fc.assert(
      fc.property(aCase, body, ({ learner, signals }, quoted) => {
        const quote = quoted
          .split('\n')
          .map((line) => `> ${line}`)
          .join('\n');
        const withQuotes: LearnerSignals = { ...signals, comments: signals.comments.map((c) => ({ ...c, body: `${c.body ?? ''}\n\nOn Monday, GLOW wrote:\n${quote}\n> reply ack\n> day1-complete` })) };
        assert.deepEqual(deriveProgress(learner, withQuotes, CONTEXT), deriveProgress(learner, signals, CONTEXT));
      }),
      runs(300),
    );
  });
});

describe('property: a learner\'s provisioning attempts', () => {
  test('read from the log\'s index, they are exactly the entries that are the learner\'s, oldest first, the later entry first at the same time', () => {
    const logins = ['ada-lovelace', 'ADA-Lovelace', '@ada-lovelace', 'grace-hopper', 'Grace-Hopper'];
    const cohorts = ['spring-2026', 'Spring-2026', 'autumn-2026'];
    const entry = fc.record({
      github_handle: fc.constantFrom(...logins),
      cohort_id: fc.constantFrom(...cohorts),
      attempt_at: fc.oneof(minute.map(at), fc.constant('not a time')),
      result: fc.constantFrom('created', 'healed', 'error' as const),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), fc.constantFrom(...logins), fc.constantFrom(...cohorts), (log, handle, cohort) => {
        const learner = provisionedLearner({ github_handle: handle, cohort_id: cohort });
        const expected = log
          .map((e, index) => ({ e, index, ms: Date.parse(e.attempt_at) }))
          .filter(({ e, ms }) => !Number.isNaN(ms) && isLearnersLogEntry(e, learner))
          .sort((a, b) => a.ms - b.ms || a.index - b.index)
          .map(({ e }) => e);
        const progress = deriveProgress(learner, { enrollmentIssue: null, comments: [], roomIssues: [], openPullRequests: [], provisioningLog: log }, { now: new Date(at(0)), cohorts: [] });
        assert.deepEqual(progress.provisioningAttempts, expected);
      }),
    );
  });
});

describe('property: how long a learner\'s reasons for attention hold', () => {
  test('at any time before the "until" it gives, the reasons are the same, word for word, and before "kindsUntil" of the same kinds; "until" is later than now', () => {
    const learnerArb = fc.record({
      state: fc.constantFrom('pending' as const, 'provisioned' as const, 'failed' as const),
      registered: fc.option(minute, { nil: null }),
    });
    fc.assert(
      fc.property(aCase, learnerArb, fc.boolean(), fc.nat(), fc.integer({ min: -30, max: 300 }), fc.integer({ min: 0, max: 3000 * 60 }), ({ learner, signals, specs }, l, read, pick, delta, laterSeconds) => {
        const who = provisionedLearner({ ...learner, provision_state: l.state, registered_at: l.registered === null ? null : at(l.registered) });
        const context = (ms: number): ProgressContext => ({ ...CONTEXT, now: new Date(ms) });
        // Now a little after one of the times the reasons count from, where durations are still in minutes.
        const anchors = [0, l.registered ?? 0, ...specs.map((spec) => spec.updated), ...signals.openPullRequests.map((pr) => (Date.parse(pr.created_at) - OPENS) / 60_000)];
        const t1 = OPENS + (anchors[pick % anchors.length]! + delta) * 60_000 + 17_000;
        const progress = read ? deriveProgress(who, signals, context(t1)) : null;
        const first = needsAttentionUntil(who, progress, context(t1));
        assert.ok(first.until > t1);
        const t2 = t1 + laterSeconds * 1000;
        const later = needsAttention(who, progress, context(t2));
        if (t2 < first.until) assert.deepEqual(later, first.reasons);
        // The last moment before it, where a boundary put too late would show.
        if (Number.isFinite(first.until)) assert.deepEqual(needsAttention(who, progress, context(first.until - 1)), first.reasons);
        // The kinds of reasons hold longer: until "kindsUntil", only their words may change.
        assert.ok(first.kindsUntil >= first.until);
        const kinds = (reasons: ReadonlyArray<{ kind: string }>) => reasons.map((r) => r.kind);
        if (t2 < first.kindsUntil) assert.deepEqual(kinds(later), kinds(first.reasons));
        if (Number.isFinite(first.kindsUntil)) assert.deepEqual(kinds(needsAttention(who, progress, context(first.kindsUntil - 1))), kinds(first.reasons));
      }),
      runs(500),
    );
  });
});

describe('property: the dashboard kept between views says what one worked out afresh would', () => {
  const QUERIES = [
    '',
    'attention=1',
    'cohort=autumn-2026&attention=1&sort=activity&dir=desc',
    'status=unknown',
    'state=pending&sort=registered',
    'q=learner-1&sort=status&dir=desc',
    'cohort=spring-2026&sort=cohort&page=2',
    'cohort=no-such-cohort&attention=1',
  ];
  const learnerSpec = fc.record({
    autumn: fc.boolean(),
    state: fc.constantFrom('pending' as const, 'provisioned' as const, 'failed' as const),
    registered: fc.option(minute, { nil: null }),
    read: fc.boolean(),
    signals: aCase,
  });
  const step = fc.record({ query: fc.constantFrom(...QUERIES), minutes: fc.integer({ min: -90, max: 1500 }), edit: fc.option(fc.nat(), { nil: null }), cohortsMove: fc.option(fc.integer({ min: -600, max: 600 }), { nil: null }) });

  test('through views at later (and earlier) times, roster edits and cohorts moved, the model and the CSV equal those from a fresh copy of the roster', () => {
    fc.assert(
      fc.property(fc.array(learnerSpec, { minLength: 1, maxLength: 60 }), fc.array(step, { minLength: 1, maxLength: 8 }), (specs, steps) => {
        const learners = specs.map((s, i) =>
          provisionedLearner({ github_handle: `learner-${i}`, cohort_id: s.autumn ? 'autumn-2026' : 'spring-2026', provision_state: s.state, registered_at: s.registered === null ? null : at(s.registered) }),
        );
        const signals = new Map<string, LearnerSignals>();
        specs.forEach((s, i) => {
          if (s.read) signals.set(keyOfLearner(learners[i]!), s.signals.signals);
        });
        const snapshot: ProgressSnapshot = { takenAt: new Date(at(600)), signals, provisioningLog: [], unread: 0 };
        const cohorts = [
          { cohort_id: 'spring-2026', opens_at: at(0) },
          { cohort_id: 'autumn-2026', opens_at: at(900) },
        ];
        let roster: Roster = { version: 1, cohorts, learners };
        let now = Date.parse(at(600));
        for (const s of steps) {
          now += s.minutes * 60_000;
          if (s.edit !== null) {
            // A facilitator's edit: a new record for one learner, the others the same objects.
            const i = s.edit % roster.learners.length;
            const before = roster.learners[i]!;
            const edited: Learner = { ...before, provision_state: before.provision_state === 'pending' ? 'provisioned' : 'pending' };
            roster = { ...roster, learners: roster.learners.map((l, j) => (j === i ? edited : l)) };
          }
          if (s.cohortsMove !== null) {
            // The cohorts' times change while every learner record stays the same object.
            const minutes = s.cohortsMove;
            roster = { ...roster, cohorts: (roster.cohorts ?? []).map((c) => ({ ...c, opens_at: new Date(Date.parse(c.opens_at!) + minutes * 60_000).toISOString() })) };
          }
          const query = parseTableQuery(Object.fromEntries(new URLSearchParams(s.query)));
          const view: ProgressView = { state: { snapshot, refreshing: false, problem: null }, stuckMinutes: 20, refreshRequested: false, now: new Date(now) };
          const fresh = structuredClone(roster);
          assert.deepEqual(dashboardModel(roster, query, { mode: 'local' }, view), dashboardModel(fresh, query, { mode: 'local' }, view));
          assert.equal(dashboardCsv(roster, query, view), dashboardCsv(fresh, query, view));
        }
      }),
      runs(150),
    );
  });
});
