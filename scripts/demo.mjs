// npm run demo: the companion in GitHub mode against a local GitHub simulator,
// so a registration can be followed all the way to the roster of record in the
// admin repository and the start of the provisioning workflow, with no real
// GitHub and no account. `npm run demo -- --local` (or DEMO_MODE=local) runs
// local mode instead: the roster is a file on this machine and nothing else.
//
// Either way it builds dist/ if it is older than src/, serves on
// http://127.0.0.1:5000/ (PORT to change it) with secure cookies off, and
// prints a random facilitator token. Working files go to the git-ignored
// demo/ folder (DEMO_DIR to put them elsewhere), fresh at every start.
//
// GitHub mode first makes a cohort in progress (dev/github-simulator/demo-cohort.ts:
// a simulator seed and a roster of record, every time relative to now, so the
// dashboard's derived progress shows each state it can: stuck, needs review,
// provisioning failed and the rest). Then it runs two processes, the simulator
// and the companion; Ctrl+C (or SIGTERM) stops both, and if either one stops by
// itself the other is stopped too.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = path.join(root, 'dist', 'server.js');
const exampleRoster = path.join(root, 'examples', 'roster.example.json');

const args = process.argv.slice(2);
for (const arg of args) {
  if (arg !== '--local' && arg !== '--github') {
    console.error(`npm run demo: unknown option ${arg} (use --local for local mode; GitHub mode is the default)`);
    process.exit(2);
  }
}
const requestedMode = args.includes('--local') ? 'local' : args.includes('--github') ? 'github' : (process.env.DEMO_MODE || 'github');
if (requestedMode !== 'github' && requestedMode !== 'local') {
  console.error(`npm run demo: DEMO_MODE must be github or local (got ${JSON.stringify(requestedMode)})`);
  process.exit(2);
}
const mode = requestedMode;

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

if (!existsSync(built) || statSync(built).mtimeMs < newestSource(path.join(root, 'src'))) {
  console.log('Building the server...');
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const demoDir = path.resolve(root, process.env.DEMO_DIR || 'demo');
const port = process.env.PORT || '5000';
const base = `http://127.0.0.1:${port}`;
const facilitatorToken = process.env.COMPANION_FACILITATOR_TOKEN || `demo-${randomBytes(18).toString('base64url')}`;
const secretKey = process.env.COMPANION_SECRET_KEY || randomBytes(48).toString('base64');

// The companion's settings come only from here: GitHub or roster settings left in
// the shell (a real admin repository, App credentials) must not leak into the demo.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^COMPANION_(GITHUB_|PROVISIONING_|ROSTER_PATH$|SYNC_INTERVAL$|PROGRESS_INTERVAL$|STUCK_MINUTES$)/.test(name)),
);
const companionEnv = {
  ...inherited,
  PORT: port,
  COMPANION_HOST: '127.0.0.1',
  COMPANION_FACILITATOR_TOKEN: facilitatorToken,
  COMPANION_SECURE_COOKIES: '0',
  COMPANION_SECRET_KEY: secretKey,
};

/** The running children, by name; each is stopped when the demo stops. */
const children = new Map();
let stopping = false;
let exitCode = 0;

function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

function finishWhenAllExited() {
  if ([...children.values()].every((child) => !alive(child))) process.exit(exitCode);
}

/** Stops every child: the companion first (it finishes its in-flight sync), then the simulator. */
function stopAll(signal, code) {
  if (stopping) {
    // A second Ctrl+C: do not wait any longer.
    for (const child of children.values()) if (alive(child)) child.kill('SIGKILL');
    return;
  }
  stopping = true;
  exitCode = code;
  const companion = children.get('companion');
  const simulator = children.get('simulator');
  if (companion && alive(companion)) {
    companion.kill(signal);
    companion.once('exit', () => simulator && alive(simulator) && simulator.kill('SIGTERM'));
  } else if (simulator && alive(simulator)) {
    simulator.kill('SIGTERM');
  }
  // Whatever has not stopped after a while is stopped for good.
  setTimeout(() => {
    for (const child of children.values()) if (alive(child)) child.kill('SIGKILL');
  }, 15_000).unref();
  finishWhenAllExited();
}

function track(name, child) {
  children.set(name, child);
  child.on('error', (error) => {
    console.error(`npm run demo: could not start the ${name}: ${error.message}`);
    stopAll('SIGTERM', 1);
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`npm run demo: the ${name} stopped (${signal ?? `exit code ${code}`}); stopping the demo.`);
      stopAll('SIGTERM', code || 1);
    }
    finishWhenAllExited();
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopAll(signal, 0));

/** Resolves once the companion answers /healthz, so every address printed works at once; false (and the demo stops) if it never does. */
async function companionListening(companion) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && alive(companion); ) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (alive(companion)) {
    console.error(`npm run demo: the companion did not answer on ${base} within 30 seconds; stopping the demo.`);
    stopAll('SIGTERM', 1);
  }
  return false;
}

function startCompanion(env) {
  const companion = spawn(process.execPath, [built], { cwd: root, stdio: 'inherit', env });
  track('companion', companion);
  return companion;
}

/**
 * Writes the demo's cohort in progress into `dir` (seed.json and
 * roster-of-record.json, times relative to now); returns the seed's path.
 */
function makeCohort(dir) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join('dev', 'github-simulator', 'demo-cohort.ts'), '--out', dir], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`could not make the demo cohort: ${(result.stderr || result.error?.message || '').trim()}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)).seed;
}

/** The demo seed's admin repository (the one holding roster.json), workshop repository (the one with the workflow) and token. */
function fromSeed(seedFile) {
  const seed = JSON.parse(readFileSync(seedFile, 'utf8'));
  const repos = seed.repos ?? [];
  const fullName = (repo) => `${repo.owner}/${repo.name}`;
  const admin = repos.find((repo) => repo.files && 'roster.json' in repo.files);
  const workshop = repos.find((repo) => (repo.workflows ?? []).some((w) => w.file === 'provision-learning-rooms.yml'));
  const token = (seed.tokens ?? []).find((t) => admin && (t.repositories === undefined || t.repositories === 'all' || t.repositories.includes(fullName(admin))));
  if (!admin || !workshop || !token?.token) throw new Error(`${path.relative(root, seedFile)} has no admin repository with roster.json, workshop repository with provision-learning-rooms.yml, or token for them`);
  return { adminRepo: fullName(admin), workshopRepo: fullName(workshop), token: token.token };
}

/** Starts the simulator on a free loopback port and resolves with the URL from its one JSON line. */
function startSimulator(seedFile) {
  const simulator = spawn(process.execPath, ['--import', 'tsx', path.join('dev', 'github-simulator', 'main.ts'), '--port', '0', '--seed', seedFile], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track('simulator', simulator);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: simulator.stdout });
    let announced = false;
    lines.on('line', (line) => {
      if (announced) {
        process.stdout.write(`${line}\n`);
        return;
      }
      announced = true;
      try {
        resolve(JSON.parse(line).url);
      } catch {
        reject(new Error(`the simulator said something unexpected: ${line}`));
      }
    });
    simulator.once('exit', () => announced || reject(new Error('the simulator stopped before it listened')));
    setTimeout(() => announced || reject(new Error('the simulator did not start within 30 seconds')), 30_000).unref();
  });
}

async function runLocal() {
  mkdirSync(demoDir, { recursive: true });
  const roster = path.join(demoDir, 'roster.json');
  copyFileSync(exampleRoster, roster);
  const companion = startCompanion({ ...companionEnv, COMPANION_ROSTER_PATH: roster });
  if (!(await companionListening(companion))) return;
  console.log(`
GLOW Companion demo, in local mode
  The roster is only a file here, not connected to GitHub: registrations stay in it.
  Roster file:          ${path.relative(root, roster)} (a copy of examples/roster.example.json)
  Registration page:    ${base}/register
  Facilitator sign-in:  ${base}/login
  Facilitator token:    ${facilitatorToken}
  Cohort dashboard:     ${base}/dashboard
  Redacted roster:      ${base}/roster.json
  Readiness:            ${base}/readyz
Secure cookies are off for this local HTTP demo. Press Ctrl+C to stop.
`);
}

/** How many learners the generated roster of record holds. */
function learnerCount(seedFile) {
  return JSON.parse(readFileSync(path.join(path.dirname(seedFile), 'roster-of-record.json'), 'utf8')).learners.length;
}

async function runGitHub() {
  // A fresh working copy and a fresh cohort each time: the simulator starts from its seed each time too.
  const workDir = path.join(demoDir, 'github');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const roster = path.join(workDir, 'roster.json');

  let seedFile;
  let adminRepo;
  let workshopRepo;
  let token;
  let simulatorUrl;
  try {
    seedFile = makeCohort(workDir);
    ({ adminRepo, workshopRepo, token } = fromSeed(seedFile));
    simulatorUrl = await startSimulator(seedFile);
  } catch (error) {
    console.error(`npm run demo: ${error.message}`);
    stopAll('SIGTERM', 1);
    return;
  }
  const companion = startCompanion({
    ...companionEnv,
    COMPANION_ROSTER_PATH: roster,
    COMPANION_GITHUB_REPO: adminRepo,
    // The simulator's own demo token (dev/github-simulator/seed.example.json); it opens nothing on GitHub.
    COMPANION_GITHUB_TOKEN: token,
    COMPANION_GITHUB_API_URL: simulatorUrl,
    COMPANION_PROVISIONING_REPO: workshopRepo,
    COMPANION_SYNC_INTERVAL: '10',
    // Progress is read every 30 seconds (300 by default), so a change made through the
    // simulator's control API shows on the dashboard soon; stuck after the default 20 minutes.
    COMPANION_PROGRESS_INTERVAL: '30',
    COMPANION_STUCK_MINUTES: '20',
  });
  if (!(await companionListening(companion))) return;
  const control = `${simulatorUrl}/_simulator`;
  console.log(`
GLOW Companion demo, in GitHub mode against a local GitHub simulator
  No real GitHub is contacted: the GitHub API is simulated at ${simulatorUrl}
  (dev/github-simulator, seeded with a cohort in progress made just now by
  dev/github-simulator/demo-cohort.ts, and the simulator's demo token from
  seed.example.json, which is not printed).
  Admin repository:     ${adminRepo} (roster of record: roster.json)
  Roster of record:     ${path.relative(root, path.join(workDir, 'roster-of-record.json'))} (generated for this demo, richer than
                        examples/roster.example.json: ${learnerCount(seedFile)} learners in three cohorts, two pages)
  Simulator seed:       ${path.relative(root, seedFile)}
  Provisioning:         ${workshopRepo}, workflow provision-learning-rooms.yml
  Working copy:         ${path.relative(root, roster)} (its outbox beside it)

  Registration page:    ${base}/register
  Facilitator sign-in:  ${base}/login
  Facilitator token:    ${facilitatorToken}
  Cohort dashboard:     ${base}/dashboard (see its "Roster of record" section)
  Redacted roster:      ${base}/roster.json
  Readiness:            ${base}/readyz

  The dashboard shows a cohort in progress, derived from GitHub (read every 30 seconds):
  every status from "Awaiting acknowledgement" to "Day 2 released", and in
  "Needs attention" a failed provisioning, a registration pending too long,
  needs information, a stuck learner, a pull request waiting for review, and
  (in the Pilot cohort, opened 30 hours ago) no activity for a day.
  docs/github.md, "The demo's cohort", says who shows what.

  Register someone, then, within a few seconds, see it in the roster of record,
  its commit, and the provisioning workflow started, from the simulator's control API:
    curl -s '${control}/files?repo=${adminRepo}&path=roster.json'
    curl -s '${control}/commits?repo=${adminRepo}'
    curl -s '${control}/dispatches?repo=${workshopRepo}'
Secure cookies are off for this local HTTP demo. Press Ctrl+C to stop both processes.
`);
}

if (mode === 'local') await runLocal();
else await runGitHub();
