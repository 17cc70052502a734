/**
 * A cohort in progress of any size, for the progress benchmarks: the demo
 * cohort's learners (dev/github-simulator/demo-cohort.ts, one for each state
 * the dashboard can show) copied over and over under new names, with their
 * Learning Rooms, enrollment issues, comments, pull requests and provisioning
 * log entries, every time relative to `now`.
 *
 * Learner i is a copy of the demo's named learner i mod 15 (the demo's 40
 * "next cohort" fillers, with empty rooms, are left out, so that every
 * learner has something to derive). The first `withProgress` learners get
 * their GitHub side in the simulator; the rest are in the roster of record
 * only, with no Learning Room and no enrollment issue, so the progress reader
 * sends nothing for them (their status is derived from no signals). That keeps
 * a roster of 50,000 within what one in-process simulator can seed and answer.
 */
import { DEMO_ENROLLMENT_REPO, DEMO_LEARNERS, demoCohort } from '../../dev/github-simulator/demo-cohort.js';
import type { GitHubSimulator } from '../../dev/github-simulator/index.js';
import type { SeedFile, SeedRepo } from '../../dev/github-simulator/seed.js';
import { serializeRoster, type Learner, type Roster } from '../../src/roster/contract.js';

export const PROGRESS_ADMIN = { owner: 'Community-Access', name: 'glow-admin' } as const;
export const PROGRESS_ADMIN_REPO = `${PROGRESS_ADMIN.owner}/${PROGRESS_ADMIN.name}`;
export const PROVISIONING_LOG = 'provisioning-log.json';

type DemoLearner = Record<string, unknown> & { github_handle: string; cohort_id: string };
type LogEntry = { github_handle: string; cohort_id: string; attempt_at: string; result: string; repo: string | null; template_sha: string | null; error_detail: string | null };
type Issue = NonNullable<SeedRepo['issues']>[number];

/** One learner of the generated cohort, with what the simulator holds for it (null: nothing). */
export interface CohortMember {
  handle: string;
  cohort: string;
  /** The demo learner it copies. */
  template: string;
  room: string | null;
  enrollmentIssue: number | null;
}

export interface ProgressCohort {
  rosterText: string;
  members: CohortMember[];
  /** Learners with a GitHub side in the simulator. */
  withProgress: number;
  /** Entries in the provisioning log. */
  logEntries: number;
  /** Repositories, issues (pull requests included) and comments seeded. */
  seeded: { repos: number; issues: number; comments: number };
  enrollmentRepo: string;
  /** Seeds the simulator (admin repository with the roster of record and the provisioning log, enrollment issues, Learning Rooms). */
  seed(sim: GitHubSimulator): void;
}

const NAMED = new Set<string>(Object.values(DEMO_LEARNERS));

/** `ada-lovelace` -> `ada-lovelace-00042`: a valid GitHub username (at most 39 characters, single hyphens). */
function copyHandle(handle: string, i: number): string {
  return `${handle}-${String(i + 1).padStart(5, '0')}`;
}

/** Replaces a learner's handle in a text (titles, repository names) with the copy's. */
function renamed(text: string, from: string, to: string): string {
  return text.split(from).join(to);
}

export function progressCohort(learners: number, withProgress: number, now: Date): ProgressCohort {
  const { seed: demo, roster: demoRoster } = demoCohort(now);
  const templates = (demoRoster.learners as DemoLearner[]).filter((l) => NAMED.has(l.github_handle));
  if (templates.length === 0) throw new Error('the demo cohort has no named learners');
  const repos = new Map((demo.repos ?? []).map((r) => [`${r.owner}/${r.name}`.toLowerCase(), r]));
  const enrollment = repos.get(DEMO_ENROLLMENT_REPO.toLowerCase());
  const enrollmentIssues = new Map((enrollment?.issues ?? []).map((issue) => [issue.number!, issue]));
  const admin = repos.get(PROGRESS_ADMIN_REPO.toLowerCase());
  const logFile = admin?.files?.[PROVISIONING_LOG];
  const demoLog = JSON.parse(typeof logFile === 'object' && logFile !== null && 'text' in logFile ? logFile.text : '[]') as LogEntry[];

  const members: CohortMember[] = [];
  const out: Learner[] = [];
  const rooms: SeedRepo[] = [];
  const issues: Issue[] = [];
  const log: LogEntry[] = [];
  let issueNumber = 0;
  let comments = 0;
  let roomIssues = 0;
  for (let i = 0; i < learners; i++) {
    const t = templates[i % templates.length]!;
    const from = t.github_handle;
    const handle = copyHandle(from, i);
    const seeded = i < withProgress;
    const templateRoom = typeof t.learning_room_repo === 'string' ? t.learning_room_repo : null;
    const room = seeded && templateRoom !== null ? renamed(templateRoom, from, handle) : null;
    const templateIssue = typeof t.enrollment_issue_number === 'number' ? enrollmentIssues.get(t.enrollment_issue_number) ?? null : null;
    let enrollmentIssue: number | null = null;
    if (seeded && templateIssue !== null) {
      enrollmentIssue = ++issueNumber;
      const issueComments = (templateIssue.comments ?? []).map((c) => ({ ...c, user: c.user === from ? handle : c.user }));
      comments += issueComments.length;
      issues.push({ ...templateIssue, number: enrollmentIssue, title: renamed(templateIssue.title, from, handle), user: handle, comments: issueComments });
    }
    if (room !== null) {
      const spec = repos.get(templateRoom!.toLowerCase());
      if (!spec) throw new Error(`the demo cohort has no repository ${templateRoom}`);
      const [owner, name] = room.split('/') as [string, string];
      const pulls = (spec.pulls ?? []).map((p) => ({ ...p, user: p.user === from ? handle : p.user, head: p.head ? renamed(p.head, from, handle) : p.head }));
      roomIssues += (spec.issues?.length ?? 0) + pulls.length;
      rooms.push({ ...spec, owner, name, files: { 'README.md': `# ${handle}'s Learning Room\n` }, branches: pulls.map((p) => p.head!).filter(Boolean), issues: spec.issues ?? [], pulls });
    }
    if (seeded) {
      for (const entry of demoLog.filter((e) => e.github_handle === from)) {
        log.push({ ...entry, github_handle: handle, repo: entry.repo === null ? null : renamed(entry.repo, from, handle) });
      }
    }
    const learner: Record<string, unknown> = { ...t, github_handle: handle, learning_room_repo: room };
    if (enrollmentIssue !== null) {
      learner.enrollment_repo = DEMO_ENROLLMENT_REPO;
      learner.enrollment_issue_number = enrollmentIssue;
    } else {
      delete learner.enrollment_repo;
      delete learner.enrollment_issue_number;
    }
    out.push(learner as Learner);
    members.push({ handle, cohort: t.cohort_id, template: from, room, enrollmentIssue });
  }
  log.sort((a, b) => a.attempt_at.localeCompare(b.attempt_at));
  const roster: Roster = { version: 1, generated_at: demoRoster.generated_at, cohorts: demoRoster.cohorts, learners: out };
  const rosterText = serializeRoster(roster, now);
  const [enrollOwner, enrollName] = DEMO_ENROLLMENT_REPO.split('/') as [string, string];
  const seedFile: SeedFile = {
    repos: [
      {
        owner: enrollOwner,
        name: enrollName,
        private: false,
        labels: enrollment?.labels ?? [],
        files: { 'README.md': '# GLOW enrollment\n' },
        issues,
      },
      ...rooms,
    ],
  };
  return {
    rosterText,
    members,
    withProgress: Math.min(learners, withProgress),
    logEntries: log.length,
    seeded: { repos: rooms.length + 2, issues: issues.length + roomIssues, comments },
    enrollmentRepo: DEMO_ENROLLMENT_REPO,
    seed(sim) {
      sim.seedAdminRepo({ ...PROGRESS_ADMIN, rosterText });
      sim.state.commitFile(PROGRESS_ADMIN_REPO, PROVISIONING_LOG, `${JSON.stringify(log, null, 2)}\n`, { message: 'Provisioning log' });
      sim.seed(seedFile);
    },
  };
}
