/**
 * `npm run bench`: the companion's benchmark harness.
 *
 * Starts the built companion (`node dist/server.js`, configured only through
 * its environment) and a bare node:http baseline, each in its own process on
 * 127.0.0.1, and drives them with autocannon for a bounded time per scenario:
 *
 *   baseline            the bare node:http server, a fixed small page
 *   register-get        GET /register as a fresh visitor (a new session and CSRF token each time),
 *                       measured in rounds alternating with the baseline, so that both see the same
 *                       machine (on a shared, noisy machine the difference matters)
 *   dashboard           GET /dashboard signed in, per roster size
 *   registration        GET /register then POST /register, unique usernames, per roster size;
 *                       afterwards every 303 is checked against the roster file
 *   repeat              the same flow at the GET /register roster size, posting usernames that are
 *                       already registered, so nothing is written: the flow's cost without the write
 *
 * GitHub mode, against the project's GitHub simulator on loopback with BENCH_GITHUB_LATENCY ms
 * added to every API answer, the companion pointed at it:
 *
 *   github-registration the registration flow in local mode and in GitHub mode (outbox and sync), at the
 *                       GET /register roster size, in alternating rounds on fresh servers: the ratio of the two;
 *                       the simulator runs in its own process at the lowest CPU priority (GitHub's work is not
 *                       the companion's: see bench/lib/github-process.ts)
 *   github-burst        (simulator in this process) BENCH_BURST registrations paced at BENCH_BURST_RATE a second, each a GET and a POST;
 *                       the time from each 303 to the first commit that carries it (the roster of record is
 *                       watched every 20 ms), the commits made, and afterwards every handle exactly once there
 *   github-idle         no registrations, COMPANION_SYNC_INTERVAL=1 for BENCH_IDLE_SECONDS: the companion's
 *                       requests to GitHub, and how many counted against the rate limit
 *
 * Derived progress (GitHub mode), against a cohort in progress made from the demo cohort's learners
 * (bench/lib/progress-cohort.ts):
 *
 *   dashboard-progress  GET /dashboard signed in, with a progress snapshot, per BENCH_PROGRESS_SIZES roster size
 *                       (BENCH_PROGRESS_WITH_DATA of them with Learning Rooms and enrollment issues, the rest in the
 *                       roster of record only); the first page, a status filter sorted by username descending, and
 *                       the roster sorted by last activity; the first page after the snapshot arrives (every learner's
 *                       progress is derived then); and, in this process, where a page's model build goes
 *   progress-refresh    BENCH_PROGRESS_LEARNERS learners, GitHub BENCH_GITHUB_LATENCY ms away: the first refresh,
 *                       one with nothing changed and one after BENCH_PROGRESS_ACTIVE % of the learners did one thing
 *                       on GitHub; each one's requests, how many counted against the rate limit, and its wall time;
 *                       the steady state extrapolated to an hour at the companion's default progress interval
 *
 * Prints a table and writes bench/results/bench-<time>.json (and latest.json).
 * Every figure is also given as a ratio to the baseline's requests per second
 * measured in the same run.
 *
 * Settings (environment):
 *   BENCH_DURATION=8               seconds per measured scenario
 *   BENCH_ROUNDS=3                 alternating baseline / GET /register rounds, each BENCH_DURATION/2 s per side
 *   BENCH_WARMUP=2                 seconds of unmeasured load before each read scenario (0: none)
 *   BENCH_CONNECTIONS=50           connections for baseline, register-get and registration
 *   BENCH_DASHBOARD_CONNECTIONS=10 connections for the dashboard
 *   BENCH_SIZES=100,1000,10000     roster sizes (learners)
 *   BENCH_REGISTER_GET_SIZE=1000   roster size at which GET /register is measured
 *   BENCH_ONLY=                    comma list of scenarios to run (default: all ten)
 *   BENCH_CPU_PROF=0               1: run the companion under --cpu-prof and summarise the profiles
 *   BENCH_NODE_ARGS=               more Node.js flags for the companion, space-separated (e.g. --trace-gc)
 *   BENCH_DIR=<os tmpdir>          where the temporary roster files are made (use a real disk)
 *   BENCH_SERVER_JS=dist/server.js another build of the server to measure instead
 *   BENCH_GITHUB_LATENCY=150       ms the simulator adds to every GitHub answer
 *   BENCH_GITHUB_LEARNERS=<GET /register size> learners in the roster of record for the burst and the idle run
 *   BENCH_BURST=500                registrations in the burst
 *   BENCH_BURST_RATE=50            registrations started per second in the burst
 *   BENCH_SYNC_INTERVAL=60         COMPANION_SYNC_INTERVAL (s) for the burst and GitHub-mode registration runs
 *   BENCH_IDLE_SECONDS=10          how long the idle companion is watched
 *   BENCH_GITHUB_ROSTER=registering  the github-registration roster: `registering` (nobody provisioned yet) or
 *                                  `mixed` (a cohort under way: the progress reader's first full read of it
 *                                  runs during the measured seconds)
 *   BENCH_REGISTRATION_CONTROL=0   1: github-registration also measures a second local-mode companion in each
 *                                  round, against the first: what the comparison reads with no difference at all
 *   BENCH_PROGRESS_SIZES=1000,10000,50000 roster sizes for the dashboard with progress
 *   BENCH_PROGRESS_WITH_DATA=1000  learners with a GitHub side (Learning Room, enrollment issue) in those rosters
 *   BENCH_PROGRESS_LEARNERS=200    learners in the refresh run, every one with a GitHub side
 *   BENCH_PROGRESS_ACTIVE=25       percent of them who do one thing on GitHub before the third refresh
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { LoggedRequest } from '../dev/github-simulator/index.js';
import { HttpClient, readCsrf } from '../test/helpers/http.js';
import { Latencies, loadGet, loadRegistrationFlow, mergeResults, processCpuMs, type Accepted, type FlowResult, type LoadResult, type Percentiles } from './lib/load.js';
import { ADMIN_REPO, ROSTER_FILE, handleCounts, registrationBurst, requestSummary, startGitHub, githubEnv, watchRecord } from './lib/github.js';
import { startGitHubProcess } from './lib/github-process.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './lib/profile.js';
import { byKindAndStatus, githubDefaults, learnersAct, pageBreakdown, progressEnv, progressLine, requestKind, spanMs, startProgressGitHub, type PageBreakdown, type ProgressLine } from './lib/progress.js';
import { COHORTS, learnerKey, readRoster, rosterText, writeRoster, writeRosterText, type RosterStage } from './lib/roster.js';
import { DEFAULT_QUERY, type TableQuery } from '../src/routes/learner-table.js';
import { FACILITATOR_TOKEN, RATE_LIMIT_MAX, startBaseline, startCompanion, type RunningServer } from './lib/servers.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** The session cookie's name when COMPANION_SECURE_COOKIES=0 (no __Host- prefix). */
const COOKIE_NAME = 'glow_session';
const SCENARIOS = ['baseline', 'register-get', 'dashboard', 'registration', 'repeat', 'github-registration', 'github-burst', 'github-idle', 'dashboard-progress', 'progress-refresh'] as const;
type ScenarioKind = (typeof SCENARIOS)[number];

// ---------------------------------------------------------------- settings

function stageSetting(): RosterStage {
  const value = process.env.BENCH_GITHUB_ROSTER ?? 'registering';
  if (value !== 'registering' && value !== 'mixed') throw new Error(`BENCH_GITHUB_ROSTER must be registering or mixed, not ${JSON.stringify(value)}`);
  return value;
}

function intSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

function readSettings() {
  const sizesRaw = process.env.BENCH_SIZES?.trim() || '100,1000,10000';
  const sizes = sizesRaw.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 0 || n > 200_000)) {
    throw new Error(`BENCH_SIZES must be a comma list of whole numbers from 0 to 200000 (got ${JSON.stringify(sizesRaw)})`);
  }
  const onlyRaw = process.env.BENCH_ONLY?.trim() ?? '';
  const only = onlyRaw === '' ? [...SCENARIOS] : onlyRaw.split(',').map((s) => s.trim());
  for (const s of only) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown scenario ${JSON.stringify(s)} (known: ${SCENARIOS.join(', ')})`);
  }
  const registerGetSize = intSetting('BENCH_REGISTER_GET_SIZE', sizes.includes(1000) ? 1000 : sizes[0] ?? 0, 0, 200_000);
  if (!sizes.includes(registerGetSize)) sizes.push(registerGetSize);
  const github = {
    latencyMs: intSetting('BENCH_GITHUB_LATENCY', 150, 0, 10_000),
    learners: intSetting('BENCH_GITHUB_LEARNERS', registerGetSize, 0, 200_000),
    burst: intSetting('BENCH_BURST', 500, 1, 100_000),
    burstRate: intSetting('BENCH_BURST_RATE', 50, 1, 10_000),
    syncIntervalS: intSetting('BENCH_SYNC_INTERVAL', 60, 1, 86_400),
    idleS: intSetting('BENCH_IDLE_SECONDS', 10, 1, 600),
    registrationStage: stageSetting(),
    control: intSetting('BENCH_REGISTRATION_CONTROL', 0, 0, 1) === 1,
  };
  const progressSizesRaw = process.env.BENCH_PROGRESS_SIZES?.trim() || '1000,10000,50000';
  const progressSizes = progressSizesRaw.split(',').map((s) => Number(s.trim()));
  if (progressSizes.some((n) => !Number.isInteger(n) || n < 1 || n > 200_000)) {
    throw new Error(`BENCH_PROGRESS_SIZES must be a comma list of whole numbers from 1 to 200000 (got ${JSON.stringify(progressSizesRaw)})`);
  }
  const progress = {
    sizes: [...new Set(progressSizes)].sort((a, b) => a - b),
    withData: intSetting('BENCH_PROGRESS_WITH_DATA', 1000, 1, 200_000),
    learners: intSetting('BENCH_PROGRESS_LEARNERS', 200, 1, 10_000),
    activePercent: intSetting('BENCH_PROGRESS_ACTIVE', 25, 0, 100),
  };
  return {
    durationS: intSetting('BENCH_DURATION', 8, 1, 600),
    rounds: intSetting('BENCH_ROUNDS', 3, 1, 20),
    warmupS: intSetting('BENCH_WARMUP', 2, 0, 60),
    connections: intSetting('BENCH_CONNECTIONS', 50, 1, 1000),
    dashboardConnections: intSetting('BENCH_DASHBOARD_CONNECTIONS', 10, 1, 1000),
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    registerGetSize,
    only: new Set(only as ScenarioKind[]),
    cpuProfile: intSetting('BENCH_CPU_PROF', 0, 0, 1) === 1,
    dir: process.env.BENCH_DIR?.trim() || os.tmpdir(),
    github,
    progress,
  };
}
type Settings = ReturnType<typeof readSettings>;

// ---------------------------------------------------------------- results

interface Row {
  scenario: string;
  kind: ScenarioKind;
  learners: number | null;
  connections: number;
  /** Requests per second; for the registration flow, completed registrations per second; for the idle run, requests to GitHub per second. */
  perSecond: number;
  unit: 'req/s' | 'reg/s' | 'GitHub req/s';
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Responses with an unexpected status: non-2xx for pages, for the registration flow non-200 GETs and non-303 POSTs. */
  unexpected: number;
  ratioToBaseline: number | null;
  serverCpuMsPerUnit: number | null;
  /** For GET /register: each round's figures beside the baseline's in the same round. */
  rounds?: Array<{ baselineRps: number; rps: number; ratio: number }>;
  detail: LoadResult | FlowResult | null;
  /** GitHub-mode registration: which mode the row measured, and each round of the modes side by side. */
  mode?: Mode;
  modeRounds?: ModeRound[];
  burst?: BurstFigures;
  idle?: IdleFigures;
  progressPage?: ProgressPageFigures;
  refresh?: RefreshFigures;
  registration?: {
    learnersBefore: number;
    learnersAfter: number;
    attemptsAcknowledged: number;
    lost: number;
    lostExamples: string[];
    /** Acknowledged registrations missing after the server's graceful shutdown (null: not checked). */
    lostAfterShutdown: number | null;
    httpRequestsPerSecond: number;
    postLatencyMs: Percentiles;
    flowLatencyMs: Percentiles;
    rosterValidAfterShutdown: boolean;
    rosterBytesBefore: number;
    /** POST latency as the roster grew during the run, in slices of acknowledgement order. */
    bySize: SizeSlice[];
  };
}

/**
 * How the registration flow is measured for GitHub mode: local mode; GitHub
 * mode as it runs (the outbox, and the sync committing in the background);
 * and, as a diagnostic, GitHub mode with the sync held off for the round (its
 * first read of the roster of record is made to wait until the round is over),
 * which leaves the outbox's own cost.
 */
type Mode = 'local' | 'github' | 'github-held' | 'local-control';

interface ModeRound {
  order: Mode[];
  localRegPerS: number;
  githubRegPerS: number;
  /** GitHub mode against local mode in this round. */
  ratio: number;
  heldRegPerS: number;
  heldRatio: number;
  localLearnersAfter: number;
  githubLearnersAfter: number;
  /** Commits the GitHub-mode companion made during its round (the sync carries on while the flow runs). */
  githubCommits: number;
  /** With BENCH_REGISTRATION_CONTROL: a second local-mode companion against the first, in this round. */
  controlRatio: number | null;
}

interface BurstFigures {
  planned: number;
  perSecond: number;
  latencyMs: number;
  learnersBefore: number;
  acknowledged: number;
  failures: number;
  failureExamples: string[];
  /** From the first registration started to the last answered (s). */
  elapsedS: number;
  maxStartLagMs: number;
  flowLatencyMs: Percentiles;
  /** From each 303 to the first commit whose roster of record holds it (ms); registrations never seen committed are left out and counted below. */
  commitLatencyMs: Percentiles;
  neverCommitted: number;
  /** Commits on the admin repository from the start of the burst until the last registration was seen committed. */
  commits: number;
  commitsPerRegistration: number;
  /** The burst's handles in the final roster of record: exactly once, more than once, not at all. */
  exactlyOnce: number;
  duplicated: number;
  missing: number;
  /** Each commit as the watcher saw it: ms after the burst started, and how many of the burst's learners it added. */
  commitTimeline: Array<{ atMs: number; newLearners: number }>;
  serverCpuMs: number | null;
}

interface IdleFigures {
  intervalS: number;
  watchedS: number;
  /** Every request from the companion's token since it started, by method, path and status. */
  byRequest: Record<string, number>;
  total: number;
  counted: number;
  firstRead: { status: number; counted: boolean } | null;
  /** Requests after the first read of the roster, and of those, reads of the roster, reads answered 304, and requests counted against the rate limit. */
  afterFirstRead: number;
  readsAfterFirst: number;
  answered304: number;
  countedAfterFirstRead: number;
  /** The progress reader's requests meanwhile (its first full read), apart from the sync's above, and how many counted. */
  progressRequests: number;
  progressCounted: number;
  rateLimitRemaining: string | null;
}

interface ProgressPageFigures {
  path: string;
  /** Learners with a GitHub side (the rest are in the roster of record only). */
  withProgress: number;
  pageKiB: number;
}

interface RefreshFigures {
  round: number;
  what: string;
  latencyMs: number;
  /** The time the round took (ms): from the facilitator's refresh request to the new snapshot on the dashboard, or (the first round) from its first request to its last answer. */
  wallMs: number;
  /** From the round's first request to its last answer, from the simulator's log (ms). */
  spanMs: number;
  requests: number;
  counted: number;
  notModified: number;
  byKind: Record<string, number>;
  /** The roster sync's own requests in the same time, and how many of those counted. */
  syncRequests: number;
  syncCounted: number;
  /** What the learners did on GitHub before the round. */
  activity: Record<string, number> | null;
  problem: string | null;
}

interface SizeSlice {
  learnersFrom: number;
  learnersTo: number;
  registrations: number;
  registrationsPerSecond: number;
  postP50Ms: number;
  postP99Ms: number;
}

/** Each registration lands on a roster as large as the ones acknowledged before it: latency by roster size. */
function sizeSlices(accepted: Accepted[], learnersBefore: number, slices: number): SizeSlice[] {
  const out: SizeSlice[] = [];
  const per = Math.ceil(accepted.length / slices);
  let sliceStart = 0;
  for (let start = 0; per > 0 && start < accepted.length; start += per) {
    const part = accepted.slice(start, start + per);
    const sliceEnd = part[part.length - 1]!.atMs;
    const seconds = Math.max(0.001, (sliceEnd - sliceStart) / 1000);
    sliceStart = sliceEnd;
    const latencies = new Latencies();
    for (const a of part) latencies.add(a.postMs);
    const summary = latencies.summary();
    out.push({ learnersFrom: learnersBefore + start, learnersTo: learnersBefore + start + part.length, registrations: part.length, registrationsPerSecond: part.length / seconds, postP50Ms: summary.p50, postP99Ms: summary.p99 });
  }
  return out;
}

const rows: Row[] = [];
const baselines: LoadResult[] = [];

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function addRow(partial: Omit<Row, 'ratioToBaseline'>): Row {
  const row: Row = { ...partial, ratioToBaseline: null };
  rows.push(row);
  log(
    `  ${row.scenario}: ${fmt(row.perSecond)} ${row.unit}, p50 ${fmt(row.p50Ms, 2)} ms, p99 ${fmt(row.p99Ms, 2)} ms, ` +
      `errors ${row.errors}, unexpected statuses ${row.unexpected}`,
  );
  return row;
}

function pageRow(scenario: string, kind: ScenarioKind, learners: number | null, result: LoadResult): Row {
  return addRow({
    scenario,
    kind,
    learners,
    connections: result.connections,
    perSecond: result.requestsPerSecond,
    unit: 'req/s',
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    errors: result.errors,
    unexpected: result.unexpected,
    serverCpuMsPerUnit: result.serverCpuMsPerResponse,
    detail: result,
  });
}

// ---------------------------------------------------------------- scenarios

async function warmup(settings: Settings, port: number, pathName: string, connections: number, headers?: Record<string, string>): Promise<void> {
  if (settings.warmupS === 0) return;
  await loadGet({ port, path: pathName, connections, durationS: settings.warmupS, ...(headers ? { headers } : {}) });
}

async function measureBaselineAlone(settings: Settings, server: RunningServer): Promise<void> {
  log(`baseline: ${settings.connections} connections, ${settings.durationS} s`);
  await warmup(settings, server.port, '/', settings.connections);
  const result = await loadGet({ port: server.port, path: '/', connections: settings.connections, durationS: settings.durationS, serverPid: server.pid });
  baselines.push(result);
  pageRow('baseline node:http', 'baseline', null, result);
}

/**
 * The baseline and GET /register, measured in alternating rounds (baseline, then the companion, and again),
 * so that a busy spell on a shared machine falls on both rather than on one.
 */
async function measureBaselineAndRegisterGet(settings: Settings, baseline: RunningServer | null, server: RunningServer, learners: number): Promise<void> {
  const visitor = new HttpClient(server.base);
  const check = await visitor.get('/register');
  if (check.status !== 200 || !visitor.cookie(COOKIE_NAME) || !readCsrf(await check.text())) {
    throw new Error(`GET /register gave status ${check.status} without a new session cookie and CSRF token`);
  }
  const sliceS = baseline ? Math.max(1, Math.ceil(settings.durationS / 2)) : settings.durationS;
  const rounds = baseline ? settings.rounds : 1;
  log(
    `GET /register (fresh visitor), ${learners} learners${baseline ? `, alternating with the baseline: ${rounds} rounds of ${sliceS} s each` : `: ${sliceS} s`}, ` +
      `${settings.connections} connections`,
  );
  if (baseline) await warmup(settings, baseline.port, '/', settings.connections);
  await warmup(settings, server.port, '/register', settings.connections);
  const baseParts: LoadResult[] = [];
  const getParts: LoadResult[] = [];
  const basePooled = new Latencies();
  const getPooled = new Latencies();
  for (let round = 0; round < rounds; round++) {
    if (baseline) {
      baseParts.push(await loadGet({ port: baseline.port, path: '/', connections: settings.connections, durationS: sliceS, serverPid: baseline.pid }, 200, basePooled));
    }
    getParts.push(await loadGet({ port: server.port, path: '/register', connections: settings.connections, durationS: sliceS, serverPid: server.pid }, 200, getPooled));
    if (baseline) {
      const b = baseParts[round]!.requestsPerSecond;
      const g = getParts[round]!.requestsPerSecond;
      log(`    round ${round + 1}: baseline ${fmt(b)} req/s, GET /register ${fmt(g)} req/s (${fmt((100 * g) / b)}%)`);
    }
  }
  if (baseline) {
    const result = mergeResults(baseParts, basePooled);
    baselines.push(result);
    pageRow('baseline node:http', 'baseline', null, result);
  }
  const row = pageRow('GET /register (fresh visitor)', 'register-get', learners, mergeResults(getParts, getPooled));
  if (baseline) {
    row.rounds = baseParts.map((b, i) => ({ baselineRps: b.requestsPerSecond, rps: getParts[i]!.requestsPerSecond, ratio: getParts[i]!.requestsPerSecond / b.requestsPerSecond }));
  }
}

/** Signs in once as the facilitator; returns the session cookie (`name=value`, value as the server encoded it). */
async function signIn(server: RunningServer): Promise<string> {
  const facilitator = new HttpClient(server.base);
  const form = await facilitator.get('/login');
  const csrf = readCsrf(await form.text());
  const first = facilitator.cookie(COOKIE_NAME);
  if (form.status !== 200 || !first || !csrf) throw new Error(`GET /login gave status ${form.status} without a usable cookie and token`);
  const answer = await facilitator.post('/login', { csrf_token: csrf, token: FACILITATOR_TOKEN });
  const session = facilitator.cookie(COOKIE_NAME);
  if (answer.status !== 303 || !session || session === first) throw new Error(`POST /login gave status ${answer.status}${session !== first ? '' : ' and no new session cookie'}`);
  return session;
}

async function measureDashboard(settings: Settings, server: RunningServer, learners: number): Promise<void> {
  const cookie = await signIn(server);
  const check = await new HttpClient(server.base).get('/dashboard', { headers: { cookie }, timeoutMs: 30_000 });
  const page = await check.text();
  const listed = learners === 0 ? 'No learners have registered yet.' : `It shows ${learners} ${learners === 1 ? 'learner' : 'learners'}.`;
  if (check.status !== 200 || !page.includes(listed)) {
    throw new Error(`GET /dashboard signed in gave status ${check.status}, not a page listing ${learners} learners`);
  }
  log(`dashboard, ${learners} learners: ${settings.dashboardConnections} connections, ${settings.durationS} s (page ${fmt(page.length / 1024, 0)} KiB)`);
  const headers = { cookie };
  await warmup(settings, server.port, '/dashboard', settings.dashboardConnections, headers);
  const result = await loadGet({
    port: server.port,
    path: '/dashboard',
    headers,
    connections: settings.dashboardConnections,
    durationS: settings.durationS,
    serverPid: server.pid,
  });
  pageRow(`GET /dashboard (signed in)`, 'dashboard', learners, result);
}

/** What every registration flow is driven with: the server, the connections, the roster's cohorts and a username prefix. */
function flowOptions(settings: Settings, server: RunningServer, handlePrefix: string) {
  return { port: server.port, connections: settings.connections, cohorts: COHORTS.map((c) => c.cohort_id), handlePrefix, cookieName: COOKIE_NAME };
}

/** A registration flow's figures for its row: registrations per second, POST latency, server CPU per registration. */
function flowFigures(result: FlowResult) {
  return {
    connections: result.connections,
    perSecond: result.registrationsPerSecond,
    unit: 'reg/s' as const,
    p50Ms: result.postLatencyMs.p50,
    p99Ms: result.postLatencyMs.p99,
    errors: result.errors,
    unexpected: result.unexpected,
    serverCpuMsPerUnit: result.serverCpuMs !== null && result.registrations > 0 ? result.serverCpuMs / result.registrations : null,
    detail: { ...result, accepted: [] },
  };
}

async function measureRegistration(
  settings: Settings,
  server: RunningServer,
  learners: number,
  rosterPath: string,
  rosterBytes: number,
): Promise<{ row: Row; accepted: Accepted[] }> {
  log(`registration flow, ${learners} learners: ${settings.connections} connections, ${settings.durationS} s`);
  const before = await readRoster(rosterPath);
  const result = await loadRegistrationFlow({ ...flowOptions(settings, server, `bench${learners}`), durationS: settings.durationS, serverPid: server.pid });
  // A 303 is sent only once the registration is durably written: check the file now, before shutdown.
  const after = await readRoster(rosterPath);
  const missing = result.accepted.filter((a) => !after.keys.has(learnerKey(a.handle, a.cohort)));
  const duplicates = result.accepted.length - new Set(result.accepted.map((a) => learnerKey(a.handle, a.cohort))).size;
  if (duplicates > 0) throw new Error(`the harness posted ${duplicates} usernames twice: the check would be meaningless`);
  const row = addRow({
    scenario: 'registration flow (GET + POST, 303)',
    kind: 'registration',
    learners,
    ...flowFigures(result),
    registration: {
      learnersBefore: before.roster.learners.length,
      learnersAfter: after.roster.learners.length,
      attemptsAcknowledged: result.registrations,
      lost: missing.length,
      lostExamples: missing.slice(0, 10).map((m) => `${m.handle}@${m.cohort}`),
      httpRequestsPerSecond: result.requestsPerSecond,
      postLatencyMs: result.postLatencyMs,
      flowLatencyMs: result.flowLatencyMs,
      lostAfterShutdown: null,
      rosterValidAfterShutdown: false,
      rosterBytesBefore: rosterBytes,
      bySize: sizeSlices(result.accepted, before.roster.learners.length, 4),
    },
  });
  log(
    `    ${result.registrations} registrations acknowledged, ${missing.length} missing from the file; ` +
      `learners ${before.roster.learners.length} -> ${after.roster.learners.length}; ` +
      `flow p50 ${fmt(result.flowLatencyMs.p50, 2)} ms, p99 ${fmt(result.flowLatencyMs.p99, 2)} ms; unusable forms ${result.unusableForms}`,
  );
  return { row, accepted: result.accepted };
}

/** Usernames the repeat scenario cycles through: each is written once, during its warm-up. */
const REPEAT_HANDLES = 40;

/**
 * The registration flow with nothing to write: every post registers a
 * learner already in the roster, with the same cohort and days. The roster
 * file must be the same before and after the measured run.
 */
async function measureRepeat(settings: Settings, server: RunningServer, learners: number, rosterPath: string): Promise<void> {
  log(`registration flow, already registered (nothing written), ${learners} learners: ${settings.connections} connections, ${settings.durationS} s`);
  const flow = { ...flowOptions(settings, server, 'repeat'), repeatHandles: REPEAT_HANDLES };
  // The warm-up registers the usernames the measured run repeats.
  await loadRegistrationFlow({ ...flow, durationS: Math.max(1, settings.warmupS) });
  const before = await readRoster(rosterPath);
  const result = await loadRegistrationFlow({ ...flow, durationS: settings.durationS, serverPid: server.pid });
  const after = await readRoster(rosterPath);
  if (after.text !== before.text) throw new Error('the roster file changed while every post was a repeat: the scenario measured writes');
  addRow({
    scenario: 'registration flow, already registered (303, nothing written)',
    kind: 'repeat',
    learners: before.roster.learners.length,
    ...flowFigures(result),
  });
}

// ---------------------------------------------------------------- GitHub mode

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where the servers write, and where their profiles go. */
interface RunFiles {
  work: string;
  logFile: string;
  profileDir: string | null;
}

/** A companion in GitHub mode against `github`, ready once its first sync with the roster of record has succeeded (/readyz). */
async function startGitHubCompanion(files: RunFiles, rosterPath: string, github: { url: string; token: string }, syncIntervalS: number, what: string): Promise<RunningServer> {
  const server = await startCompanion({
    rosterPath,
    logFile: files.logFile,
    cpuProfileDir: files.profileDir,
    env: githubEnv(github, syncIntervalS),
    readyPath: '/readyz',
  });
  log(`  companion (GitHub mode, ${what}) pid ${server.pid} on port ${server.port}, simulator ${github.url}`);
  return server;
}

interface ModeRun {
  result: FlowResult;
  learnersBefore: number;
  learnersAfter: number;
  lost: string[];
  lostAfterShutdown: number | null;
  validAfterShutdown: boolean;
  commits: number;
}

/** One round of the registration flow on a fresh companion, in local mode or in GitHub mode, from the same roster. */
async function registrationRound(settings: Settings, files: RunFiles, mode: Mode, round: number, durationS: number): Promise<ModeRun> {
  const learners = settings.registerGetSize;
  const rosterPath = path.join(files.work, `roster-${mode}-${round}.json`);
  // By default a cohort taking registrations: nobody provisioned yet, so the progress reader has no learner to read.
  const text = rosterText(learners, settings.github.registrationStage);
  await writeRosterText(rosterPath, text);
  const local = mode === 'local' || mode === 'local-control';
  const github = local ? null : await startGitHubProcess(text, settings.github.latencyMs);
  let server: RunningServer | null = null;
  try {
    if (github) {
      server = await startGitHubCompanion(files, rosterPath, github, settings.github.syncIntervalS, `${mode === 'github-held' ? 'sync held off, ' : ''}round ${round + 1}`);
    } else {
      server = await startCompanion({ rosterPath, logFile: files.logFile, cpuProfileDir: files.profileDir });
      log(`  companion (local mode${mode === 'local-control' ? ', control' : ''}, round ${round + 1}) pid ${server.pid} on port ${server.port}`);
    }
    const commitsBefore = (await github?.commits()) ?? 0;
    const before = await readRoster(rosterPath);
    // Held off: the sync's first read, due about a second in, is answered only after the round.
    if (mode === 'github-held') await github!.setLatency(durationS * 1000 + 500);
    const result = await loadRegistrationFlow({ ...flowOptions(settings, server, `${mode === 'github-held' ? 'held' : mode}${round}`), durationS, serverPid: server.pid });
    await github?.setLatency(settings.github.latencyMs);
    // A 303 is sent only once the registration is durably written (to the working copy, and in GitHub mode to the outbox).
    const after = await readRoster(rosterPath);
    const lost = result.accepted.filter((a) => !after.keys.has(learnerKey(a.handle, a.cohort))).map((a) => `${a.handle}@${a.cohort}`);
    const commits = ((await github?.commits()) ?? 0) - commitsBefore;
    const { code } = await server.stop();
    server = null;
    if (code !== 0) log(`  companion exited with code ${code}`);
    const final = await readRoster(rosterPath).catch(() => null);
    return {
      result,
      learnersBefore: before.roster.learners.length,
      learnersAfter: after.roster.learners.length,
      lost,
      lostAfterShutdown: final ? result.accepted.filter((a) => !final.keys.has(learnerKey(a.handle, a.cohort))).length : null,
      validAfterShutdown: final !== null,
      commits,
    };
  } finally {
    await server?.stop();
    await github?.stop();
  }
}

/** Several rounds of one mode's registration flow as one row: totals summed, POST latencies pooled. */
function modeRow(settings: Settings, mode: Mode, runs: ModeRun[]): Row {
  const registrations = runs.reduce((n, r) => n + r.result.registrations, 0);
  const seconds = runs.reduce((n, r) => n + r.result.durationS, 0);
  const cpuKnown = runs.every((r) => r.result.serverCpuMs !== null);
  const cpu = runs.reduce((n, r) => n + (r.result.serverCpuMs ?? 0), 0);
  const posts = new Latencies();
  const flows = new Latencies();
  for (const r of runs) {
    for (const a of r.result.accepted) {
      posts.add(a.postMs);
      flows.add(a.flowMs);
    }
  }
  const post = posts.summary();
  const lost = runs.flatMap((r) => r.lost);
  return addRow({
    scenario:
      mode === 'local'
        ? 'registration flow, local mode (rounds alternating with GitHub mode)'
        : mode === 'github'
          ? `registration flow, GitHub mode (outbox + sync, GitHub ${settings.github.latencyMs} ms away)`
          : mode === 'github-held'
            ? 'registration flow, GitHub mode, sync held off (outbox only; diagnostic)'
            : 'registration flow, local mode again (control: local mode against itself)',
    kind: 'github-registration',
    mode,
    learners: settings.registerGetSize,
    connections: settings.connections,
    perSecond: seconds > 0 ? registrations / seconds : 0,
    unit: 'reg/s',
    p50Ms: post.p50,
    p99Ms: post.p99,
    errors: runs.reduce((n, r) => n + r.result.errors, 0),
    unexpected: runs.reduce((n, r) => n + r.result.unexpected, 0),
    serverCpuMsPerUnit: cpuKnown && registrations > 0 ? cpu / registrations : null,
    detail: null,
    registration: {
      learnersBefore: runs[0]?.learnersBefore ?? 0,
      learnersAfter: Math.max(0, ...runs.map((r) => r.learnersAfter)),
      attemptsAcknowledged: registrations,
      lost: lost.length,
      lostExamples: lost.slice(0, 10),
      lostAfterShutdown: runs.every((r) => r.lostAfterShutdown !== null) ? runs.reduce((n, r) => n + r.lostAfterShutdown!, 0) : null,
      httpRequestsPerSecond: seconds > 0 ? runs.reduce((n, r) => n + r.result.responses, 0) / seconds : 0,
      postLatencyMs: post,
      flowLatencyMs: flows.summary(),
      rosterValidAfterShutdown: runs.every((r) => r.validAfterShutdown),
      rosterBytesBefore: 0,
      bySize: [],
    },
  });
}

/**
 * Registration throughput in GitHub mode beside local mode, in alternating
 * rounds (each on a fresh companion and roster of the same size, the order
 * swapped every round), so that a busy spell on a shared machine falls on both.
 */
async function measureGitHubRegistration(settings: Settings, files: RunFiles): Promise<void> {
  const sliceS = Math.max(1, Math.ceil(settings.durationS / 2));
  log(
    `registration flow, local mode vs GitHub mode (GitHub ${settings.github.latencyMs} ms away, sync interval ${settings.github.syncIntervalS} s), ` +
      `${settings.registerGetSize} learners: ${settings.rounds} rounds of ${sliceS} s per mode, ${settings.connections} connections`,
  );
  const runs: Record<Mode, ModeRun[]> = { local: [], github: [], 'github-held': [], 'local-control': [] };
  const rounds: ModeRound[] = [];
  const modes: Mode[] = ['local', 'github', 'github-held', ...(settings.github.control ? (['local-control'] as const) : [])];
  for (let round = 0; round < settings.rounds; round++) {
    // The order turns every round, so that no mode always follows the same one.
    const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
    for (const mode of order) runs[mode].push(await registrationRound(settings, files, mode, round, sliceS));
    const l = runs.local[round]!;
    const g = runs.github[round]!;
    const h = runs['github-held'][round]!;
    const c = runs['local-control'][round];
    const r: ModeRound = {
      order,
      localRegPerS: l.result.registrationsPerSecond,
      githubRegPerS: g.result.registrationsPerSecond,
      ratio: g.result.registrationsPerSecond / l.result.registrationsPerSecond,
      heldRegPerS: h.result.registrationsPerSecond,
      heldRatio: h.result.registrationsPerSecond / l.result.registrationsPerSecond,
      localLearnersAfter: l.learnersAfter,
      githubLearnersAfter: g.learnersAfter,
      githubCommits: g.commits,
      controlRatio: c ? c.result.registrationsPerSecond / l.result.registrationsPerSecond : null,
    };
    rounds.push(r);
    log(
      `    round ${round + 1} (${order.join(', ')}): local ${fmt(r.localRegPerS)} reg/s, GitHub mode ${fmt(r.githubRegPerS)} reg/s (${fmt(100 * r.ratio)}%), ` +
        `sync held off ${fmt(r.heldRegPerS)} reg/s (${fmt(100 * r.heldRatio)}%); learners ${l.learnersBefore} -> ${l.learnersAfter} / ${g.learnersAfter} / ${h.learnersAfter}; ` +
        `${g.commits} commits during the GitHub round, ${h.commits} while held off; lost ${l.lost.length} / ${g.lost.length} / ${h.lost.length}` +
        (c ? `; control (local mode again) ${fmt(c.result.registrationsPerSecond)} reg/s (${fmt(100 * r.controlRatio!)}%), lost ${c.lost.length}` : ''),
    );
  }
  modeRow(settings, 'local', runs.local);
  const githubRow = modeRow(settings, 'github', runs.github);
  githubRow.modeRounds = rounds;
  modeRow(settings, 'github-held', runs['github-held']);
  if (settings.github.control) modeRow(settings, 'local-control', runs['local-control']);
}

/**
 * A burst of registrations, paced, against a companion in GitHub mode: the
 * time from each success page (the 303) to the first commit whose roster of
 * record holds the learner, and the commits the burst took.
 */
async function measureGitHubBurst(settings: Settings, files: RunFiles): Promise<void> {
  const g = settings.github;
  const learners = g.learners;
  log(`burst: ${g.burst} registrations at ${g.burstRate}/s against GitHub mode (GitHub ${g.latencyMs} ms away), ${learners} learners in the roster of record`);
  const rosterPath = path.join(files.work, 'roster-burst.json');
  const text = rosterText(learners);
  await writeRosterText(rosterPath, text);
  const github = await startGitHub(text, g.latencyMs);
  let server: RunningServer | null = null;
  try {
    server = await startGitHubCompanion(files, rosterPath, github, g.syncIntervalS, 'burst');
    const prefix = 'burst';
    const watcher = watchRecord(github, `${prefix}-`);
    const commitsBefore = github.commits();
    const cpuBefore = processCpuMs(server.pid);
    const started = performance.now();
    const burst = await registrationBurst({ base: server.base, count: g.burst, perSecond: g.burstRate, cohorts: COHORTS.map((c) => c.cohort_id), prefix, cookieName: COOKIE_NAME });
    log(`    ${burst.acknowledged.length} acknowledged in ${fmt(burst.elapsedS, 2)} s, ${burst.failures.length} failed; waiting for the commits`);
    // Every acknowledged registration should reach the roster of record within a few rounds; wait up to a minute.
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline && burst.acknowledged.some((a) => !watcher.firstSeen.has(a.handle))) await sleep(50);
    watcher.stop();
    const commits = github.commits() - commitsBefore;
    const cpuAfter = processCpuMs(server.pid);
    const latencies = new Latencies();
    let neverCommitted = 0;
    for (const a of burst.acknowledged) {
      const seen = watcher.firstSeen.get(a.handle);
      if (seen === undefined) neverCommitted++;
      else latencies.add(seen - a.acknowledgedMs);
    }
    const counts = handleCounts(github.recordText());
    const handles = Array.from({ length: g.burst }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
    const commitLatency = latencies.summary();
    const figures: BurstFigures = {
      planned: g.burst,
      perSecond: g.burstRate,
      latencyMs: g.latencyMs,
      learnersBefore: learners,
      acknowledged: burst.acknowledged.length,
      failures: burst.failures.length,
      failureExamples: burst.failures.slice(0, 10),
      elapsedS: burst.elapsedS,
      maxStartLagMs: burst.maxStartLagMs,
      flowLatencyMs: burst.flowLatencyMs,
      commitLatencyMs: commitLatency,
      neverCommitted,
      commits,
      commitsPerRegistration: burst.acknowledged.length > 0 ? commits / burst.acknowledged.length : 0,
      exactlyOnce: handles.filter((h) => counts.get(h) === 1).length,
      duplicated: handles.filter((h) => (counts.get(h) ?? 0) > 1).length,
      missing: handles.filter((h) => !counts.has(h)).length,
      commitTimeline: watcher.heads.map((h) => ({ atMs: h.atMs - started, newLearners: h.newHandles })),
      serverCpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    };
    addRow({
      scenario: `GitHub mode: burst of ${g.burst} at ${g.burstRate}/s, 303 -> commit`,
      kind: 'github-burst',
      learners,
      connections: 0,
      perSecond: burst.elapsedS > 0 ? burst.acknowledged.length / burst.elapsedS : 0,
      unit: 'reg/s',
      p50Ms: commitLatency.p50,
      p99Ms: commitLatency.p99,
      errors: burst.failures.length,
      unexpected: neverCommitted,
      serverCpuMsPerUnit: figures.serverCpuMs !== null && burst.acknowledged.length > 0 ? figures.serverCpuMs / burst.acknowledged.length : null,
      detail: null,
      burst: figures,
    });
    log(
      `    303 -> commit p50 ${fmt(commitLatency.p50 / 1000, 2)} s, p95 ${fmt(commitLatency.p95 / 1000, 2)} s, p99 ${fmt(commitLatency.p99 / 1000, 2)} s, max ${fmt(commitLatency.max / 1000, 2)} s; ` +
        `${commits} commits (${fmt(figures.commitsPerRegistration, 4)} per registration); in the roster of record: ${figures.exactlyOnce} exactly once, ` +
        `${figures.duplicated} more than once, ${figures.missing} missing; never seen committed ${neverCommitted}`,
    );
  } finally {
    await server?.stop();
    await github.stop();
  }
}

/** An idle companion in GitHub mode with a short interval: its reads of the roster of record, and what they cost in rate limit. */
async function measureGitHubIdle(settings: Settings, files: RunFiles): Promise<void> {
  const g = settings.github;
  const intervalS = 1;
  log(`idle: GitHub mode, sync interval ${intervalS} s, no registrations, watched for ${g.idleS} s after the first sync (GitHub ${g.latencyMs} ms away, ${g.learners} learners)`);
  const rosterPath = path.join(files.work, 'roster-idle.json');
  const text = rosterText(g.learners);
  await writeRosterText(rosterPath, text);
  const github = await startGitHub(text, g.latencyMs);
  let server: RunningServer | null = null;
  try {
    server = await startGitHubCompanion(files, rosterPath, github, intervalS, 'idle');
    const mark = github.sim.requests.mark();
    const cpuBefore = processCpuMs(server.pid);
    await sleep(g.idleS * 1000);
    const cpuAfter = processCpuMs(server.pid);
    // The roster sync's requests; the progress reader's first full read of the roster's learners (their Learning Rooms and
    // enrollment issues, none of which this simulator holds) happens meanwhile, and is counted apart.
    const everything = github.sim.requests.list({ identity: github.identity });
    const all = everything.filter((r) => requestKind(r) === 'sync');
    const progress = everything.filter((r) => requestKind(r) !== 'sync');
    const reads = all.filter((r) => r.method === 'GET' && r.path === `/repos/${ADMIN_REPO}/contents/${ROSTER_FILE}`);
    const first = reads[0] ?? null;
    const after = first ? all.filter((r) => r.seq > first.seq) : [];
    const readsAfter = after.filter((r) => reads.includes(r));
    const watched = all.filter((r) => r.seq > mark);
    const durations = new Latencies();
    for (const r of watched) durations.add(r.durationMs);
    const d = durations.summary();
    const remaining = await fetch(`${github.url}/repos/${ADMIN_REPO}`, { headers: { authorization: `token ${github.token}` } })
      .then(async (response) => {
        await response.arrayBuffer();
        return response.headers.get('x-ratelimit-remaining');
      })
      .catch(() => null);
    const figures: IdleFigures = {
      intervalS,
      watchedS: g.idleS,
      byRequest: requestSummary(all),
      total: all.length,
      counted: all.filter((r) => r.counted).length,
      firstRead: first ? { status: first.status, counted: first.counted } : null,
      afterFirstRead: after.length,
      readsAfterFirst: readsAfter.length,
      answered304: readsAfter.filter((r) => r.status === 304).length,
      countedAfterFirstRead: after.filter((r) => r.counted).length,
      progressRequests: progress.length,
      progressCounted: progress.filter((r) => r.counted).length,
      // Read by one more (counted) request of the harness's own, after the watch.
      rateLimitRemaining: remaining,
    };
    addRow({
      scenario: `GitHub mode: idle, interval ${intervalS} s, requests to GitHub`,
      kind: 'github-idle',
      learners: g.learners,
      connections: 0,
      perSecond: watched.length / g.idleS,
      unit: 'GitHub req/s',
      p50Ms: d.p50,
      p99Ms: d.p99,
      errors: watched.filter((r) => r.status >= 400 || r.status === 0).length,
      unexpected: figures.countedAfterFirstRead,
      serverCpuMsPerUnit: cpuBefore !== null && cpuAfter !== null && watched.length > 0 ? (cpuAfter - cpuBefore) / watched.length : null,
      detail: null,
      idle: figures,
    });
    log(
      `    ${figures.total} requests since start (${figures.counted} counted); after the first read (${first ? `${first.status}, ${first.counted ? 'counted' : 'not counted'}` : 'none'}): ` +
        `${figures.afterFirstRead} requests, ${figures.readsAfterFirst} reads of the roster, ${figures.answered304} answered 304, ${figures.countedAfterFirstRead} counted; ` +
        `the progress reader meanwhile: ${figures.progressRequests} requests, ${figures.progressCounted} counted`,
    );
  } finally {
    await server?.stop();
    await github.stop();
  }
}

// ---------------------------------------------------------------- derived progress

/** Signs in as the facilitator and keeps the client (its cookies, for the pages' forms). */
async function signInClient(server: RunningServer): Promise<HttpClient> {
  const facilitator = new HttpClient(server.base, 120_000);
  const form = await facilitator.get('/login');
  const csrf = readCsrf(await form.text());
  if (form.status !== 200 || !csrf) throw new Error(`GET /login gave status ${form.status} without a usable token`);
  const answer = await facilitator.post('/login', { csrf_token: csrf, token: FACILITATOR_TOKEN });
  await answer.arrayBuffer();
  if (answer.status !== 303 || !facilitator.cookie(COOKIE_NAME)) throw new Error(`POST /login gave status ${answer.status}`);
  return facilitator;
}

/**
 * Waits until `pathName` answers 200 (GitHub mode's /readyz: the first sync
 * with the roster of record has succeeded). A problem the companion reports
 * for 20 s on end (it retries meanwhile) ends the wait early.
 */
async function waitUntilReady(server: RunningServer, pathName: string, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  let last = 'no answer';
  let problemSince: number | null = null;
  while (performance.now() < deadline) {
    const response = await fetch(`${server.base}${pathName}`, { signal: AbortSignal.timeout(5_000) }).catch((error: Error) => error);
    if (!(response instanceof Error)) {
      const text = await response.text();
      if (response.status === 200) return;
      const reason = /"reason":"((?:[^"\\]|\\.)*)"/.exec(text)?.[1] ?? text;
      if (reason !== last) problemSince = /not been synced with GitHub yet/.test(reason) ? null : performance.now();
      last = reason;
      if (problemSince !== null && performance.now() - problemSince > 20_000) break;
    } else {
      last = response.message;
    }
    await sleep(100);
  }
  throw new Error(`${pathName} did not answer 200: ${last}`);
}

interface SnapshotSeen {
  page: string;
  line: ProgressLine;
  /** How long the page that first showed it took (ms). */
  pageMs: number;
  /** When it was seen (performance.now()). */
  seenAt: number;
}

/** Reads the dashboard until it shows a snapshot other than `previous` with no refresh running. */
async function waitForSnapshot(client: HttpClient, previous: string | null, withinMs: number, everyMs: number): Promise<SnapshotSeen> {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    const started = performance.now();
    const response = await client.get('/dashboard');
    const page = await response.text();
    const pageMs = performance.now() - started;
    if (response.status !== 200) throw new Error(`GET /dashboard gave status ${response.status} while waiting for progress`);
    const line = progressLine(page);
    if (line.takenAt !== null && line.takenAt !== previous && !line.refreshing) return { page, line, pageMs, seenAt: performance.now() };
    await sleep(everyMs);
  }
  throw new Error(`the dashboard showed no new progress snapshot within ${withinMs} ms`);
}

/** The dashboard pages measured with progress: the first page, a filtered one sorted by username, and the roster sorted by last activity. */
const PROGRESS_PAGES: Array<{ path: string; query: TableQuery; label: string }> = [
  { path: '/dashboard', query: DEFAULT_QUERY, label: 'first page' },
  { path: '/dashboard?status=awaiting-ack&sort=handle&dir=desc', query: { ...DEFAULT_QUERY, status: 'awaiting-ack', sort: 'handle', dir: 'desc' }, label: 'status awaiting acknowledgement, by username descending' },
  { path: '/dashboard?sort=activity&dir=desc', query: { ...DEFAULT_QUERY, sort: 'activity', dir: 'desc' }, label: 'everyone by last activity, newest first' },
];

/** One roster size of the dashboard with progress: what the companion did with it, and the in-process breakdown. */
interface ProgressSize {
  learners: number;
  withProgress: number;
  rosterKiB: number;
  /** Why the companion could not show this roster with progress (null: it did, and its pages were measured). */
  failure: string | null;
  /** From the companion's start to the first page showing the snapshot (s). */
  snapshotAfterS: number | null;
  refreshRequests: number | null;
  /** The first page that showed the first snapshot, one page right after it, and the first page after a later snapshot (ms, single requests). */
  firstPageAfterSnapshotMs: number | null;
  nextPageMs: number | null;
  firstPageAfterLaterSnapshotMs: number | null;
  breakdown: PageBreakdown | null;
}
const progressSizes: ProgressSize[] = [];

/**
 * The dashboard with a progress snapshot, per roster size: a simulator
 * seeded with the cohort (GitHub answers at once: a page reads the snapshot
 * in memory, never GitHub), a companion that syncs the roster and reads
 * progress, then each page under load once the snapshot is there; and, in
 * this process, where the model build of a page goes. When the companion
 * cannot get to a snapshot, that is recorded and the in-process figures are
 * still taken.
 */
async function measureDashboardProgress(settings: Settings, files: RunFiles): Promise<void> {
  const p = settings.progress;
  for (const learners of p.sizes) {
    const withProgress = Math.min(learners, p.withData);
    log(`dashboard with progress, ${learners} learners (${withProgress} with a Learning Room and enrollment issue): ${settings.dashboardConnections} connections, ${settings.durationS} s per page`);
    const started = performance.now();
    // The token's limit is raised: the first refresh of a large cohort is not what this measures.
    const github = await startProgressGitHub({ learners, withProgress, latencyMs: 0, rateLimit: 100_000_000 });
    let server: RunningServer | null = null;
    try {
      const rosterPath = path.join(files.work, `roster-progress-${learners}.json`);
      const bytes = await writeRosterText(rosterPath, github.cohort.rosterText);
      const size: ProgressSize = {
        learners,
        withProgress,
        rosterKiB: bytes / 1024,
        failure: null,
        snapshotAfterS: null,
        refreshRequests: null,
        firstPageAfterSnapshotMs: null,
        nextPageMs: null,
        firstPageAfterLaterSnapshotMs: null,
        breakdown: null,
      };
      progressSizes.push(size);
      log(
        `  seeded in ${fmt((performance.now() - started) / 1000, 2)} s: roster of record ${fmt(bytes / 1024, 0)} KiB, ${github.cohort.seeded.repos} repositories, ` +
          `${github.cohort.seeded.issues} issues and pull requests, ${github.cohort.seeded.comments} comments, ${github.cohort.logEntries} provisioning log entries`,
      );
      const companionStarted = performance.now();
      server = await startCompanion({ rosterPath, logFile: files.logFile, cpuProfileDir: files.profileDir, env: progressEnv(github, settings.github.syncIntervalS) });
      let client: HttpClient | null = null;
      try {
        await waitUntilReady(server, '/readyz', 120_000);
        client = await signInClient(server);
      } catch (error) {
        size.failure = (error as Error).message;
        log(`  the companion did not get to a snapshot: ${size.failure}`);
      }
      if (client !== null) {
        const seen = await waitForSnapshot(client, null, 600_000, 250);
        size.snapshotAfterS = (seen.seenAt - companionStarted) / 1000;
        size.firstPageAfterSnapshotMs = seen.pageMs;
        if (!seen.page.includes(`It shows ${learners} learners.`) || !seen.page.includes('By progress status (derived from GitHub)')) {
          throw new Error(`the dashboard with progress does not list ${learners} learners with derived statuses`);
        }
        if (seen.line.problem) log(`  the dashboard shows a problem reading progress: ${seen.line.problem}`);
        size.refreshRequests = github.sim.requests.list({ identity: github.identity }).filter((r) => requestKind(r) !== 'sync').length;
        const next = performance.now();
        await (await client.get('/dashboard')).arrayBuffer();
        size.nextPageMs = performance.now() - next;
        log(
          `  snapshot on the dashboard ${fmt(size.snapshotAfterS, 1)} s after the companion started (${size.refreshRequests} requests for it); ` +
            `the first page with it took ${fmt(seen.pageMs, 1)} ms (every learner's progress derived), the next ${fmt(size.nextPageMs, 1)} ms`,
        );
        const headers = { cookie: client.cookie(COOKIE_NAME)! };
        for (const page of PROGRESS_PAGES) {
          const check = await client.get(page.path);
          const text = await check.text();
          if (check.status !== 200 || progressLine(text).takenAt !== seen.line.takenAt) throw new Error(`GET ${page.path} gave status ${check.status}, or a different snapshot`);
          log(`  ${page.path} (${page.label}): page ${fmt(text.length / 1024, 0)} KiB`);
          await warmup(settings, server.port, page.path, settings.dashboardConnections, headers);
          const result = await loadGet({ port: server.port, path: page.path, headers, connections: settings.dashboardConnections, durationS: settings.durationS, serverPid: server.pid });
          const row = pageRow(`GET ${page.path} with progress (${page.label})`, 'dashboard-progress', learners, result);
          row.progressPage = { path: page.path, withProgress, pageKiB: text.length / 1024 };
        }
        // A later snapshot, as every progress interval brings: its first page derives every learner's progress again, with the code already compiled.
        const asked = await client.post('/dashboard/refresh-progress', { csrf_token: refreshToken(await (await client.get('/dashboard')).text()) });
        await asked.arrayBuffer();
        if (asked.status !== 303) throw new Error(`POST /dashboard/refresh-progress gave status ${asked.status}`);
        const later = await waitForSnapshot(client, seen.line.takenAt, 600_000, 250);
        size.firstPageAfterLaterSnapshotMs = later.pageMs;
        log(`  after a second refresh (nothing changed on GitHub), the first page with its snapshot took ${fmt(later.pageMs, 1)} ms`);
      }
      const { code } = await server.stop();
      server = null;
      if (code !== 0 && size.failure === null) log(`  companion exited with code ${code}`);
      const b = await pageBreakdown({ rosterPath, github, queries: PROGRESS_PAGES.slice(1).map((page) => ({ label: page.path, query: page.query })) });
      size.breakdown = b;
      log(
        `  in this process (CPU time): the model of the first page ${fmt(b.modelMs, 2)} ms once its table is kept; now and then: the table made again ${fmt(b.tableBuildMs, 1)} ms, ` +
          `needs-attention for every learner ${fmt(b.attentionMs, 1)} ms, a new filter or sort ${fmt(b.tableMs, 2)} ms; the first model after the snapshot ${fmt(b.coldModelMs, 1)} ms ` +
          `(deriving every learner's progress ${fmt(b.deriveAllMs, 1)} ms); ` +
          b.queries.map((q) => `${q.query}: model ${fmt(q.modelMs, 2)} ms, table ${fmt(q.tableMs, 2)} ms (${q.matching} matching)`).join('; '),
      );
    } finally {
      await server?.stop();
      await github.stop();
    }
  }
}

/** The CSRF token of the dashboard's "read progress now" form. */
function refreshToken(page: string): string {
  const match = /action="\/dashboard\/refresh-progress[^"]*"[^]*?name="csrf_token" value="([^"]+)"/.exec(page);
  if (!match) throw new Error('the dashboard has no form to read progress again');
  return match[1]!.replace(/&amp;/g, '&');
}

/**
 * Progress refreshes for a cohort against GitHub BENCH_GITHUB_LATENCY ms
 * away: the companion's first refresh (after its first sync), then one asked
 * for by a facilitator with nothing changed on GitHub, then one after some
 * learners did one thing each. The requests of each, which counted against
 * the rate limit, and how long each took.
 */
async function measureProgressRefresh(settings: Settings, files: RunFiles): Promise<void> {
  const p = settings.progress;
  const g = settings.github;
  const defaults = githubDefaults();
  log(
    `progress refresh: ${p.learners} learners, GitHub ${g.latencyMs} ms away, sync interval ${g.syncIntervalS} s, ` +
      `progress interval ${defaults.progressIntervalS} s (the default; the second and third refreshes are asked for from the dashboard)`,
  );
  const github = await startProgressGitHub({ learners: p.learners, withProgress: p.learners, latencyMs: g.latencyMs });
  let server: RunningServer | null = null;
  try {
    const rosterPath = path.join(files.work, 'roster-progress-refresh.json');
    await writeRosterText(rosterPath, github.cohort.rosterText);
    log(`  seeded: ${github.cohort.seeded.repos} repositories, ${github.cohort.seeded.issues} issues and pull requests, ${github.cohort.seeded.comments} comments`);
    server = await startCompanion({ rosterPath, logFile: files.logFile, cpuProfileDir: files.profileDir, env: progressEnv(github, g.syncIntervalS) });
    await waitUntilReady(server, '/readyz', 120_000);
    const client = await signInClient(server);
    const figures: RefreshFigures[] = [];
    const record = (round: number, what: string, requests: LoggedRequest[], wallMs: number, cpuMs: number | null, activity: Record<string, number> | null, line: ProgressLine) => {
      const progress = requests.filter((r) => requestKind(r) !== 'sync');
      const sync = requests.filter((r) => requestKind(r) === 'sync');
      const f: RefreshFigures = {
        round,
        what,
        latencyMs: g.latencyMs,
        wallMs,
        spanMs: spanMs(progress),
        requests: progress.length,
        counted: progress.filter((r) => r.counted).length,
        notModified: progress.filter((r) => r.status === 304).length,
        byKind: byKindAndStatus(progress),
        syncRequests: sync.length,
        syncCounted: sync.filter((r) => r.counted).length,
        activity,
        problem: line.problem,
      };
      figures.push(f);
      const durations = new Latencies();
      for (const r of progress) durations.add(r.durationMs);
      const d = durations.summary();
      const row = addRow({
        scenario: `progress refresh ${round}: ${what}`,
        kind: 'progress-refresh',
        learners: p.learners,
        connections: 0,
        perSecond: f.spanMs > 0 ? (1000 * f.requests) / f.spanMs : 0,
        unit: 'GitHub req/s',
        p50Ms: d.p50,
        p99Ms: d.p99,
        errors: progress.filter((r) => r.status === 0).length,
        unexpected: progress.filter((r) => r.status !== 200 && r.status !== 304).length,
        serverCpuMsPerUnit: cpuMs !== null && f.requests > 0 ? cpuMs / f.requests : null,
        detail: null,
        refresh: f,
      });
      log(
        `    ${f.requests} requests, ${f.counted} counted against the rate limit, ${f.notModified} answered 304; ${fmt(f.wallMs / 1000, 2)} s ` +
          `(first request to last answer ${fmt(f.spanMs / 1000, 2)} s); sync meanwhile ${f.syncRequests} requests, ${f.syncCounted} counted` +
          (f.problem ? `; problem shown: ${f.problem}` : ''),
      );
      return row;
    };

    // 1: the companion's own first refresh, started once its first sync is done.
    let cpuBefore = processCpuMs(server.pid);
    const first = await waitForSnapshot(client, null, 600_000, 100);
    const firstRequests = github.sim.requests.list({ identity: github.identity });
    const firstProgress = firstRequests.filter((r) => requestKind(r) !== 'sync');
    let cpuAfter = processCpuMs(server.pid);
    record(1, 'the first, everything read in full', firstRequests, spanMs(firstProgress), cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null, null, first.line);

    // 2 and 3: asked for from the dashboard, as a facilitator would.
    let previous = first.line.takenAt;
    const rounds: Array<{ what: string; share: number }> = [
      { what: 'nothing changed on GitHub', share: 0 },
      { what: `after ${p.activePercent}% of the learners did one thing each`, share: p.activePercent / 100 },
    ];
    for (const [i, round] of rounds.entries()) {
      const activity = round.share > 0 ? learnersAct(github, round.share) : null;
      if (activity) log(`  before refresh ${i + 2}: ${Object.entries(activity).map(([k, n]) => `${n} ${k}`).join(', ')}`);
      const page = await (await client.get('/dashboard')).text();
      const mark = github.sim.requests.mark();
      cpuBefore = processCpuMs(server.pid);
      const asked = performance.now();
      const answer = await client.post('/dashboard/refresh-progress', { csrf_token: refreshToken(page) });
      await answer.arrayBuffer();
      if (answer.status !== 303) throw new Error(`POST /dashboard/refresh-progress gave status ${answer.status}`);
      const seen = await waitForSnapshot(client, previous, 600_000, 50);
      cpuAfter = processCpuMs(server.pid);
      previous = seen.line.takenAt;
      const requests = github.sim.requests.list({ identity: github.identity, afterSeq: mark });
      record(i + 2, round.what, requests, seen.seenAt - asked, cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null, activity, seen.line);
    }
    refreshSummary = { progressIntervalS: defaults.progressIntervalS, syncIntervalS: g.syncIntervalS, learners: p.learners, activePercent: p.activePercent, rounds: figures };
  } finally {
    await server?.stop();
    await github.stop();
  }
}

interface RefreshSummary {
  progressIntervalS: number;
  syncIntervalS: number;
  learners: number;
  activePercent: number;
  rounds: RefreshFigures[];
}
let refreshSummary: RefreshSummary | null = null;

/** Requests counted against the rate limit in an hour, at the default interval, if every round were like `round`. */
function countedPerHour(summary: RefreshSummary, round: RefreshFigures): number {
  return round.counted * (3600 / summary.progressIntervalS);
}

// ---------------------------------------------------------------- report

function table(): string {
  const head = ['scenario', 'learners', 'conns', 'per second', 'x baseline', 'p50 ms', 'p99 ms', 'errors', 'unexpected', 'server CPU ms/unit'];
  const body = rows.map((r) => [
    r.scenario,
    r.learners === null ? '-' : r.registration ? `${r.learners}->${r.registration.learnersAfter}` : String(r.learners),
    r.connections === 0 ? '-' : String(r.connections),
    `${fmt(r.perSecond)} ${r.unit}`,
    r.ratioToBaseline === null ? '-' : fmt(r.ratioToBaseline, 3),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    String(r.errors),
    String(r.unexpected),
    r.serverCpuMsPerUnit === null ? '-' : fmt(r.serverCpuMsPerUnit, 2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}

interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

function checkTargets(settings: Settings): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const get = rows.find((r) => r.kind === 'register-get');
  if (get) {
    // Without a baseline in the same run there is no ratio to judge.
    const ratio = get.ratioToBaseline;
    checks.push({
      target: `GET /register >= 25% of baseline req/s, p99 <= 20 ms at ${settings.connections} connections, no errors`,
      measured: `${ratio === null ? 'no baseline in this run' : `${fmt(ratio * 100)}% of baseline`}, p99 ${fmt(get.p99Ms, 2)} ms, ${get.errors} errors, ${get.unexpected} unexpected statuses`,
      met: settings.connections === 50 && ratio !== null ? ratio >= 0.25 && get.p99Ms <= 20 && get.errors === 0 && get.unexpected === 0 : null,
    });
  }
  const regs = rows.filter((r) => r.kind === 'registration');
  // Every flow that writes, in either mode (the repeat flow writes nothing and checks the file itself).
  const writing = rows.filter((r) => r.registration);
  if (writing.length > 0) {
    const lost = writing.reduce((sum, r) => sum + (r.registration?.lost ?? 0), 0);
    const acknowledged = writing.reduce((sum, r) => sum + (r.registration?.attemptsAcknowledged ?? 0), 0);
    checks.push({
      target: 'registrations lose nothing (every 303 is in the roster file)',
      measured: `${acknowledged} acknowledged, ${lost} lost`,
      met: lost === 0 && writing.every((r) => r.registration?.rosterValidAfterShutdown === true && r.registration.lostAfterShutdown === 0),
    });
  }
  if (regs.length > 0) {
    const reg1000 = regs.find((r) => r.learners === 1000);
    const repeat = rows.find((r) => r.kind === 'repeat');
    if (get && reg1000 && reg1000.perSecond > 0) {
      // The roster grows while the run lasts; its first quarter is the figure closest to "at 1,000 learners".
      const first = reg1000.registration?.bySize[0];
      const firstRate = first?.registrationsPerSecond ?? reg1000.perSecond;
      const factor = get.perSecond / firstRate;
      checks.push({
        target: 'registrations/s at 1,000 learners within a small constant factor (read here as <= 4x; a registration is two requests) of GET /register req/s',
        measured:
          `GET /register ${fmt(get.perSecond)} req/s vs ${fmt(firstRate)} reg/s while the roster held ${first ? `${first.learnersFrom}-${first.learnersTo}` : '1000+'} learners: ` +
          `factor ${fmt(factor, 2)} (whole run, ${reg1000.learners}->${reg1000.registration?.learnersAfter} learners: ${fmt(reg1000.perSecond)} reg/s, factor ${fmt(get.perSecond / reg1000.perSecond, 2)})` +
          (get.serverCpuMsPerUnit && reg1000.serverCpuMsPerUnit
            ? `; server CPU ${fmt(reg1000.serverCpuMsPerUnit, 2)} ms per registration vs ${fmt(get.serverCpuMsPerUnit, 2)} ms per GET /register (x${fmt(reg1000.serverCpuMsPerUnit / get.serverCpuMsPerUnit, 1)})`
            : '') +
          (repeat && repeat.perSecond > 0
            ? `; the same flow with nothing to write: ${fmt(repeat.perSecond)} reg/s, factor ${fmt(get.perSecond / repeat.perSecond, 2)}`
            : ''),
        met: factor <= 4,
      });
    }
  }
  const dash = rows.filter((r) => r.kind === 'dashboard' && r.learners !== null && r.learners > 0).sort((a, b) => a.learners! - b.learners!);
  if (dash.length >= 2) {
    // Server CPU time per page where it can be read, else the wall time per page at saturation.
    const cost = (r: Row) => r.serverCpuMsPerUnit ?? 1000 / r.perSecond;
    // Linear means cost = fixed + k * learners: the cost of one more learner (between consecutive sizes) stays about the same.
    const marginal = dash.slice(1).map((r, i) => ({
      from: dash[i]!.learners!,
      to: r.learners!,
      usPerLearner: (1000 * (cost(r) - cost(dash[i]!))) / (r.learners! - dash[i]!.learners!),
    }));
    const values = marginal.map((m) => m.usPerLearner);
    const spread = Math.max(...values) / Math.min(...values);
    const small = dash[0]!;
    const large = dash[dash.length - 1]!;
    checks.push({
      target: 'dashboard cost roughly linear in roster size (read here as: the cost of each extra learner varies by at most 2x across the sizes)',
      measured:
        `server CPU per page ${dash.map((r) => `${fmt(cost(r), 2)} ms at ${r.learners}`).join(', ')} learners; ` +
        `per extra learner ${marginal.map((m) => `${fmt(m.usPerLearner, 1)} us (${m.from}-${m.to})`).join(', ')}; ` +
        `${small.learners} -> ${large.learners} learners (x${fmt(large.learners! / small.learners!, 0)}) costs x${fmt(cost(large) / cost(small), 1)}`,
      met: values.every((v) => v > 0) && (values.length === 1 || spread <= 2),
    });
  }
  const local = rows.find((r) => r.kind === 'github-registration' && r.mode === 'local');
  const github = rows.find((r) => r.kind === 'github-registration' && r.mode === 'github');
  const held = rows.find((r) => r.kind === 'github-registration' && r.mode === 'github-held');
  const control = rows.find((r) => r.kind === 'github-registration' && r.mode === 'local-control');
  if (local && github) {
    const ratio = local.perSecond > 0 ? github.perSecond / local.perSecond : 0;
    const lg = github.registration!;
    const ll = local.registration!;
    checks.push({
      target: `registration throughput (GET /register + POST) in GitHub mode within 10% of local mode, ${settings.connections} connections, ${settings.registerGetSize} learners, same run`,
      measured:
        `GitHub mode ${fmt(github.perSecond)} reg/s vs local ${fmt(local.perSecond)} reg/s: ${fmt(100 * ratio)}% ` +
        `(rounds ${github.modeRounds!.map((r) => `${fmt(100 * r.ratio)}%`).join(', ')}); POST p50/p99 ${fmt(github.p50Ms, 1)}/${fmt(github.p99Ms, 1)} ms vs ${fmt(local.p50Ms, 1)}/${fmt(local.p99Ms, 1)} ms` +
        (github.serverCpuMsPerUnit !== null && local.serverCpuMsPerUnit !== null
          ? `; server CPU ${fmt(github.serverCpuMsPerUnit, 3)} vs ${fmt(local.serverCpuMsPerUnit, 3)} ms per registration`
          : '') +
        (held && local.perSecond > 0
          ? `; with the sync held off (outbox only) ${fmt(held.perSecond)} reg/s, ${fmt((100 * held.perSecond) / local.perSecond)}%` +
            (held.serverCpuMsPerUnit !== null ? `, ${fmt(held.serverCpuMsPerUnit, 3)} ms CPU per registration` : '')
          : '') +
        (control && local.perSecond > 0
          ? `; control, local mode against itself: ${fmt((100 * control.perSecond) / local.perSecond)}% (rounds ${github.modeRounds!.map((r) => `${fmt(100 * r.controlRatio!)}%`).join(', ')})`
          : '') +
        `; lost ${lg.lost} / ${ll.lost}${control ? ` / ${control.registration!.lost}` : ''}`,
      met: ratio >= 0.9 && github.errors === 0 && github.unexpected === 0,
    });
  }
  const burst = rows.find((r) => r.burst)?.burst;
  if (burst) {
    const allThere = burst.failures === 0 && burst.neverCommitted === 0 && burst.exactlyOnce === burst.planned;
    checks.push({
      target: `GitHub mode, a burst of ${burst.planned} registrations at ${burst.perSecond}/s with GitHub ${burst.latencyMs} ms away: from each 303 to the commit carrying it, p99 <= 10 s; afterwards all ${burst.planned} in the roster of record exactly once`,
      measured:
        `p50/p95/p99/max ${[burst.commitLatencyMs.p50, burst.commitLatencyMs.p95, burst.commitLatencyMs.p99, burst.commitLatencyMs.max].map((v) => fmt(v / 1000, 2)).join('/')} s; ` +
        `${burst.acknowledged} acknowledged, ${burst.failures} failed, ${burst.neverCommitted} never seen committed; in the roster of record ${burst.exactlyOnce} exactly once, ${burst.duplicated} more than once, ${burst.missing} missing`,
      met: allThere && burst.commitLatencyMs.p99 <= 10_000,
    });
    checks.push({
      target: 'GitHub mode, the same burst: at most one commit per 20 registrations',
      measured: `${burst.commits} commits for ${burst.acknowledged} registrations: ${fmt(burst.commitsPerRegistration, 4)} per registration (one per ${fmt(burst.acknowledged / Math.max(1, burst.commits), 1)})`,
      met: burst.acknowledged > 0 && burst.commits * 20 <= burst.acknowledged,
    });
  }
  const idle = rows.find((r) => r.idle)?.idle;
  if (idle) {
    checks.push({
      target: `GitHub mode, idle with a ${idle.intervalS} s interval for ${idle.watchedS} s: the periodic reads are conditional and answered 304, none counted against the rate limit after the first read`,
      measured:
        `${idle.total} requests since start, ${idle.counted} counted; first read ${idle.firstRead ? `${idle.firstRead.status}${idle.firstRead.counted ? ' (counted)' : ''}` : 'not made'}; ` +
        `after it ${idle.afterFirstRead} requests: ${idle.readsAfterFirst} reads of the roster, ${idle.answered304} answered 304, ${idle.countedAfterFirstRead} counted; ` +
        `apart from these, the progress reader's first full read: ${idle.progressRequests} requests, ${idle.progressCounted} counted`,
      met: idle.firstRead !== null && idle.readsAfterFirst > 0 && idle.answered304 === idle.readsAfterFirst && idle.countedAfterFirstRead === 0,
    });
  }
  const firstPages = rows.filter((r) => r.kind === 'dashboard-progress' && r.progressPage?.path === '/dashboard').sort((a, b) => a.learners! - b.learners!);
  const sizeOf = (learners: number) => progressSizes.find((z) => z.learners === learners);
  const at1000 = firstPages.find((r) => r.learners === 1000);
  if (at1000) {
    const z = sizeOf(1000);
    checks.push({
      target: `dashboard with a progress snapshot, 1,000 learners, first page: p99 <= 50 ms at ${settings.dashboardConnections} connections, no errors`,
      measured:
        `p50 ${fmt(at1000.p50Ms, 2)} ms, p99 ${fmt(at1000.p99Ms, 2)} ms, ${fmt(at1000.perSecond)} req/s, server CPU ${at1000.serverCpuMsPerUnit === null ? '-' : fmt(at1000.serverCpuMsPerUnit, 2)} ms per page, ` +
        `${at1000.errors} errors, ${at1000.unexpected} unexpected statuses; the first page after the first snapshot ${z?.firstPageAfterSnapshotMs == null ? '-' : fmt(z.firstPageAfterSnapshotMs, 1)} ms, ` +
        `after a later one ${z?.firstPageAfterLaterSnapshotMs == null ? '-' : fmt(z.firstPageAfterLaterSnapshotMs, 1)} ms`,
      met: settings.dashboardConnections === 10 ? at1000.p99Ms <= 50 && at1000.errors === 0 && at1000.unexpected === 0 : null,
    });
  }
  const failed = progressSizes.filter((z) => z.failure !== null);
  if (progressSizes.length > 0) {
    checks.push({
      target: 'GitHub mode shows the dashboard with progress for every roster size measured',
      measured:
        progressSizes.map((z) => `${z.learners} learners (roster of record ${fmt(z.rosterKiB / 1024, 1)} MiB): ${z.failure === null ? `snapshot after ${fmt(z.snapshotAfterS ?? 0, 1)} s` : `no: ${z.failure}`}`).join('; '),
      met: failed.length === 0,
    });
  }
  const broken = progressSizes.filter((z) => z.breakdown !== null);
  if (broken.length >= 2) {
    const small = broken[0]!;
    const large = broken[broken.length - 1]!;
    const sb = small.breakdown!;
    const lb = large.breakdown!;
    const extra = large.learners - small.learners;
    checks.push({
      target:
        `dashboard with progress: a page's cost grows with the roster only by its filtering and sorting ` +
        `(read here as: the first page's model at ${large.learners} learners costs at most the one at ${small.learners} plus twice its table's own filter-sort-page time; CPU time in process)`,
      measured:
        `model of the first page ${broken.map((z) => `${fmt(z.breakdown!.modelMs, 2)} ms at ${z.learners}`).join(', ')} ` +
        `(${fmt(lb.modelMs - sb.modelMs, 2)} ms more, ${fmt((1000 * (lb.modelMs - sb.modelMs)) / extra, 3)} us per extra learner, of which the table +${fmt(lb.tableMs - sb.tableMs, 2)} ms); ` +
        `at ${large.learners}, paid now and then rather than per page: the table made again (after a registration, an edit or a snapshot) ${fmt(lb.tableBuildMs, 1)} ms, needs-attention for every learner (when a reason can come or go) ${fmt(lb.attentionMs, 1)} ms, a filter or sort not asked for lately ${fmt(lb.tableMs, 2)} ms` +
        (lb.queries.length > 0 ? `; filtered or sorted: ${lb.queries.map((q) => `${q.query} table ${fmt(q.tableMs, 1)} of model ${fmt(q.modelMs, 1)} ms`).join(', ')}` : '') +
        `; server CPU per first page (model, render, HTTP) ${firstPages.map((r) => `${r.serverCpuMsPerUnit === null ? '-' : fmt(r.serverCpuMsPerUnit, 2)} ms at ${r.learners}`).join(', ')}` +
        `; the first page after a snapshot derives every learner's progress: ${broken.map((z) => `${fmt(z.breakdown!.deriveAllMs, 0)} ms at ${z.learners}`).join(', ')}`,
      met: lb.modelMs <= sb.modelMs + 2 * lb.tableMs,
    });
  }
  if (refreshSummary) {
    const s = refreshSummary;
    const perHour = 3600 / s.progressIntervalS;
    const steady = s.rounds.filter((r) => r.round >= 2);
    const idle = steady.find((r) => r.activity === null);
    const active = steady.find((r) => r.activity !== null);
    const first = s.rounds.find((r) => r.round === 1);
    const syncCounted = steady.reduce((n, r) => n + r.syncCounted, 0);
    if (idle || active) {
      const worst = Math.max(...steady.map((r) => countedPerHour(s, r)));
      checks.push({
        target: `progress refresh, ${s.learners} learners, steady state (second and later refreshes): <= 1,000 requests an hour counted against the rate limit (a fifth of GitHub's 5,000 for one token), at the default interval of ${s.progressIntervalS} s (${fmt(perHour, 0)} refreshes an hour), with ${s.activePercent}% of the learners doing one thing between two refreshes`,
        measured:
          steady.map((r) => `refresh ${r.round} (${r.what}): ${r.requests} requests, ${r.counted} counted, ${r.notModified} answered 304 -> ${fmt(countedPerHour(s, r), 0)} counted an hour`).join('; ') +
          `; the roster sync's conditional reads every ${s.syncIntervalS} s counted ${syncCounted} in these refreshes` +
          (first ? `; for comparison the first refresh: ${first.requests} requests, ${first.counted} counted (${fmt(countedPerHour(s, first), 0)} an hour if every refresh read everything in full)` : ''),
        met: worst <= 1000 && syncCounted === 0 && steady.every((r) => r.problem === null),
      });
    }
    const latency = s.rounds[0]?.latencyMs ?? 0;
    checks.push({
      target: `progress refresh, ${s.learners} learners, GitHub ${latency} ms away: a full refresh takes <= 60 s (a fifth of the default ${s.progressIntervalS} s interval)`,
      measured: s.rounds.map((r) => `refresh ${r.round} (${r.what}) ${fmt(r.wallMs / 1000, 2)} s (first request to last answer ${fmt(r.spanMs / 1000, 2)} s)`).join('; '),
      met: s.rounds.length > 0 && s.rounds.every((r) => r.wallMs <= 60_000),
    });
  }
  return checks;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const settings = readSettings();
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logFile = path.join(RESULTS_DIR, `servers-${stamp}.log`);
  const profileDir = settings.cpuProfile ? path.join(RESULTS_DIR, `profiles-${stamp}`) : null;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const work = await mkdtemp(path.join(settings.dir, 'glow-bench-'));
  const started = Date.now();
  log(
    `GLOW Companion benchmark: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; ` +
      `${settings.durationS} s per scenario, ${settings.warmupS} s warm-up; rosters in ${work}; rate limit ${RATE_LIMIT_MAX}`,
  );

  const running: RunningServer[] = [];
  let failed = false;
  try {
    let baseline: RunningServer | null = null;
    if (settings.only.has('baseline')) {
      baseline = await startBaseline(logFile);
      running.push(baseline);
      // Measured in rounds beside GET /register when that runs; alone otherwise.
      if (!settings.only.has('register-get')) await measureBaselineAlone(settings, baseline);
    }

    const needsCompanion = ['register-get', 'dashboard', 'registration', 'repeat'].some((s) => settings.only.has(s as ScenarioKind));
    for (const learners of needsCompanion ? settings.sizes : []) {
      const wantGet = settings.only.has('register-get') && learners === settings.registerGetSize;
      const wantDashboard = settings.only.has('dashboard');
      const wantRegistration = settings.only.has('registration');
      const wantRepeat = settings.only.has('repeat') && learners === settings.registerGetSize;
      if (wantRepeat) {
        // Its own server and roster, so that the other scenarios start from the roster size they name.
        const repeatPath = path.join(work, `roster-${learners}-repeat.json`);
        await writeRoster(repeatPath, learners);
        const server = await startCompanion({ rosterPath: repeatPath, logFile, cpuProfileDir: profileDir });
        running.push(server);
        try {
          await measureRepeat(settings, server, learners, repeatPath);
        } finally {
          await server.stop();
          running.splice(running.indexOf(server), 1);
        }
      }
      if (!wantGet && !wantDashboard && !wantRegistration) continue;
      const rosterPath = path.join(work, `roster-${learners}.json`);
      const bytes = await writeRoster(rosterPath, learners);
      const server = await startCompanion({ rosterPath, logFile, cpuProfileDir: profileDir });
      running.push(server);
      log(`companion on port ${server.port} with ${learners} learners (${fmt(bytes / 1024, 0)} KiB roster)`);
      let measured: { row: Row; accepted: Accepted[] } | null = null;
      try {
        if (wantGet) await measureBaselineAndRegisterGet(settings, baseline, server, learners);
        if (wantDashboard) await measureDashboard(settings, server, learners);
        if (wantRegistration) measured = await measureRegistration(settings, server, learners, rosterPath, bytes);
      } finally {
        const { code } = await server.stop();
        running.splice(running.indexOf(server), 1);
        if (code !== 0) log(`  companion exited with code ${code}`);
      }
      if (measured?.row.registration) {
        // After a graceful stop the file must still be valid under the contract and hold every acknowledged registration.
        const final = await readRoster(rosterPath).catch(() => null);
        measured.row.registration.rosterValidAfterShutdown = final !== null;
        measured.row.registration.lostAfterShutdown = final
          ? measured.accepted.filter((a) => !final.keys.has(learnerKey(a.handle, a.cohort))).length
          : null;
      }
    }

    // GitHub mode: each scenario starts its own simulator and companions, and stops them.
    const files: RunFiles = { work, logFile, profileDir };
    if (settings.only.has('github-registration')) await measureGitHubRegistration(settings, files);
    if (settings.only.has('github-burst')) await measureGitHubBurst(settings, files);
    if (settings.only.has('github-idle')) await measureGitHubIdle(settings, files);
    if (settings.only.has('dashboard-progress')) await measureDashboardProgress(settings, files);
    if (settings.only.has('progress-refresh')) await measureProgressRefresh(settings, files);

  } catch (error) {
    failed = true;
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  } finally {
    for (const server of running.splice(0)) await server.stop();
    await rm(work, { recursive: true, force: true });
  }

  // Report order: baseline, GET /register, dashboards, registrations, each by roster size.
  const order: ScenarioKind[] = [...SCENARIOS];
  rows.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.learners ?? -1) - (b.learners ?? -1));
  // Ratios to the baseline measured in this run (not for the burst and the idle run, whose rates are set by the harness).
  const baselineRps = baselines[0]?.requestsPerSecond ?? null;
  for (const row of rows) row.ratioToBaseline = baselineRps && !['github-burst', 'github-idle', 'progress-refresh'].includes(row.kind) ? row.perSecond / baselineRps : null;

  let profiles: ProfileSummary[] = [];
  if (profileDir) {
    const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).sort();
    profiles = await Promise.all(files.map((f) => summariseProfile(path.join(profileDir, f), 25)));
  }

  const targets = checkTargets(settings);
  if (failed) log('\nThe run stopped early (see the error above); the figures below are those measured until then.');
  log('');
  log(table());
  log('');
  if (baselineRps !== null) log(`baseline for ratios: ${fmt(baselineRps)} req/s`);
  for (const row of rows.filter((r) => r.rounds)) {
    log(`GET /register per round, as a share of the baseline in the same round: ${row.rounds!.map((r) => `${fmt(100 * r.ratio)}%`).join(', ')}`);
  }
  for (const row of rows.filter((r) => r.registration)) {
    const reg = row.registration!;
    log(
      `registration @ ${row.learners} learners: ${reg.attemptsAcknowledged} acknowledged, lost ${reg.lost}, learners ${reg.learnersBefore} -> ${reg.learnersAfter}, ` +
        `${fmt(reg.httpRequestsPerSecond)} HTTP req/s, POST p50/p99 ${fmt(reg.postLatencyMs.p50, 2)}/${fmt(reg.postLatencyMs.p99, 2)} ms, ` +
        `whole flow p50/p99 ${fmt(reg.flowLatencyMs.p50, 2)}/${fmt(reg.flowLatencyMs.p99, 2)} ms, ` +
        `after shutdown: file valid ${reg.rosterValidAfterShutdown}, lost ${reg.lostAfterShutdown ?? 'unchecked'}`,
    );
  }
  for (const row of rows.filter((r) => r.registration && r.registration.bySize.length > 0)) {
    const slices = row.registration!.bySize.map(
      (b) => `${b.learnersFrom}-${b.learnersTo}: ${fmt(b.registrationsPerSecond, 0)} reg/s, ${fmt(b.postP50Ms, 1)}/${fmt(b.postP99Ms, 1)} ms`,
    );
    log(`  by learners in the roster (reg/s, POST p50/p99): ${slices.join('; ')}`);
  }
  for (const row of rows.filter((r) => r.modeRounds)) {
    log(
      `GitHub mode per round, as a share of local mode in the same round: ${row.modeRounds!.map((r) => `${fmt(100 * r.ratio)}%`).join(', ')}; ` +
        `sync held off: ${row.modeRounds!.map((r) => `${fmt(100 * r.heldRatio)}%`).join(', ')}`,
    );
  }
  for (const row of rows.filter((r) => r.burst)) {
    const b = row.burst!;
    log(
      `GitHub burst: ${b.acknowledged}/${b.planned} acknowledged over ${fmt(b.elapsedS, 2)} s (form + post p50/p99 ${fmt(b.flowLatencyMs.p50, 1)}/${fmt(b.flowLatencyMs.p99, 1)} ms); ` +
        `303 -> commit p50/p95/p99/max ${[b.commitLatencyMs.p50, b.commitLatencyMs.p95, b.commitLatencyMs.p99, b.commitLatencyMs.max].map((v) => fmt(v / 1000, 2)).join('/')} s; ` +
        `${b.commits} commits, ${fmt(b.commitsPerRegistration, 4)} per registration; commits at ${b.commitTimeline.map((c) => `${fmt(c.atMs / 1000, 1)} s (+${c.newLearners})`).join(', ')}`,
    );
  }
  for (const row of rows.filter((r) => r.idle)) {
    const i = row.idle!;
    log(`GitHub idle: ${Object.entries(i.byRequest).map(([k, n]) => `${k} x${n}`).join('; ')}; rate limit remaining afterwards ${i.rateLimitRemaining ?? 'unknown'}`);
  }
  for (const z of progressSizes) {
    const pages = rows.filter((r) => r.kind === 'dashboard-progress' && r.learners === z.learners);
    const b = z.breakdown;
    log(
      `dashboard with progress @ ${z.learners} learners (${z.withProgress} with a GitHub side, roster of record ${fmt(z.rosterKiB, 0)} KiB): ` +
        (z.failure !== null
          ? `the companion got no snapshot (${z.failure}); `
          : `snapshot after ${fmt(z.snapshotAfterS ?? 0, 1)} s, first page after it ${fmt(z.firstPageAfterSnapshotMs ?? 0, 1)} ms, next ${fmt(z.nextPageMs ?? 0, 1)} ms, ` +
            `first page after a later snapshot ${z.firstPageAfterLaterSnapshotMs === null ? '-' : fmt(z.firstPageAfterLaterSnapshotMs, 1)} ms; server CPU per page ` +
            `${pages.map((r) => `${r.progressPage!.path} ${r.serverCpuMsPerUnit === null ? '-' : fmt(r.serverCpuMsPerUnit, 2)} ms`).join(', ')}; `) +
        (b === null
          ? 'no in-process figures'
          : `in process (CPU): model ${fmt(b.modelMs, 2)} ms once its table is kept; table made again ${fmt(b.tableBuildMs, 1)} ms, needs-attention for every learner ${fmt(b.attentionMs, 1)} ms, a new filter or sort ${fmt(b.tableMs, 2)} ms; ` +
            `first model after the snapshot ${fmt(b.coldModelMs, 1)} ms (deriving progress ${fmt(b.deriveAllMs, 1)} ms); ` +
            b.queries.map((q) => `${q.query}: model ${fmt(q.modelMs, 2)} ms, table ${fmt(q.tableMs, 2)} ms, ${q.matching} matching`).join('; ')),
    );
  }
  if (refreshSummary) {
    for (const r of refreshSummary.rounds) {
      log(
        `progress refresh ${r.round} (${r.what}): ${Object.entries(r.byKind).map(([k, n]) => `${k} x${n}`).join('; ')}` +
          (r.activity ? `; before it: ${Object.entries(r.activity).map(([k, n]) => `${n} ${k}`).join(', ')}` : ''),
      );
    }
  }
  log('');
  for (const t of targets) log(`[${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}] ${t.target}: ${t.measured}`);
  for (const p of profiles) log(`\n${formatProfile(p)}`);

  const output = {
    startedAt: new Date(started).toISOString(),
    elapsedS: (Date.now() - started) / 1000,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings: { ...settings, only: [...settings.only] },
    baselineRequestsPerSecond: baselineRps,
    rows,
    progressSizes,
    refresh: refreshSummary,
    targets,
    profiles,
    failed,
  };
  const json = `${JSON.stringify(output, null, 2)}\n`;
  const file = path.join(RESULTS_DIR, `bench-${stamp}.json`);
  await writeFile(file, json);
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  log(`\nresults: ${path.relative(process.cwd(), file)} (server logs: ${path.relative(process.cwd(), logFile)}); ${fmt((Date.now() - started) / 1000, 0)} s`);

  const lost = rows.some((r) => r.registration && (r.registration.lost > 0 || r.registration.lostAfterShutdown !== 0 || !r.registration.rosterValidAfterShutdown));
  if (failed || lost) process.exitCode = 1;
}

await main();
