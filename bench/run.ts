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
 *   BENCH_ONLY=                    comma list of scenarios to run (default: all five)
 *   BENCH_CPU_PROF=0               1: run the companion under --cpu-prof and summarise the profiles
 *   BENCH_DIR=<os tmpdir>          where the temporary roster files are made (use a real disk)
 *   BENCH_SERVER_JS=dist/server.js another build of the server to measure instead
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, readCsrf } from '../test/helpers/http.js';
import { Latencies, loadGet, loadRegistrationFlow, mergeResults, type Accepted, type FlowResult, type LoadResult, type Percentiles } from './lib/load.js';
import { formatProfile, summariseProfile, type ProfileSummary } from './lib/profile.js';
import { COHORTS, learnerKey, readRoster, writeRoster } from './lib/roster.js';
import { FACILITATOR_TOKEN, RATE_LIMIT_MAX, startBaseline, startCompanion, type RunningServer } from './lib/servers.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
/** The session cookie's name when COMPANION_SECURE_COOKIES=0 (no __Host- prefix). */
const COOKIE_NAME = 'glow_session';
const SCENARIOS = ['baseline', 'register-get', 'dashboard', 'registration', 'repeat'] as const;
type ScenarioKind = (typeof SCENARIOS)[number];

// ---------------------------------------------------------------- settings

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
  };
}
type Settings = ReturnType<typeof readSettings>;

// ---------------------------------------------------------------- results

interface Row {
  scenario: string;
  kind: ScenarioKind;
  learners: number | null;
  connections: number;
  /** Requests per second; for the registration flow, completed registrations per second. */
  perSecond: number;
  unit: 'req/s' | 'reg/s';
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Responses with an unexpected status: non-2xx for pages, for the registration flow non-200 GETs and non-303 POSTs. */
  unexpected: number;
  ratioToBaseline: number | null;
  serverCpuMsPerUnit: number | null;
  /** For GET /register: each round's figures beside the baseline's in the same round. */
  rounds?: Array<{ baselineRps: number; rps: number; ratio: number }>;
  detail: LoadResult | FlowResult;
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
  const listed = learners === 0 ? 'No learners have registered yet.' : `(${learners} ${learners === 1 ? 'learner' : 'learners'})`;
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

// ---------------------------------------------------------------- report

function table(): string {
  const head = ['scenario', 'learners', 'conns', 'per second', 'x baseline', 'p50 ms', 'p99 ms', 'errors', 'unexpected', 'server CPU ms/unit'];
  const body = rows.map((r) => [
    r.scenario,
    r.learners === null ? '-' : r.registration ? `${r.learners}->${r.registration.learnersAfter}` : String(r.learners),
    String(r.connections),
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
  if (regs.length > 0) {
    const lost = regs.reduce((sum, r) => sum + (r.registration?.lost ?? 0), 0);
    const acknowledged = regs.reduce((sum, r) => sum + (r.registration?.attemptsAcknowledged ?? 0), 0);
    checks.push({
      target: 'registrations lose nothing (every 303 is in the roster file)',
      measured: `${acknowledged} acknowledged, ${lost} lost`,
      met: lost === 0 && regs.every((r) => r.registration?.rosterValidAfterShutdown === true && r.registration.lostAfterShutdown === 0),
    });
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

  } catch (error) {
    failed = true;
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  } finally {
    for (const server of running.splice(0)) await server.stop();
    await rm(work, { recursive: true, force: true });
  }

  // Report order: baseline, GET /register, dashboards, registrations, each by roster size.
  const order: ScenarioKind[] = ['baseline', 'register-get', 'dashboard', 'registration', 'repeat'];
  rows.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.learners ?? -1) - (b.learners ?? -1));
  // Ratios to the baseline measured in this run.
  const baselineRps = baselines[0]?.requestsPerSecond ?? null;
  for (const row of rows) row.ratioToBaseline = baselineRps ? row.perSecond / baselineRps : null;

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
  for (const row of rows.filter((r) => r.registration)) {
    const slices = row.registration!.bySize.map(
      (b) => `${b.learnersFrom}-${b.learnersTo}: ${fmt(b.registrationsPerSecond, 0)} reg/s, ${fmt(b.postP50Ms, 1)}/${fmt(b.postP99Ms, 1)} ms`,
    );
    log(`  by learners in the roster (reg/s, POST p50/p99): ${slices.join('; ')}`);
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
