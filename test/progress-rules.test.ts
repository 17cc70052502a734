import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_THRESHOLDS,
  challengeNumber,
  cohortRunning,
  deriveProgress,
  deriveStatus,
  describeEvidence,
  formatDuration,
  formatMoment,
  needsAttention,
  ownText,
  saysWord,
  summarizeCohort,
  type IssueCommentSignal,
  type LearnerProgress,
  type LearnerSignals,
  type ProgressContext,
  type ProvisioningLogEntry,
  type PullRequestSignal,
  type RoomIssueSignal,
} from '../src/github/progress-rules.js';
import type { Cohort, Learner } from '../src/roster/contract.js';
import { provisionedLearner } from './helpers/fixtures.js';

const OPENS = '2026-03-02T15:00:00.000Z';
const COHORT: Cohort = { cohort_id: 'spring-2026', label: 'Spring 2026', opens_at: OPENS };

/** A time `minutes` after the cohort opens (negative: before). */
function at(minutes: number): string {
  return new Date(Date.parse(OPENS) + minutes * 60_000).toISOString();
}
function nowAt(minutes: number): Date {
  return new Date(at(minutes));
}
function context(minutes: number, extra: Partial<ProgressContext> = {}): ProgressContext {
  return { now: nowAt(minutes), cohorts: [COHORT], ...extra };
}

const ada = provisionedLearner({ enrollment_repo: 'Community-Access/enrol', registered_at: at(-3 * 24 * 60) });

function signals(overrides: Partial<LearnerSignals> = {}): LearnerSignals {
  return { enrollmentIssue: { state: 'open', labels: [] }, comments: [], roomIssues: [], openPullRequests: [], provisioningLog: [], ...overrides };
}
function labelled(...names: string[]): Pick<LearnerSignals, 'enrollmentIssue'> {
  return { enrollmentIssue: { state: 'open', labels: names.map((name) => ({ name })) } };
}
function comment(login: string, body: string, minutes = 10): IssueCommentSignal {
  return { user: { login }, body, created_at: at(minutes) };
}
function challenge(n: number, state: 'open' | 'closed', updatedMinutes = 0, issueNumber = n + 100, title = `Challenge ${n}`): RoomIssueSignal {
  return {
    number: issueNumber,
    title,
    state,
    created_at: at(-60),
    updated_at: at(updatedMinutes),
    closed_at: state === 'closed' ? at(updatedMinutes) : null,
    labels: [{ name: 'challenge' }],
  };
}
function pull(number: number, createdMinutes: number, extra: Partial<PullRequestSignal> = {}): PullRequestSignal {
  return { number, title: `Fix ${number}`, user: { login: 'ada-lovelace' }, created_at: at(createdMinutes), updated_at: at(createdMinutes), draft: false, ...extra };
}
function attempt(overrides: Partial<ProvisioningLogEntry> = {}): ProvisioningLogEntry {
  return {
    github_handle: 'ada-lovelace',
    cohort_id: 'spring-2026',
    attempt_at: at(-60),
    result: 'created',
    repo: 'Community-Access/learning-room-spring-2026-ada-lovelace',
    template_sha: 'abc123',
    error_detail: null,
    ...overrides,
  };
}
function statusOf(learner: Learner, s: Partial<LearnerSignals>): string {
  return deriveStatus(learner, signals(s)).status;
}

describe('the status rule: needs-info > day2-released > day1-complete > active-day1 > awaiting-ack', () => {
  // Every combination of the five signals that each raise one level: the highest present wins.
  const levels = [
    { status: 'needs-info', give: (s: Partial<LearnerSignals>) => ({ ...s, ...labelled(...names(s), 'needs-info') }) },
    { status: 'day2-released', give: (s: Partial<LearnerSignals>) => ({ ...s, ...labelled(...names(s), 'day2-released') }) },
    { status: 'day1-complete', give: (s: Partial<LearnerSignals>) => ({ ...s, ...labelled(...names(s), 'day1-complete') }) },
    { status: 'active-day1', give: (s: Partial<LearnerSignals>) => ({ ...s, comments: [comment('ada-lovelace', 'ack')] }) },
    { status: 'active-day1', give: (s: Partial<LearnerSignals>) => ({ ...s, roomIssues: [challenge(1, 'closed')] }) },
  ] as const;
  function names(s: Partial<LearnerSignals>): string[] {
    return (s.enrollmentIssue?.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? '')));
  }
  for (let mask = 0; mask < 1 << levels.length; mask += 1) {
    const present = levels.filter((_, i) => (mask & (1 << i)) !== 0);
    const expected = present[0]?.status ?? 'awaiting-ack';
    test(`${present.map((l) => l.status).join(' + ') || 'no signal'} → ${expected}`, () => {
      const s = present.reduce<Partial<LearnerSignals>>((acc, level) => level.give(acc), {});
      assert.equal(statusOf(ada, s), expected);
    });
  }

  test('the acked label alone makes a learner active on Day 1', () => {
    assert.deepEqual(deriveStatus(ada, signals(labelled('acked'))), { status: 'active-day1', evidence: [{ signal: 'label', label: 'acked', at: null }] });
  });

  test('labels are read without regard to case or surrounding spaces, as GitHub names them', () => {
    assert.equal(statusOf(ada, { enrollmentIssue: { state: 'open', labels: [' Needs-Info ', 'acked'] } }), 'needs-info');
  });

  test('a learner with no enrollment issue read is still judged by the Learning Room and the path', () => {
    assert.equal(statusOf(ada, { enrollmentIssue: null, roomIssues: [challenge(1, 'closed')] }), 'active-day1');
    assert.equal(statusOf(ada, { enrollmentIssue: null }), 'awaiting-ack');
  });
});

describe('only the learner\'s own comments count', () => {
  test('a facilitator writing "reply ack" is not an acknowledgement', () => {
    const s = { comments: [comment('glow-facilitator', 'Welcome! Please reply ack to confirm.'), comment('glow-facilitator', 'ack')] };
    assert.equal(statusOf(ada, s), 'awaiting-ack');
    assert.equal(statusOf(ada, { comments: [comment('glow-facilitator', 'day1-complete')] }), 'awaiting-ack');
  });

  test('the learner\'s login matches without regard to case, and the roster handle may carry an @', () => {
    const learner = provisionedLearner({ github_handle: '@Ada-Lovelace' });
    const result = deriveStatus(learner, signals({ comments: [comment('ada-lovelace', 'ack', 12)] }));
    assert.equal(result.status, 'active-day1');
    assert.deepEqual(result.evidence, [{ signal: 'comment', word: 'ack', author: 'ada-lovelace', at: at(12) }]);
  });

  test('a comment from a deleted account (user null) counts for nobody', () => {
    assert.equal(statusOf(ada, { comments: [{ user: null, body: 'ack', created_at: at(1) }] }), 'awaiting-ack');
  });

  test('the evidence is the learner\'s earliest comment saying the word', () => {
    const result = deriveStatus(ada, signals({ comments: [comment('ada-lovelace', 'ack again', 30), comment('ada-lovelace', 'ack', 5), comment('ada-lovelace', 'hello', 1)] }));
    assert.deepEqual(result.evidence, [{ signal: 'comment', word: 'ack', author: 'ada-lovelace', at: at(5) }]);
  });

  test('a learner\'s day1-complete comment makes Day 1 complete', () => {
    const result = deriveStatus(ada, signals({ comments: [comment('Ada-Lovelace', 'All done: day1-complete!', 300)] }));
    assert.equal(result.status, 'day1-complete');
    assert.deepEqual(result.evidence, [{ signal: 'comment', word: 'day1-complete', author: 'Ada-Lovelace', at: at(300) }]);
  });
});

describe('e-mailed replies: quoted lines are someone else\'s words', () => {
  const quotedInstruction = 'On Mon, 2 Mar 2026 at 15:00, GLOW Workshop <notifications@github.com> wrote:\n> Welcome to GLOW!\n> Reply ack to confirm you can see this.';

  test('a reply whose own line says ack counts, quoted text and all', () => {
    assert.equal(statusOf(ada, { comments: [comment('ada-lovelace', `ack\n\n${quotedInstruction}`)] }), 'active-day1');
    assert.equal(statusOf(ada, { comments: [comment('ada-lovelace', `Ack, thanks!\r\n\r\n${quotedInstruction.replace(/\n/g, '\r\n')}`)] }), 'active-day1');
  });

  test('a reply that only quotes the instruction is not an acknowledgement', () => {
    assert.equal(statusOf(ada, { comments: [comment('ada-lovelace', `Thanks, see you on Monday!\n\n${quotedInstruction}`)] }), 'awaiting-ack');
    assert.equal(statusOf(ada, { comments: [comment('ada-lovelace', 'ok\n  >> reply ack\n> > day1-complete when done')] }), 'awaiting-ack');
  });

  test('a hidden HTML comment is not the learner\'s words', () => {
    assert.equal(ownText('<!-- reply ack below -->\nhello'), ' \nhello');
    assert.equal(saysWord('<!-- reply\nack below -->\nI am here', 'ack'), false);
    assert.equal(saysWord('<!-- template -->\nack', 'ack'), true);
  });

  test('a null or missing body says nothing', () => {
    assert.equal(saysWord(null, 'ack'), false);
    assert.equal(saysWord(undefined, 'ack'), false);
  });
});

describe('whole words', () => {
  const ackYes = ['ack', 'ACK', 'Ack!', 'ok, ack.', '`ack`', '(ack)', 'ack\n', 'I ack this', '"ack"', 'ack\u00a0please'];
  const ackNo = ['acknowledge', 'acknowledged', 'backtrack', 'hack', 'acked', 'ack-ing', 're-ack', 'ack_', 'ackack', 'a c k', 'äck', 'acké'];
  for (const body of ackYes) test(`${JSON.stringify(body)} says ack`, () => assert.equal(saysWord(body, 'ack'), true));
  for (const body of ackNo) test(`${JSON.stringify(body)} does not say ack`, () => assert.equal(saysWord(body, 'ack'), false));

  const doneYes = ['day1-complete', 'Day1-Complete!', 'I am day1-complete.', '**day1-complete**'];
  const doneNo = ['day1-completed', 'not-day1-complete', 'day1 complete', 'day1complete', 'day11-complete', 'xday1-complete'];
  for (const body of doneYes) test(`${JSON.stringify(body)} says day1-complete`, () => assert.equal(saysWord(body, 'day1-complete'), true));
  for (const body of doneNo) test(`${JSON.stringify(body)} does not say day1-complete`, () => assert.equal(saysWord(body, 'day1-complete'), false));

  test('"acknowledge" or "backtrack" from the learner leaves them awaiting acknowledgement', () => {
    assert.equal(statusOf(ada, { comments: [comment('ada-lovelace', 'I acknowledge, no need to backtrack')] }), 'awaiting-ack');
  });
});

describe('the path and challenges in the status', () => {
  test('a day2-only learner is Day 1 complete, with the path as evidence', () => {
    const learner = provisionedLearner({ path: 'day2-only' });
    assert.deepEqual(deriveStatus(learner, signals()), { status: 'day1-complete', evidence: [{ signal: 'path', path: 'day2-only', at: null }] });
    assert.equal(statusOf(provisionedLearner({ path: 'day1-day2' }), {}), 'awaiting-ack');
    assert.equal(statusOf(provisionedLearner({ path: undefined }), {}), 'awaiting-ack');
  });

  test('a closed challenge makes a learner active on Day 1; an open one does not', () => {
    const result = deriveStatus(ada, signals({ roomIssues: [challenge(2, 'closed', 40), challenge(1, 'closed', 20), challenge(3, 'open')] }));
    assert.equal(result.status, 'active-day1');
    assert.deepEqual(result.evidence, [{ signal: 'challenge', challenge: 1, issue: 101, at: at(20) }]);
    assert.equal(statusOf(ada, { roomIssues: [challenge(1, 'open')] }), 'awaiting-ack');
  });

  test('a closed pull request titled like a challenge is not a challenge', () => {
    const pr: RoomIssueSignal = { ...challenge(1, 'closed'), pull_request: { url: 'https://api.github.example/repos/o/r/pulls/101' } };
    assert.equal(statusOf(ada, { roomIssues: [pr] }), 'awaiting-ack');
    const progress = deriveProgress(ada, signals({ roomIssues: [pr, { ...challenge(9, 'closed'), pull_request: {} }] }), context(60));
    assert.equal(progress.challengesCompleted, 0);
    assert.equal(progress.dayOneComplete, false);
    assert.deepEqual(progress.challenges, []);
  });

  test('the evidence, listed label first, then comment, then the rest', () => {
    const result = deriveStatus(
      provisionedLearner({ path: 'day2-only' }),
      signals({ ...labelled('day1-complete'), comments: [comment('ada-lovelace', 'day1-complete', 200)] }),
    );
    assert.deepEqual(
      result.evidence.map((e) => e.signal),
      ['label', 'comment', 'path'],
    );
  });

  test('the evidence in words', () => {
    assert.equal(describeEvidence({ signal: 'label', label: 'day2-released', at: null }), 'the "day2-released" label on the enrollment issue');
    assert.equal(describeEvidence({ signal: 'comment', word: 'ack', author: 'ada-lovelace', at: at(65) }), "ada-lovelace's comment saying \"ack\" on 2 March 2026 at 16:05 UTC");
    assert.equal(describeEvidence({ signal: 'challenge', challenge: 3, issue: 103, at: at(65) }), 'Challenge 3 closed on 2 March 2026 at 16:05 UTC');
    assert.equal(describeEvidence({ signal: 'path', path: 'day2-only', at: null }), 'the Day 2 only path');
  });
});

describe('challenge titles', () => {
  const yes: Array<[string, number]> = [
    ['Challenge 3', 3],
    ['challenge 3', 3],
    ['CHALLENGE 12', 12],
    ['Challenge 3: Open an issue', 3],
    ['Challenge 3 - Open an issue', 3],
    ['Challenge 3 — Open an issue', 3],
    ['Challenge 3 Open an issue', 3],
    ['  Challenge  4:Review', 4],
    ['Challenge 09', 9],
  ];
  const no = ['Challenge', 'Challenge three', 'Challenge 3.5', 'Challenge 3a', 'Challenge #3', 'Re: Challenge 3', 'The Challenge 3', 'Challenges 3', 'Challenge -3', 'Challenge 99999999999999999999'];
  for (const [title, n] of yes) test(`${JSON.stringify(title)} is Challenge ${n}`, () => assert.equal(challengeNumber(title), n));
  for (const title of no) test(`${JSON.stringify(title)} is not a challenge`, () => assert.equal(challengeNumber(title), null));
});

describe('challenges completed, current challenge, Day 1 complete', () => {
  test('completed counts distinct closed challenge numbers; other issues are ignored', () => {
    const roomIssues = [challenge(1, 'closed'), challenge(2, 'closed'), challenge(2, 'closed', 5, 222), challenge(3, 'open'), { ...challenge(4, 'closed'), title: 'Question about Challenge 4' }];
    const progress = deriveProgress(ada, signals({ roomIssues }), context(60));
    assert.equal(progress.challengesCompleted, 2);
    assert.deepEqual(
      progress.challenges.map((c) => [c.challenge, c.issue, c.state]),
      [
        [1, 101, 'closed'],
        [2, 102, 'closed'],
        [2, 222, 'closed'],
        [3, 103, 'open'],
      ],
    );
  });

  test('the current challenge is the lowest-numbered open one, whatever the order GitHub lists them in', () => {
    const roomIssues = [challenge(7, 'open'), challenge(1, 'closed'), challenge(5, 'open'), challenge(10, 'open'), challenge(2, 'closed'), challenge(3, 'open')];
    assert.equal(deriveProgress(ada, signals({ roomIssues }), context(60)).currentChallenge, 3);
  });

  test('no open challenge: no current challenge', () => {
    assert.equal(deriveProgress(ada, signals({ roomIssues: [challenge(1, 'closed')] }), context(60)).currentChallenge, null);
    assert.equal(deriveProgress(ada, signals(), context(60)).currentChallenge, null);
  });

  test('Day 1 is complete exactly when Challenge 9 is closed', () => {
    const done = (roomIssues: RoomIssueSignal[]): boolean => deriveProgress(ada, signals({ roomIssues }), context(60)).dayOneComplete;
    assert.equal(done([challenge(9, 'closed')]), true);
    assert.equal(done([challenge(9, 'closed', 0, 109, 'Challenge 9: Merge your pull request')]), true);
    assert.equal(done([challenge(9, 'open'), ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => challenge(n, 'closed'))]), false);
    assert.equal(done([challenge(19, 'closed'), challenge(10, 'closed')]), false);
  });
});

describe('the cohort runs from opens_at for two days', () => {
  test('running from the opening minute until 48 hours later', () => {
    assert.equal(cohortRunning(COHORT, nowAt(-1)), false);
    assert.equal(cohortRunning(COHORT, nowAt(0)), true);
    assert.equal(cohortRunning(COHORT, nowAt(48 * 60 - 1)), true);
    assert.equal(cohortRunning(COHORT, nowAt(48 * 60)), false);
  });

  test('another length when the context says so', () => {
    assert.equal(cohortRunning(COHORT, nowAt(10 * 60), 8), false);
    assert.equal(cohortRunning(COHORT, nowAt(7 * 60), 8), true);
  });

  test('a cohort with no readable opening time, or no cohort, is never running', () => {
    assert.equal(cohortRunning({ cohort_id: 'x' }, nowAt(0)), false);
    assert.equal(cohortRunning({ cohort_id: 'x', opens_at: 'soon' }, nowAt(0)), false);
    assert.equal(cohortRunning(null, nowAt(0)), false);
  });
});

describe('stuck: the current challenge not updated for stuckMinutes while the cohort runs', () => {
  const stuck = (updated: number, nowMinutes: number, extra: Partial<ProgressContext> = {}, roomIssues?: RoomIssueSignal[]) =>
    deriveProgress(ada, signals({ roomIssues: roomIssues ?? [challenge(3, 'closed', 0), challenge(4, 'open', updated), challenge(5, 'open', -100)] }), context(nowMinutes, extra)).stuck;

  test('20 minutes without an update is stuck; 19 is not', () => {
    assert.deepEqual(stuck(60, 80), { challenge: 4, issue: 104, idleSince: at(60) });
    assert.equal(stuck(60, 79), null);
    assert.equal(DEFAULT_THRESHOLDS.stuckMinutes, 20);
  });

  test('only while the cohort runs', () => {
    assert.equal(stuck(-300, -10), null, 'before it opens');
    assert.equal(stuck(48 * 60, 48 * 60 + 100), null, 'after it ends');
    assert.equal(deriveProgress(ada, signals({ roomIssues: [challenge(4, 'open', 0)] }), { now: nowAt(100), cohorts: [] }).stuck, null, 'no cohort known');
  });

  test('time before the cohort opened does not count', () => {
    assert.equal(stuck(-3 * 24 * 60, 19), null);
    assert.deepEqual(stuck(-3 * 24 * 60, 20), { challenge: 4, issue: 104, idleSince: OPENS });
  });

  test('the threshold comes from the context', () => {
    assert.notEqual(stuck(60, 66, { stuckMinutes: 5 }), null);
    assert.equal(stuck(60, 66), null);
  });

  test('with two open issues for the current challenge, the one updated last counts', () => {
    const roomIssues = [challenge(4, 'open', 10, 104), challenge(4, 'open', 70, 204)];
    assert.equal(stuck(0, 80, {}, roomIssues), null);
    assert.deepEqual(stuck(0, 95, {}, roomIssues), { challenge: 4, issue: 204, idleSince: at(70) });
  });

  test('no open challenge: never stuck', () => {
    assert.equal(stuck(0, 200, {}, [challenge(1, 'closed', 0)]), null);
  });
});

describe('needs review: an open, non-draft pull request older than reviewAfterMinutes', () => {
  const review = (pulls: PullRequestSignal[], nowMinutes: number, extra: Partial<ProgressContext> = {}) =>
    deriveProgress(ada, signals({ openPullRequests: pulls }), context(nowMinutes, extra));

  test('at the threshold it needs review; just before, not yet', () => {
    assert.equal(review([pull(12, 0)], DEFAULT_THRESHOLDS.reviewAfterMinutes).needsReview, true);
    assert.equal(review([pull(12, 0)], DEFAULT_THRESHOLDS.reviewAfterMinutes - 1).needsReview, false);
  });

  test('a draft never needs review', () => {
    assert.equal(review([pull(12, 0, { draft: true })], 600).needsReview, false);
  });

  test('the age is from when it was opened, not its last push', () => {
    assert.equal(review([pull(12, 0, { updated_at: at(299) })], 300).needsReview, true);
  });

  test('the threshold comes from the context; the longest-waiting first', () => {
    const progress = review([pull(14, 50), pull(12, 0), pull(13, 58, { draft: true }), pull(15, 55)], 60, { reviewAfterMinutes: 5 });
    assert.deepEqual(
      progress.awaitingReview.map((p) => p.number),
      [12, 14, 15],
    );
    assert.deepEqual(progress.awaitingReview[0], { number: 12, title: 'Fix 12', author: 'ada-lovelace', openedAt: at(0) });
  });
});

describe('last activity', () => {
  test('the latest of the learner\'s comments, challenge updates and pull request updates', () => {
    const base = { roomIssues: [challenge(1, 'closed', 30)], openPullRequests: [pull(12, 20, { updated_at: at(40) })] };
    assert.deepEqual(deriveProgress(ada, signals({ ...base, comments: [comment('ada-lovelace', 'hi', 50)] }), context(100)).lastActivity, { at: at(50), signal: 'comment' });
    assert.deepEqual(deriveProgress(ada, signals({ ...base, comments: [comment('ada-lovelace', 'hi', 10)] }), context(100)).lastActivity, { at: at(40), signal: 'pull-request' });
    assert.deepEqual(deriveProgress(ada, signals({ roomIssues: [challenge(1, 'open', 45)], comments: [comment('ada-lovelace', 'hi', 10)] }), context(100)).lastActivity, { at: at(45), signal: 'challenge' });
  });

  test('someone else\'s comment is not the learner\'s activity', () => {
    assert.deepEqual(
      deriveProgress(ada, signals({ comments: [comment('glow-facilitator', 'how is it going?', 90), comment('ada-lovelace', 'hi', 10)] }), context(100)).lastActivity,
      { at: at(10), signal: 'comment' },
    );
  });

  test('nothing at all: no last activity', () => {
    assert.equal(deriveProgress(ada, signals(), context(100)).lastActivity, null);
  });
});

describe('the last provisioning attempt', () => {
  test('the latest by time for this learner\'s handle (any case, no @) and exactly this cohort', () => {
    const learner = provisionedLearner({ github_handle: '@Ada-Lovelace' });
    const log = [
      attempt({ attempt_at: at(-30), result: 'error', error_detail: 'first' }),
      attempt({ github_handle: 'ADA-LOVELACE', attempt_at: at(-10), result: 'error', error_detail: 'latest' }),
      attempt({ attempt_at: at(-20), result: 'created' }),
      attempt({ github_handle: 'grace-hopper', attempt_at: at(-1), result: 'created' }),
      attempt({ cohort_id: 'Spring-2026', attempt_at: at(-2), result: 'created' }),
      attempt({ cohort_id: 'autumn-2026', attempt_at: at(-3), result: 'created' }),
      attempt({ attempt_at: 'not a time', result: 'healed' }),
    ];
    const progress = deriveProgress(learner, signals({ provisioningLog: log }), context(0));
    assert.equal(progress.lastProvisioningAttempt?.error_detail, 'latest');
    assert.deepEqual(
      progress.provisioningAttempts.map((a) => a.attempt_at),
      [at(-30), at(-20), at(-10)],
    );
  });

  test('two attempts at the same time: the later entry in the log', () => {
    const log = [attempt({ result: 'error' }), attempt({ result: 'healed' })];
    assert.equal(deriveProgress(ada, signals({ provisioningLog: log }), context(0)).lastProvisioningAttempt?.result, 'healed');
  });

  test('none for this learner: null', () => {
    assert.equal(deriveProgress(ada, signals({ provisioningLog: [attempt({ github_handle: 'grace-hopper' })] }), context(0)).lastProvisioningAttempt, null);
  });
});

describe('needs attention, in words a facilitator can act on', () => {
  const reasons = (learner: Learner, s: Partial<LearnerSignals>, nowMinutes: number, extra: Partial<ProgressContext> = {}) => {
    const ctx = context(nowMinutes, extra);
    return needsAttention(learner, deriveProgress(learner, signals(s), ctx), ctx);
  };
  const busy = { comments: [comment('ada-lovelace', 'ack', 0)] };

  test('provisioning failed, with the time and the error of the last attempt', () => {
    const log = [attempt({ attempt_at: at(65), result: 'error', error_detail: 'template repository not found' })];
    assert.deepEqual(reasons(provisionedLearner({ provision_state: 'failed' }), { ...busy, provisioningLog: log }, 70), [
      { kind: 'provisioning-failed', sentence: 'Provisioning failed on 2 March 2026 at 16:05 UTC: template repository not found' },
    ]);
  });

  test('an error detail is put on one line and cut short; a missing one is said', () => {
    const long = `line one\n  line two\t${'x'.repeat(400)}`;
    const [first] = reasons(ada, { ...busy, provisioningLog: [attempt({ attempt_at: at(65), result: 'error', error_detail: long })] }, 70);
    assert.match(first!.sentence, /: line one line two x+\.\.\.$/);
    assert.ok(first!.sentence.length < 400);
    const [second] = reasons(ada, { ...busy, provisioningLog: [attempt({ attempt_at: at(65), result: 'error', error_detail: '  ' })] }, 70);
    assert.equal(second!.sentence, 'Provisioning failed on 2 March 2026 at 16:05 UTC: no error detail was recorded');
  });

  test('a later successful attempt clears a failure in the log', () => {
    const log = [attempt({ attempt_at: at(-30), result: 'error', error_detail: 'boom' }), attempt({ attempt_at: at(-10), result: 'healed' })];
    assert.deepEqual(reasons(ada, { ...busy, provisioningLog: log }, 70), []);
  });

  test('failed in the roster without an error in the log', () => {
    assert.deepEqual(reasons(provisionedLearner({ provision_state: 'failed' }), busy, 70), [
      { kind: 'provisioning-failed', sentence: 'Provisioning failed, and the provisioning log has no attempt for this learner' },
    ]);
    assert.deepEqual(reasons(provisionedLearner({ provision_state: 'failed' }), { ...busy, provisioningLog: [attempt({ attempt_at: at(65) })] }, 70), [
      { kind: 'provisioning-failed', sentence: 'Provisioning is marked failed in the roster; the last attempt, on 2 March 2026 at 16:05 UTC, ended "created"' },
    ]);
  });

  test('pending longer than pendingTooLongMinutes after registering', () => {
    const pending = provisionedLearner({ provision_state: 'pending', learning_room_repo: null, registered_at: at(-180) });
    assert.deepEqual(reasons(pending, busy, 0), [{ kind: 'pending-too-long', sentence: 'Pending for 3 hours: no Learning Room yet' }]);
    assert.deepEqual(reasons({ ...pending, registered_at: at(-30) }, busy, 0), []);
    assert.deepEqual(reasons({ ...pending, registered_at: at(-30) }, busy, 0, { pendingTooLongMinutes: 20 }), [
      { kind: 'pending-too-long', sentence: 'Pending for 30 minutes: no Learning Room yet' },
    ]);
    assert.deepEqual(reasons(provisionedLearner({ registered_at: at(-180) }), busy, 0), [], 'a provisioned learner is not pending');
  });

  test('pending while the log already records the Learning Room: the roster has not caught up', () => {
    const pending = provisionedLearner({ provision_state: 'pending', registered_at: at(-180) });
    assert.deepEqual(reasons(pending, { ...busy, provisioningLog: [attempt({ attempt_at: at(-115) })] }, 0), [
      { kind: 'pending-too-long', sentence: 'Pending for 3 hours in the roster, though the provisioning log says the Learning Room was made on 2 March 2026 at 13:05 UTC' },
    ]);
  });

  test('pending with no registration time: only once the cohort has opened', () => {
    const pending = provisionedLearner({ provision_state: 'pending', registered_at: null });
    assert.deepEqual(reasons(pending, busy, -5), []);
    assert.deepEqual(reasons(pending, busy, 5), [{ kind: 'pending-too-long', sentence: 'Pending since an unknown time, and the cohort has opened: no Learning Room yet' }]);
  });

  test('needs information', () => {
    assert.deepEqual(reasons(ada, { ...busy, ...labelled('needs-info') }, 5), [{ kind: 'needs-info', sentence: 'Needs information: the enrollment issue has the needs-info label' }]);
  });

  test('stuck, with how long', () => {
    assert.deepEqual(reasons(ada, { ...busy, roomIssues: [challenge(3, 'closed', 10), challenge(4, 'open', 25)] }, 60), [
      { kind: 'stuck', sentence: 'Stuck on Challenge 4 for 35 minutes' },
    ]);
  });

  test('needs review, one reason per pull request', () => {
    assert.deepEqual(reasons(ada, { ...busy, openPullRequests: [pull(12, 0), pull(14, 100), pull(13, 30)] }, 120), [
      { kind: 'needs-review', sentence: 'Pull request #12 has waited 2 hours for review' },
      { kind: 'needs-review', sentence: 'Pull request #13 has waited an hour for review' },
    ]);
  });

  test('no activity for a day while the cohort runs, counted from its opening', () => {
    const quiet = { comments: [comment('ada-lovelace', 'ack', -600)] };
    assert.deepEqual(reasons(ada, quiet, 24 * 60 + 30), [{ kind: 'no-activity', sentence: 'No activity for a day while the cohort is running' }]);
    assert.deepEqual(reasons(ada, quiet, 24 * 60 - 1), []);
    assert.deepEqual(reasons(ada, { comments: [comment('ada-lovelace', 'ack', 25 * 60)] }, 47 * 60), []);
    assert.deepEqual(reasons(ada, quiet, 50 * 60), [], 'not once the cohort has ended');
    assert.deepEqual(reasons(ada, {}, 3 * 60 + 10, { noActivityHours: 2 }), [{ kind: 'no-activity', sentence: 'No activity for 3 hours while the cohort is running' }]);
  });

  test('the reasons come in the dashboard\'s order', () => {
    const learner = provisionedLearner({ provision_state: 'pending', registered_at: at(-180) });
    const s = {
      ...labelled('needs-info'),
      provisioningLog: [attempt({ attempt_at: at(-60), result: 'error', error_detail: 'boom' })],
      roomIssues: [challenge(4, 'open', 0)],
      openPullRequests: [pull(12, 0)],
    };
    assert.deepEqual(
      reasons(learner, s, 25 * 60).map((r) => r.kind),
      ['provisioning-failed', 'pending-too-long', 'needs-info', 'stuck', 'needs-review', 'no-activity'],
    );
  });

  test('with no snapshot, only the roster\'s own reasons', () => {
    const pending = provisionedLearner({ provision_state: 'pending', registered_at: at(-180) });
    assert.deepEqual(needsAttention(pending, null, context(0)), [{ kind: 'pending-too-long', sentence: 'Pending for 3 hours: no Learning Room yet' }]);
    assert.deepEqual(needsAttention(ada, null, context(30 * 60)), []);
  });

  test('durations are counted to the time the page is shown, from the snapshot\'s findings', () => {
    const snapshot = deriveProgress(ada, signals({ ...busy, roomIssues: [challenge(4, 'open', 25)] }), context(60));
    assert.deepEqual(needsAttention(ada, snapshot, context(90)), [{ kind: 'stuck', sentence: 'Stuck on Challenge 4 for an hour' }]);
  });
});

describe('words for times', () => {
  const cases: Array<[number, string]> = [
    [0, 'less than a minute'],
    [59_999, 'less than a minute'],
    [60_000, 'a minute'],
    [35 * 60_000, '35 minutes'],
    [60 * 60_000, 'an hour'],
    [179 * 60_000, '2 hours'],
    [24 * 60 * 60_000, 'a day'],
    [47 * 60 * 60_000, 'a day'],
    [72 * 60 * 60_000, '3 days'],
    [-5, 'less than a minute'],
  ];
  for (const [ms, words] of cases) test(`${ms} ms is "${words}"`, () => assert.equal(formatDuration(ms), words));

  test('a moment, in UTC', () => {
    assert.equal(formatMoment('2026-03-02T16:05:59Z'), '2 March 2026 at 16:05 UTC');
    assert.equal(formatMoment('2026-12-31T23:30:00-01:00'), '1 January 2027 at 00:30 UTC');
    assert.equal(formatMoment('garbage'), 'an unknown time');
  });
});

describe('the cohort summary', () => {
  test('counts by provisioning state and by derived status; learners without a snapshot are not guessed', () => {
    const learners: Learner[] = [
      provisionedLearner({ github_handle: 'a' }),
      provisionedLearner({ github_handle: 'b', provision_state: 'failed' }),
      provisionedLearner({ github_handle: 'c', provision_state: undefined }),
      provisionedLearner({ github_handle: 'd', provision_state: 'healed' }),
    ];
    const progress = new Map<string, LearnerProgress>([
      ['a', deriveProgress(ada, signals(labelled('acked')), context(0))],
      ['b', deriveProgress(ada, signals(labelled('needs-info')), context(0))],
      ['d', deriveProgress(ada, signals(labelled('acked')), context(0))],
    ]);
    assert.deepEqual(
      summarizeCohort(learners, (l) => progress.get(l.github_handle)),
      {
        total: 4,
        byProvisionState: { pending: 1, provisioned: 1, failed: 1, healed: 1 },
        byStatus: { 'awaiting-ack': 0, 'active-day1': 2, 'day1-complete': 0, 'day2-released': 0, 'needs-info': 1 },
        statusUnknown: 1,
      },
    );
  });

  test('an empty cohort has every count at zero', () => {
    const summary = summarizeCohort([], () => null);
    assert.equal(summary.total, 0);
    assert.ok(Object.values(summary.byProvisionState).every((n) => n === 0));
    assert.ok(Object.values(summary.byStatus).every((n) => n === 0));
  });
});

describe('read-only', () => {
  function deepFreeze<T>(value: T): T {
    if (typeof value === 'object' && value !== null) {
      for (const inner of Object.values(value)) deepFreeze(inner);
      Object.freeze(value);
    }
    return value;
  }

  test('the rules change none of their inputs (frozen inputs would throw on a write)', () => {
    const s = deepFreeze(
      signals({
        ...labelled('acked'),
        comments: [comment('ada-lovelace', 'ack', 30), comment('ada-lovelace', 'ack', 5)],
        roomIssues: [challenge(5, 'open'), challenge(2, 'closed', 9), challenge(1, 'closed', 3)],
        openPullRequests: [pull(3, 0), pull(2, -10)],
        provisioningLog: [attempt({ attempt_at: at(5) }), attempt({ attempt_at: at(1) })],
      }),
    );
    const learner = deepFreeze(provisionedLearner({ provision_state: 'pending' }));
    const ctx = deepFreeze(context(24 * 60 + 60));
    const before = JSON.stringify(s);
    const progress = deriveProgress(learner, s, ctx);
    needsAttention(learner, progress, ctx);
    summarizeCohort([learner], () => progress);
    assert.equal(JSON.stringify(s), before);
  });

  test('a snapshot survives a JSON round trip unchanged, so it can be cached as it is', () => {
    const progress = deriveProgress(
      ada,
      signals({ ...labelled('acked'), comments: [comment('ada-lovelace', 'ack')], roomIssues: [challenge(1, 'closed'), challenge(2, 'open', 0)], openPullRequests: [pull(1, 0)], provisioningLog: [attempt()] }),
      context(200),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(progress)), progress);
  });
});
