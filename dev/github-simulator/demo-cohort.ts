/**
 * The demo's cohort in progress: a simulator seed and a roster of record,
 * made at demo start with every time relative to now, so that each state the
 * dashboard can show is there when the demo opens (derived progress depends
 * on the clock: "stuck" and "no activity" only while a cohort runs, "needs
 * review" once a pull request is an hour old).
 *
 *   node --import tsx dev/github-simulator/demo-cohort.ts --out demo/github [--now 2026-03-02T18:00:00Z]
 *
 * writes `seed.json` and `roster-of-record.json` into the folder and prints
 * one JSON line: `{"seed": "...", "roster": "...", "now": "..."}`. The seed's
 * tokens, App installation and workshop repository come from
 * `seed.example.json`; the admin repository, the enrollment issues and the
 * Learning Rooms are made here. `npm run demo` runs it; tests import
 * `demoCohort` directly.
 *
 * Like the rest of the simulator it is not product code and uses only Node's
 * own modules. The learners are named after computing pioneers; none of them
 * has anything to do with this project.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SeedFile, SeedRepo } from './seed.js';

const OWNER = 'Community-Access';
export const DEMO_ADMIN_REPO = `${OWNER}/glow-admin`;
export const DEMO_ENROLLMENT_REPO = `${OWNER}/glow-enrollment`;
export const DEMO_FACILITATOR = 'glow-facilitator';
const CHALLENGE_BOT = 'glow-learning-room-bot';
const INSTRUCTION = 'Welcome to GLOW! Please read the getting-started guide, then reply ack on this issue.';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Each state the demo shows, the learner that shows it, and what the dashboard should say. */
export const DEMO_LEARNERS = {
  /** The roster says "awaiting-ack"; closed challenges and an own "ack" make it "Active on day 1". */
  activeDayOne: 'ada-lovelace',
  /** Only a facilitator wrote "reply ack": still "Awaiting acknowledgement". */
  awaitingAck: 'grace-hopper',
  /** Acknowledged by an e-mailed reply that quotes the facilitator's message. */
  emailedAck: 'alan-turing',
  /** Challenges 1 to 9 closed and an own "day1-complete" comment. */
  dayOneComplete: 'hedy-lamarr',
  /** Day 2 only: Day 1 complete by their path. */
  dayTwoOnly: 'margaret-hamilton',
  /** The day2-released label. */
  dayTwoReleased: 'radia-perlman',
  /** The needs-info label. */
  needsInfo: 'barbara-liskov',
  /** Challenge 4 not updated for 47 minutes; healed after a failed first attempt. */
  stuck: 'frances-allen',
  /** A pull request open for 95 minutes (and a draft, which does not count). */
  needsReview: 'annie-easley',
  /** The provisioning log's last attempt is an error. */
  provisioningFailed: 'mary-jackson',
  /** Still pending 2 hours after registering. */
  pendingTooLong: 'dorothy-vaughan',
  /** No enrollment issue in the roster: progress from the Learning Room alone. */
  noEnrollmentIssue: 'joan-clarke',
  /** In the cohort that opened 30 hours ago: nothing for 28 hours. */
  noActivity: 'karen-sparck-jones',
  /** In the cohort that opened 30 hours ago, on day 2. */
  secondCohortActive: 'lynn-conway',
  /** Registered a few minutes ago for the next cohort. */
  nextCohort: 'jean-sammet',
} as const;

/** The error the failed provisioning attempt records. */
export const DEMO_PROVISIONING_ERROR =
  'Could not create Community-Access/learning-room-spring-2026-mary-jackson from the template: the template repository Community-Access/learning-room-template answered 404 Not Found';

type Learner = Record<string, unknown> & { github_handle: string; cohort_id: string };
export type DemoRoster = { version: 1; generated_at: string; cohorts: Array<{ cohort_id: string; label: string; opens_at: string }>; learners: Learner[] };
type Issue = NonNullable<SeedRepo['issues']>[number];
type Pull = NonNullable<SeedRepo['pulls']>[number];
type LogEntry = { github_handle: string; cohort_id: string; attempt_at: string; result: 'created' | 'already-exists' | 'healed' | 'error'; repo: string | null; template_sha: string | null; error_detail: string | null };

/** What a learner's Learning Room holds: challenge N closed (minutes ago) or open (updated minutes ago). */
type RoomPlan = {
  closed?: Array<[challenge: number, closedMinutesAgo: number]>;
  open?: Array<[challenge: number, updatedMinutesAgo: number]>;
  pulls?: Array<{ title: string; openedMinutesAgo: number; draft?: boolean }>;
};

type Plan = {
  handle: string;
  cohort: 'spring-2026' | 'pilot-2026' | 'summer-2027';
  path?: 'day1-day2' | 'day2-only';
  provision: 'pending' | 'provisioned' | 'failed' | 'healed';
  registeredMinutesAgo: number;
  /** No enrollment issue when absent. */
  enrollment?: { labels?: string[]; comments?: Array<{ user: string; body: string; minutesAgo: number }> };
  room?: RoomPlan;
  log?: Array<{ result: LogEntry['result']; minutesAgo: number; error?: string }>;
  notes?: string;
};

const TEMPLATE_SHA = '3d21ec53a331a6f037a91c368710b99387d012c1';

function closedUpTo(last: number, firstClosedMinutesAgo: number, step: number): Array<[number, number]> {
  return Array.from({ length: last }, (_, i) => [i + 1, firstClosedMinutesAgo - i * step] as [number, number]);
}

function plans(): Plan[] {
  const L = DEMO_LEARNERS;
  const facilitatorAsks = { user: DEMO_FACILITATOR, body: INSTRUCTION, minutesAgo: 3 * 24 * 60 };
  return [
    {
      handle: L.activeDayOne,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 9 * 24 * 60,
      enrollment: { comments: [facilitatorAsks, { user: L.activeDayOne, body: 'ack', minutesAgo: 2 * 24 * 60 }] },
      room: { closed: [[1, 150], [2, 95]], open: [[3, 4]], pulls: [{ title: 'Challenge 3: my first pull request', openedMinutesAgo: 12 }] },
      notes: 'Uses NVDA with Firefox. Prefers a morning check-in.',
    },
    {
      handle: L.awaitingAck,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 8 * 24 * 60,
      // Only the facilitator says "ack" here, twice: neither is the learner's acknowledgement.
      enrollment: { comments: [facilitatorAsks, { user: DEMO_FACILITATOR, body: 'A reminder: reply ack when you are ready, so we know you can reach GitHub.', minutesAgo: 60 }] },
      room: { open: [[1, 8]] },
    },
    {
      handle: L.emailedAck,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 7 * 24 * 60,
      enrollment: {
        comments: [
          facilitatorAsks,
          {
            user: L.emailedAck,
            body: `Ack, thank you.\n\nOn Friday, ${DEMO_FACILITATOR} wrote:\n> ${INSTRUCTION}\n>\n> The GLOW facilitators`,
            minutesAgo: 2 * 24 * 60,
          },
        ],
      },
      room: { open: [[1, 2]] },
    },
    {
      handle: L.dayOneComplete,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 10 * 24 * 60,
      enrollment: { comments: [facilitatorAsks, { user: L.dayOneComplete, body: 'ack', minutesAgo: 3 * 24 * 60 - 30 }, { user: L.dayOneComplete, body: 'Challenge 9 is done: day1-complete!', minutesAgo: 6 }] },
      room: { closed: closedUpTo(9, 170, 20) },
    },
    {
      handle: L.dayTwoOnly,
      cohort: 'spring-2026',
      path: 'day2-only',
      provision: 'provisioned',
      registeredMinutesAgo: 6 * 24 * 60,
      enrollment: { comments: [] },
      room: {},
    },
    {
      handle: L.dayTwoReleased,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 12 * 24 * 60,
      enrollment: { labels: ['acked', 'day1-complete', 'day2-released'], comments: [facilitatorAsks] },
      room: { closed: closedUpTo(9, 175, 15), open: [[10, 3]] },
    },
    {
      handle: L.needsInfo,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 5 * 24 * 60,
      enrollment: {
        labels: ['needs-info'],
        comments: [facilitatorAsks, { user: DEMO_FACILITATOR, body: 'Which screen reader do you use? We will pair you with a facilitator who knows it.', minutesAgo: 40 }],
      },
      room: { open: [[1, 10]] },
    },
    {
      handle: L.stuck,
      cohort: 'spring-2026',
      provision: 'healed',
      registeredMinutesAgo: 6 * 24 * 60,
      enrollment: { comments: [facilitatorAsks, { user: L.stuck, body: 'ACK!', minutesAgo: 2 * 24 * 60 }] },
      room: { closed: [[1, 140], [2, 110], [3, 80]], open: [[4, 47]] },
      log: [
        { result: 'error', minutesAgo: 5 * 24 * 60, error: 'GitHub answered 502 Bad Gateway while copying the template; nothing was created' },
        { result: 'healed', minutesAgo: 5 * 24 * 60 - 30 },
      ],
      notes: 'Asked for help with branches last time.',
    },
    {
      handle: L.needsReview,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 9 * 24 * 60,
      enrollment: { labels: ['acked'], comments: [facilitatorAsks] },
      room: {
        closed: [[1, 160], [2, 140], [3, 120], [4, 100]],
        open: [[5, 3]],
        pulls: [
          { title: 'Challenge 5: describe the diagram in words', openedMinutesAgo: 95 },
          { title: 'Draft: trying out a template', openedMinutesAgo: 150, draft: true },
        ],
      },
    },
    {
      handle: L.provisioningFailed,
      cohort: 'spring-2026',
      provision: 'failed',
      registeredMinutesAgo: 4 * 24 * 60,
      enrollment: { comments: [facilitatorAsks, { user: L.provisioningFailed, body: 'ack, but I cannot find my Learning Room.', minutesAgo: 170 }] },
      log: [{ result: 'error', minutesAgo: 3 * 24 * 60, error: DEMO_PROVISIONING_ERROR }],
    },
    {
      handle: L.pendingTooLong,
      cohort: 'spring-2026',
      provision: 'pending',
      registeredMinutesAgo: 125,
      enrollment: { comments: [] },
    },
    {
      handle: L.noEnrollmentIssue,
      cohort: 'spring-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 3 * 24 * 60,
      room: { closed: [[1, 30]], open: [[2, 6]] },
    },
    {
      handle: L.noActivity,
      cohort: 'pilot-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 14 * 24 * 60,
      enrollment: { labels: ['acked'], comments: [facilitatorAsks] },
      room: { closed: [[1, 29 * 60], [2, 28 * 60 + 30]], open: [[3, 28 * 60]] },
    },
    {
      handle: L.secondCohortActive,
      cohort: 'pilot-2026',
      provision: 'provisioned',
      registeredMinutesAgo: 14 * 24 * 60,
      enrollment: { labels: ['acked', 'day1-complete'], comments: [facilitatorAsks] },
      room: { closed: closedUpTo(9, 27 * 60, 60), open: [[10, 9]] },
    },
    {
      handle: L.nextCohort,
      cohort: 'summer-2027',
      provision: 'pending',
      registeredMinutesAgo: 5,
      enrollment: { comments: [] },
    },
    // The next cohort fills up: enough learners for a second page of the learners table (50 a page).
    ...Array.from({ length: NEXT_COHORT_FILLERS }, (_, i): Plan => {
      const handle = `summer-learner-${String(i + 1).padStart(2, '0')}`;
      return {
        handle,
        cohort: 'summer-2027',
        provision: 'provisioned',
        registeredMinutesAgo: (i + 2) * 6 * 60,
        enrollment: { comments: i % 3 === 0 ? [] : [{ user: handle, body: 'ack', minutesAgo: (i + 2) * 6 * 60 - 30 }] },
        room: {},
      };
    }),
  ];
}

/** Learners of the next cohort besides the named ones: 55 learners in all, two pages. */
export const NEXT_COHORT_FILLERS = 40;

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const isoMs = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

/** The seed and the roster of record of the demo's cohort in progress, as of `now`. */
export function demoCohort(now: Date, base: SeedFile = readBaseSeed()): { seed: SeedFile; roster: DemoRoster } {
  const t = now.getTime();
  const ago = (minutes: number) => iso(t - minutes * MINUTE);
  const cohorts = [
    // Day 1 started three hours ago: "stuck" and "needs review" can happen, "no activity for a day" cannot yet.
    { cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: isoMs(t - 3 * HOUR) },
    // Opened 30 hours ago and still running (a cohort runs for 48 hours): "no activity for a day" can happen.
    { cohort_id: 'pilot-2026', label: 'Pilot cohort', opens_at: isoMs(t - 30 * HOUR) },
    { cohort_id: 'summer-2027', label: 'Summer 2027 cohort', opens_at: isoMs(t + 60 * DAY) },
  ];
  const opensAt = new Map(cohorts.map((c) => [c.cohort_id, Date.parse(c.opens_at)]));

  const learners: Learner[] = [];
  const enrollmentIssues: Issue[] = [];
  const rooms: SeedRepo[] = [];
  const log: LogEntry[] = [];
  let issueNumber = 100;
  for (const plan of plans()) {
    const roomName = `learning-room-${plan.cohort}-${plan.handle}`;
    const room = `${OWNER}/${roomName}`;
    const hasRoom = plan.room !== undefined;
    const learner: Learner = {
      github_handle: plan.handle,
      cohort_id: plan.cohort,
      path: plan.path ?? 'day1-day2',
      learning_room_repo: hasRoom ? room : null,
      provision_state: plan.provision,
      // Nothing in the workshop writes these two: the dashboard derives progress instead.
      status: 'awaiting-ack',
      registered_at: isoMs(t - plan.registeredMinutesAgo * MINUTE),
      last_signal_at: null,
      notes: plan.notes ?? '',
    };
    if (plan.enrollment) {
      issueNumber += 1;
      learner.enrollment_repo = DEMO_ENROLLMENT_REPO;
      learner.enrollment_issue_number = issueNumber;
      enrollmentIssues.push({
        number: issueNumber,
        title: `Enrollment: ${plan.handle}`,
        body: `Cohort: ${plan.cohort}\nPath: ${learner.path}`,
        user: plan.handle,
        labels: plan.enrollment.labels ?? [],
        createdAt: ago(plan.registeredMinutesAgo),
        comments: (plan.enrollment.comments ?? []).map((c) => ({ user: c.user, body: c.body, createdAt: ago(Math.min(c.minutesAgo, plan.registeredMinutesAgo - 1)) })),
      });
    }
    learners.push(learner);

    if (plan.room) {
      // The challenges are made when the Learning Room is, a day before the cohort opens.
      const made = iso(Math.min(opensAt.get(plan.cohort)! - DAY, t - plan.registeredMinutesAgo * MINUTE + HOUR));
      const challenge = (n: number) => `Challenge ${n}: ${CHALLENGE_NAMES[n - 1] ?? 'Day 2 practice'}`;
      const issues: Issue[] = [
        ...(plan.room.closed ?? []).map(([n, minutes]): Issue => ({ number: n, title: challenge(n), user: CHALLENGE_BOT, state: 'closed', createdAt: made, closedAt: ago(minutes) })),
        ...(plan.room.open ?? []).map(([n, minutes]): Issue => ({ number: n, title: challenge(n), user: CHALLENGE_BOT, state: 'open', createdAt: made, updatedAt: ago(minutes) })),
      ].sort((a, b) => a.number! - b.number!);
      const pulls: Pull[] = (plan.room.pulls ?? []).map((p, i) => ({
        number: 100 + i,
        title: p.title,
        user: plan.handle,
        head: `${plan.handle}-${i + 1}`,
        base: 'main',
        draft: p.draft ?? false,
        createdAt: ago(p.openedMinutesAgo),
      }));
      rooms.push({ owner: OWNER, name: roomName, private: true, files: { 'README.md': `# ${plan.handle}'s Learning Room\n` }, branches: pulls.map((p) => p.head!), issues, pulls });
      if (!plan.log) log.push({ github_handle: plan.handle, cohort_id: plan.cohort, attempt_at: isoMs(t - (plan.registeredMinutesAgo - 20) * MINUTE), result: 'created', repo: room, template_sha: TEMPLATE_SHA, error_detail: null });
    }
    for (const entry of plan.log ?? []) {
      log.push({
        github_handle: plan.handle,
        cohort_id: plan.cohort,
        attempt_at: isoMs(t - entry.minutesAgo * MINUTE),
        result: entry.result,
        repo: entry.result === 'error' ? null : room,
        template_sha: entry.result === 'error' ? null : TEMPLATE_SHA,
        error_detail: entry.error ?? null,
      });
    }
  }
  log.sort((a, b) => a.attempt_at.localeCompare(b.attempt_at));

  const roster: DemoRoster = { version: 1, generated_at: isoMs(t - DAY), cohorts, learners };

  const baseRepos = base.repos ?? [];
  const workshop = baseRepos.filter((r) => (r.workflows ?? []).some((w) => w.file === 'provision-learning-rooms.yml'));
  const enrollmentBase = baseRepos.find((r) => `${r.owner}/${r.name}` === DEMO_ENROLLMENT_REPO);
  const [adminOwner, adminName] = DEMO_ADMIN_REPO.split('/') as [string, string];
  const [enrollOwner, enrollName] = DEMO_ENROLLMENT_REPO.split('/') as [string, string];
  const repos: SeedRepo[] = [
    {
      owner: adminOwner,
      name: adminName,
      private: true,
      defaultBranch: 'main',
      files: {
        'roster.json': { fromFile: 'roster-of-record.json' },
        'provisioning-log.json': { text: `${JSON.stringify(log, null, 2)}\n` },
      },
    },
    ...workshop,
    {
      owner: enrollOwner,
      name: enrollName,
      private: false,
      labels: enrollmentBase?.labels ?? [{ name: 'acked' }, { name: 'needs-info' }, { name: 'day1-complete' }, { name: 'day2-released' }],
      files: { 'README.md': '# GLOW enrollment\n' },
      issues: enrollmentIssues,
    },
    ...rooms,
  ];
  const repoNames = repos.map((r) => `${r.owner}/${r.name}`);
  // Derived progress reads issues and pull requests: the demo's token may read both, on every repository it is given.
  const withReads = <P extends Record<string, unknown> | undefined>(permissions: P) => ({
    ...permissions,
    issues: permissions?.issues === 'write' ? 'write' : 'read',
    pull_requests: permissions?.pull_requests === 'write' ? 'write' : 'read',
    metadata: 'read',
  });
  const seed: SeedFile = {
    ...base,
    users: [...new Set([...(base.users ?? []), DEMO_FACILITATOR, CHALLENGE_BOT, ...learners.map((l) => l.github_handle)])],
    tokens: (base.tokens ?? []).map((token) => ({ ...token, permissions: withReads(token.permissions), repositories: repoNames })),
    installations: (base.installations ?? []).map((installation) => ({ ...installation, permissions: withReads(installation.permissions) })),
    repos,
  } as SeedFile;
  return { seed, roster };
}

const CHALLENGE_NAMES = [
  'Find your Learning Room',
  'Open an issue',
  'Comment on an issue',
  'Make a branch',
  'Edit a file',
  'Open a pull request',
  'Review a pull request',
  'Resolve a conflict',
  'Merge your work',
];

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** `seed.example.json`, the base the demo's seed keeps its tokens, App installation and workshop repository from. */
export function readBaseSeed(): SeedFile {
  return JSON.parse(readFileSync(path.join(HERE, 'seed.example.json'), 'utf8')) as SeedFile;
}

/** Writes `seed.json` and `roster-of-record.json` into `dir`; returns their paths. */
export function writeDemoCohort(dir: string, now: Date = new Date()): { seed: string; roster: string } {
  const { seed, roster } = demoCohort(now);
  mkdirSync(dir, { recursive: true });
  const files = { seed: path.join(dir, 'seed.json'), roster: path.join(dir, 'roster-of-record.json') };
  writeFileSync(files.roster, `${JSON.stringify(roster, null, 2)}\n`);
  writeFileSync(files.seed, `${JSON.stringify(seed, null, 2)}\n`);
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, now: { type: 'string' } } });
  if (!values.out) {
    console.error('usage: node --import tsx dev/github-simulator/demo-cohort.ts --out DIR [--now ISO-TIME]');
    process.exit(2);
  }
  const now = values.now ? new Date(values.now) : new Date();
  if (Number.isNaN(now.getTime())) {
    console.error(`--now is not a time: ${values.now}`);
    process.exit(2);
  }
  const files = writeDemoCohort(path.resolve(values.out), now);
  process.stdout.write(`${JSON.stringify({ ...files, now: now.toISOString() })}\n`);
}
