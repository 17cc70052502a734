/**
 * GitHub mode for the benchmark: the project's GitHub simulator, in this
 * process on loopback, seeded with an admin repository holding the roster of
 * record; the companion's environment to point at it; a paced burst of real
 * registrations (form, then post with its cookie and CSRF token); and a
 * watcher that notes when each learner first appears in the roster of record.
 */
import { performance } from 'node:perf_hooks';
import { createGitHubSimulator, type GitHubSimulator, type LoggedRequest } from '../../dev/github-simulator/index.js';
import { HttpClient, readCsrf } from '../../test/helpers/http.js';
import { Latencies, type Percentiles } from './load.js';

export const ADMIN = { owner: 'Community-Access', name: 'glow-admin' } as const;
export const ADMIN_REPO = `${ADMIN.owner}/${ADMIN.name}`;
export const ROSTER_FILE = 'roster.json';

export interface SimulatedGitHub {
  sim: GitHubSimulator;
  url: string;
  token: string;
  /** The companion's identity in the simulator's request log. */
  identity: string;
  /** The roster of record's text as the simulator holds it now. */
  recordText(): string;
  /** Commits on the admin repository's default branch (the seed's included). */
  commits(): number;
  stop(): Promise<void>;
}

/** The simulator with every API answer delayed by `latencyMs`, seeded with the roster of record and a token that may write it. */
export async function startGitHub(rosterText: string, latencyMs: number): Promise<SimulatedGitHub> {
  const sim = createGitHubSimulator({ latencyMs });
  const url = await sim.start();
  try {
    sim.seedAdminRepo({ ...ADMIN, rosterText });
  } catch (error) {
    await sim.stop();
    throw error;
  }
  const login = 'glow-companion-bench';
  const token = sim.addToken({ login, permissions: { contents: 'write', metadata: 'read' } });
  return {
    sim,
    url,
    token,
    identity: `user:${login}`,
    recordText: () => sim.state.readFile(ADMIN_REPO, ROSTER_FILE)!.content.toString('utf8'),
    commits: () => sim.state.history(ADMIN_REPO).length,
    stop: () => sim.stop(),
  };
}

/** The companion's GitHub-mode settings against the simulator. */
export function githubEnv(github: { url: string; token: string }, syncIntervalS: number): Record<string, string> {
  return {
    COMPANION_GITHUB_REPO: ADMIN_REPO,
    COMPANION_GITHUB_TOKEN: github.token,
    COMPANION_GITHUB_API_URL: github.url,
    COMPANION_SYNC_INTERVAL: String(syncIntervalS),
  };
}

/** The handles in a roster's text with how many times each appears (a light read: only what the watcher needs). */
export function handleCounts(rosterText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const learner of (JSON.parse(rosterText) as { learners: Array<{ github_handle: string }> }).learners) {
    counts.set(learner.github_handle, (counts.get(learner.github_handle) ?? 0) + 1);
  }
  return counts;
}

/**
 * Watches the roster of record every `everyMs`: when the branch head moves,
 * the roster is read and each handle with `prefix` not seen before is noted
 * with the time (performance.now()) it was first seen.
 */
export function watchRecord(github: SimulatedGitHub, prefix: string, everyMs = 20) {
  const firstSeen = new Map<string, number>();
  const heads: Array<{ sha: string; atMs: number; newHandles: number }> = [];
  let head = github.sim.state.readFile(ADMIN_REPO, ROSTER_FILE)?.commitSha ?? null;
  const look = () => {
    const file = github.sim.state.readFile(ADMIN_REPO, ROSTER_FILE);
    if (!file || file.commitSha === head) return;
    const now = performance.now();
    head = file.commitSha;
    let fresh = 0;
    for (const handle of handleCounts(file.content.toString('utf8')).keys()) {
      if (handle.startsWith(prefix) && !firstSeen.has(handle)) {
        firstSeen.set(handle, now);
        fresh++;
      }
    }
    heads.push({ sha: file.commitSha, atMs: now, newHandles: fresh });
  };
  const timer = setInterval(look, everyMs);
  return {
    firstSeen,
    heads,
    stop: () => {
      clearInterval(timer);
      look();
    },
  };
}

export interface BurstRegistration {
  handle: string;
  cohort: string;
  /** When the registration was started, and when its 303 arrived (performance.now()). */
  startedMs: number;
  acknowledgedMs: number;
  flowMs: number;
}

export interface BurstResult {
  acknowledged: BurstRegistration[];
  /** Registrations that did not end in a 303 to the success page, with what happened. */
  failures: string[];
  /** From the first start to the last answer (s). */
  elapsedS: number;
  /** How late, at most, a registration was started against its schedule (ms): the pacing's own error. */
  maxStartLagMs: number;
  flowLatencyMs: Percentiles;
}

/**
 * `count` registrations started `perSecond` a second, each without waiting
 * for the ones before it: GET /register as a new visitor, then POST /register
 * with the session cookie and the form's CSRF token. A 303 to the success
 * page is an acknowledged registration.
 */
export async function registrationBurst(o: { base: string; count: number; perSecond: number; cohorts: string[]; prefix: string; cookieName: string }): Promise<BurstResult> {
  const acknowledged: BurstRegistration[] = [];
  const failures: string[] = [];
  const flows = new Latencies();
  let maxStartLagMs = 0;
  const one = async (i: number, startedMs: number): Promise<void> => {
    const handle = `${o.prefix}-${String(i).padStart(4, '0')}`;
    const cohort = o.cohorts[i % o.cohorts.length]!;
    try {
      const visitor = new HttpClient(o.base, 30_000);
      const form = await visitor.get('/register');
      const csrf = readCsrf(await form.text());
      if (form.status !== 200 || !csrf || !visitor.cookie(o.cookieName)) {
        failures.push(`${handle}: GET /register gave ${form.status}${csrf ? '' : ' without a form token'}`);
        return;
      }
      const answer = await visitor.post('/register', { github_handle: handle, cohort_id: cohort, path: 'day1-day2', csrf_token: csrf });
      const acknowledgedMs = performance.now();
      await answer.arrayBuffer();
      if (answer.status === 303 && answer.headers.get('location') === `/register/success?handle=${encodeURIComponent(handle)}`) {
        acknowledged.push({ handle, cohort, startedMs, acknowledgedMs, flowMs: acknowledgedMs - startedMs });
        flows.add(acknowledgedMs - startedMs);
      } else {
        failures.push(`${handle}: POST /register gave ${answer.status} ${answer.headers.get('location') ?? ''}`.trim());
      }
    } catch (error) {
      failures.push(`${handle}: ${(error as Error).message}`);
    }
  };
  const t0 = performance.now();
  const gapMs = 1000 / o.perSecond;
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < o.count; i++) {
    const due = t0 + i * gapMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const startedMs = performance.now();
    maxStartLagMs = Math.max(maxStartLagMs, startedMs - due);
    inFlight.push(one(i, startedMs));
  }
  await Promise.all(inFlight);
  return { acknowledged, failures, elapsedS: (performance.now() - t0) / 1000, maxStartLagMs, flowLatencyMs: flows.summary() };
}

/** The simulator's requests from one identity, by method, path and status, e.g. `GET /repos/o/r/contents/roster.json 304: 8`. */
export function requestSummary(requests: LoggedRequest[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    const key = `${r.method} ${r.path} ${r.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
