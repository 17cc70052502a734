/**
 * Derived progress for the benchmark: the simulator seeded with a cohort in
 * progress (progress-cohort.ts) and a token that may read it; what the
 * dashboard says about the progress snapshot; which of the companion's
 * requests were the progress reader's; learners doing something on GitHub
 * between two refreshes; and, in this process, where the time of one
 * dashboard page goes, timed with the companion's own functions.
 */
import { performance } from 'node:perf_hooks';
import { createGitHubSimulator, type GitHubSimulator, type LoggedRequest } from '../../dev/github-simulator/index.js';
import { loadConfig } from '../../src/config.js';
import { connectGitHub } from '../../src/github/client.js';
import { createProgressApi } from '../../src/github/progress-api.js';
import { ProgressReader } from '../../src/github/progress.js';
import { deriveProgress, needsAttention, type LearnerProgress, type ProgressContext } from '../../src/github/progress-rules.js';
import { dashboardModel, type ProgressView } from '../../src/routes/dashboard.js';
import { DEFAULT_QUERY, matchingSorted, pageOf, type TableEntry, type TableQuery } from '../../src/routes/learner-table.js';
import { CohortTable, type TableBasis } from '../../src/routes/cohort-table.js';
import { keyOfLearner, sortedLearners } from '../../src/roster/incremental.js';
import { silentLog } from '../../src/roster/errors.js';
import { RosterStore } from '../../src/roster/store.js';
import { PROGRESS_ADMIN_REPO, PROVISIONING_LOG, progressCohort, type CohortMember, type ProgressCohort } from './progress-cohort.js';

/** What the companion's token may do: commit the roster of record, read issues and pull requests for progress. */
export const PROGRESS_PERMISSIONS = { contents: 'write', issues: 'read', pull_requests: 'read', metadata: 'read' } as const;

export interface ProgressGitHub {
  sim: GitHubSimulator;
  url: string;
  token: string;
  /** The companion's identity in the simulator's request log. */
  identity: string;
  cohort: ProgressCohort;
  stop(): Promise<void>;
}

/**
 * The simulator with every answer delayed by `latencyMs`, seeded with a cohort
 * of `learners`, `withProgress` of them with a GitHub side. `rateLimit`
 * replaces the token's 5,000 an hour (for runs that measure pages, not the
 * rate limit).
 */
export async function startProgressGitHub(o: { learners: number; withProgress: number; latencyMs: number; rateLimit?: number; now?: Date }): Promise<ProgressGitHub> {
  const cohort = progressCohort(o.learners, o.withProgress, o.now ?? new Date());
  const sim = createGitHubSimulator({ latencyMs: o.latencyMs });
  const url = await sim.start();
  try {
    cohort.seed(sim);
  } catch (error) {
    await sim.stop();
    throw error;
  }
  const login = 'glow-companion-bench';
  const token = sim.addToken({ login, permissions: { ...PROGRESS_PERMISSIONS }, ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}) });
  return { sim, url, token, identity: `user:${login}`, cohort, stop: () => sim.stop() };
}

/** The companion's GitHub-mode settings against the progress simulator. */
export function progressEnv(github: ProgressGitHub, syncIntervalS: number): Record<string, string> {
  return {
    COMPANION_GITHUB_REPO: PROGRESS_ADMIN_REPO,
    COMPANION_GITHUB_TOKEN: github.token,
    COMPANION_GITHUB_API_URL: github.url,
    COMPANION_SYNC_INTERVAL: String(syncIntervalS),
  };
}

/** The companion's defaults for GitHub mode, read from its own configuration code. */
export function githubDefaults(): { progressIntervalS: number; syncIntervalS: number; stuckMinutes: number } {
  const github = loadConfig({ COMPANION_GITHUB_REPO: 'owner/repo', COMPANION_GITHUB_TOKEN: 'x', COMPANION_SECURE_COOKIES: '0' }).github!;
  return { progressIntervalS: github.progressIntervalSeconds, syncIntervalS: github.syncIntervalSeconds, stuckMinutes: github.stuckMinutes };
}

/** What the dashboard says about derived progress: the snapshot's time, whether a refresh is running, whether a problem is shown. */
export interface ProgressLine {
  takenAt: string | null;
  refreshing: boolean;
  problem: string | null;
}

export function progressLine(page: string): ProgressLine {
  const taken = /Progress as read from GitHub at <time datetime="([^"]+)"/.exec(page);
  const problem = /<strong>Problem reading progress:<\/strong>\s*([^<]*)/.exec(page);
  return {
    takenAt: taken ? taken[1]! : null,
    refreshing: /it is being read again now|Progress is being read from GitHub for the first time/.test(page),
    problem: problem ? problem[1]!.trim() : null,
  };
}

/** Which part of the companion sent a request: the progress reader (issues, pull requests, the provisioning log) or the roster sync. */
export function requestKind(r: LoggedRequest): 'issue' | 'enrollment issues' | 'comments' | 'room issues' | 'pulls' | 'provisioning log' | 'sync' {
  if (r.path.endsWith(`/contents/${PROVISIONING_LOG}`)) return 'provisioning log';
  if (/\/issues\/\d+\/comments$/.test(r.path)) return 'comments';
  if (/\/issues\/\d+$/.test(r.path)) return 'issue';
  // The enrollment repository's list is read oldest first; a Learning Room's in GitHub's default order.
  if (/\/issues$/.test(r.path)) return r.query.direction === 'asc' ? 'enrollment issues' : 'room issues';
  if (/\/pulls$/.test(r.path)) return 'pulls';
  return 'sync';
}

/** Requests by kind and answer: `room issues 304: 161`. */
export function byKindAndStatus(requests: LoggedRequest[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    const key = `${requestKind(r)} ${r.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** From the first request's arrival to the last answer sent (ms), from the simulator's log. */
export function spanMs(requests: LoggedRequest[]): number {
  if (requests.length === 0) return 0;
  let start = Infinity;
  let end = -Infinity;
  for (const r of requests) {
    const at = Date.parse(r.at);
    start = Math.min(start, at);
    end = Math.max(end, at + r.durationMs);
  }
  return end - start;
}

/**
 * `share` of the learners with a GitHub side each do one thing, as during a
 * workshop: in turn, close their current challenge (the room's issue list
 * changes), comment on their enrollment issue (the issue and its comments
 * change), open a pull request (the room's issue list and pull requests
 * change). Learners are taken evenly through the roster. Returns what was done.
 */
export function learnersAct(github: ProgressGitHub, share: number): Record<string, number> {
  const { state } = github.sim;
  const members = github.cohort.members.filter((m) => m.room !== null || m.enrollmentIssue !== null);
  const count = Math.round(members.length * share);
  const done: Record<string, number> = { 'closed a challenge': 0, 'commented on the enrollment issue': 0, 'opened a pull request': 0 };
  const closeChallenge = (m: CohortMember): boolean => {
    if (m.room === null) return false;
    const open = [...state.repo(m.room).issues.values()].filter((i) => i.pull === null && i.state === 'open').sort((a, b) => a.number - b.number)[0];
    if (!open) return false;
    state.updateIssue(m.room, open.number, { state: 'closed' });
    done['closed a challenge']! += 1;
    return true;
  };
  const comment = (m: CohortMember): boolean => {
    if (m.enrollmentIssue === null) return false;
    state.addComment(github.cohort.enrollmentRepo, m.enrollmentIssue, { user: m.handle, body: 'Done with this one, on to the next challenge.' });
    done['commented on the enrollment issue']! += 1;
    return true;
  };
  const pull = (m: CohortMember): boolean => {
    if (m.room === null) return false;
    state.addPull(m.room, { title: 'Challenge 6: my changes', user: m.handle, head: `${m.handle}-bench` });
    done['opened a pull request']! += 1;
    return true;
  };
  const actions = [closeChallenge, comment, pull];
  for (let k = 0; k < count; k++) {
    const m = members[Math.floor((k * members.length) / count)]!;
    const first = k % actions.length;
    for (let a = 0; a < actions.length; a++) if (actions[(first + a) % actions.length]!(m)) break;
  }
  return done;
}

/** CPU time (ms) this process spends running `fn`: unlike the time on the clock, it does not count waiting for a core another process holds. */
function cpuMs(fn: () => unknown): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/**
 * Median CPU time of a few runs (ms), after running it for half a second and
 * 5 times (at most 2 s) so that it is compiled as in a server that has served
 * many pages, and for at most about 3 s of measured runs. A run that takes
 * over a second is measured once: compilation is a small part of it.
 */
function medianMs(runs: number, fn: () => unknown): number {
  const once = cpuMs(fn);
  if (once > 1000) return once;
  const warm = performance.now();
  for (let i = 1; (i < 5 || performance.now() - warm < 500) && performance.now() - warm < 2000; i++) fn();
  const times: number[] = [];
  const measuring = performance.now();
  while (times.length < runs && (times.length === 0 || performance.now() - measuring < 3000)) times.push(cpuMs(fn));
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

export interface PageBreakdown {
  learners: number;
  /** The in-process reader's refresh (0 ms latency), to get the same snapshot the companion has. */
  refreshMs: number;
  /** The first dashboard model after the snapshot, in this process: every learner's progress is derived then (and the code is not yet compiled for it). */
  coldModelMs: number;
  /** Deriving every learner's progress alone, once compiled (what the first page after each later refresh pays). */
  deriveAllMs: number;
  /** A dashboard model once its table is kept (every page after the first for the same roster and snapshot). */
  modelMs: number;
  /** Making the table again, progress already derived: what the first page after a registration or an edit pays. */
  tableBuildMs: number;
  /** Every learner's needs-attention reasons, worked out afresh: the most the first page after a reason can come or go pays. */
  attentionMs: number;
  /** Filtering, sorting and paging every learner, not kept: what the first page of a new filter or sort pays. */
  tableMs: number;
  /** The same for the filtered, sorted pages: the model once kept, and the filter-sort-page time. */
  queries: Array<{ query: string; modelMs: number; tableMs: number; matching: number }>;
}

/**
 * Where one dashboard page's model build goes, in this process: a progress
 * reader like the companion's reads the same simulator into a snapshot, then
 * the dashboard model is built with the companion's own function
 * (`dashboardModel`), cold and warm, and what a page pays only now and then
 * (the table made again, every learner's reasons for attention, a new filter
 * or sort) is timed apart with the same functions it calls. Every figure is
 * this process's CPU time. Rendering and HTTP are not in them: they are the
 * rest of the server's CPU time per page.
 */
export async function pageBreakdown(o: { rosterPath: string; github: ProgressGitHub; queries: Array<{ label: string; query: TableQuery }>; runs?: number }): Promise<PageBreakdown> {
  const runs = o.runs ?? 7;
  const config = loadConfig({
    COMPANION_ROSTER_PATH: o.rosterPath,
    COMPANION_SECURE_COOKIES: '0',
    ...progressEnv(o.github, 60),
  });
  const github = config.github!;
  const store = new RosterStore({ path: o.rosterPath, maxBytes: config.rosterMaxBytes, log: silentLog });
  const reader = new ProgressReader(github, createProgressApi(connectGitHub(github, silentLog).octokit), store, silentLog);
  try {
    const started = performance.now();
    await reader.refreshNow();
    const refreshMs = performance.now() - started;
    const state = reader.state;
    if (state.snapshot === null) throw new Error(`the in-process progress reader made no snapshot: ${state.problem?.text ?? 'no reason given'}`);
    const roster = await store.read();
    const view: ProgressView = { state, stuckMinutes: github.stuckMinutes, refreshRequested: false, now: new Date() };
    const context: ProgressContext = { now: view.now, cohorts: roster.cohorts ?? [], stuckMinutes: github.stuckMinutes };
    const snapshot = state.snapshot;
    const sorted = sortedLearners(roster.learners);

    const coldModelMs = cpuMs(() => dashboardModel(roster, DEFAULT_QUERY, { mode: 'local' }, view));

    // Deriving every learner's progress, as the first page after a refresh does (here into a map of this run's own).
    const derive = () => {
      const out = new Map<object, LearnerProgress | null>();
      for (const learner of sorted) {
        const signals = snapshot.signals.get(keyOfLearner(learner));
        out.set(learner, signals === undefined ? null : deriveProgress(learner, signals, { ...context, now: snapshot.takenAt }));
      }
      return out;
    };
    const deriveAllMs = medianMs(runs, derive);
    const progress = derive();

    const modelMs = medianMs(runs, () => dashboardModel(roster, DEFAULT_QUERY, { mode: 'local' }, view));
    const basis: TableBasis = { learners: roster.learners, cohorts: roster.cohorts ?? [], snapshot, stuckMinutes: github.stuckMinutes };
    const tableBuildMs = medianMs(runs, () => new CohortTable(basis));
    const entries = new CohortTable(basis).everyone;
    const attentionMs = medianMs(runs, () => entries.map((e) => needsAttention(e.learner, progress.get(e.learner) ?? null, context)));
    const needing = new Set(entries.filter((e) => needsAttention(e.learner, progress.get(e.learner) ?? null, context).length > 0));
    const needs = (e: TableEntry) => needing.has(e);
    // A new filter or sort: what the kept table does on a view it has not kept (filter, sort, then the page).
    const tableView = (query: TableQuery) => pageOf(matchingSorted(entries, query, needs), query.page);
    const tableMs = medianMs(runs, () => tableView(DEFAULT_QUERY));
    const queries = o.queries.map(({ label, query }) => ({
      query: label,
      modelMs: medianMs(runs, () => dashboardModel(roster, query, { mode: 'local' }, view)),
      tableMs: medianMs(runs, () => tableView(query)),
      matching: tableView(query).matching.length,
    }));
    return { learners: roster.learners.length, refreshMs, coldModelMs, deriveAllMs, modelMs, tableBuildMs, attentionMs, tableMs, queries };
  } finally {
    await reader.stop();
    await store.close();
  }
}
