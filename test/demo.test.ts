/**
 * `npm run demo` as a new operator runs it: GitHub mode against the simulator
 * by default (a registration through the real form reaches the roster of
 * record), local mode with --local, and Ctrl+C stopping every process it
 * started. The demo runs in its own process group, so whatever happens, the
 * group is killed at the end and nothing is left running.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { tempDir } from './helpers/app.js';
import { HttpClient } from './helpers/http.js';
import { freePort } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ADMIN_REPO = 'Community-Access/glow-admin';
/** The simulator's own token in dev/github-simulator/seed.example.json. */
const DEMO_GITHUB_TOKEN = 'github_pat_simulated_glow_companion_demo';
/** Long enough for the demo to build dist/ first when it is older than src/ (npm test builds beforehand). */
const START_MS = 120_000;

interface Demo {
  child: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Whether any process is left in the demo's process group. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, ms: number, output: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; the demo said:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `node scripts/demo.mjs` in a new process group, killed (group and all) when the test ends. */
async function startDemo(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<Demo> {
  const port = await freePort();
  const { dir, cleanup } = await tempDir('glow-demo-');
  const child = spawn(process.execPath, ['scripts/demo.mjs', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...(process.env.HOME ? { HOME: process.env.HOME } : {}), PORT: String(port), DEMO_DIR: dir, ...env },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    await cleanup();
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const output = () => text;
  await until('the demo prints where to look', async () => child.exitCode === null && text.includes('Press Ctrl+C'), START_MS, output);
  return { child, base: `http://127.0.0.1:${port}`, output, exited };
}

/** Ctrl+C: SIGINT to the demo alone, which must stop the processes it started, then exit. */
async function interrupt(demo: Demo): Promise<void> {
  const pgid = demo.child.pid!;
  demo.child.kill('SIGINT');
  const timeout = AbortSignal.timeout(20_000);
  const { code } = await Promise.race([demo.exited, once(timeout, 'abort').then(() => assert.fail(`the demo did not exit after SIGINT:\n${demo.output()}`))]);
  assert.equal(code, 0, demo.output());
  await until('every process the demo started has exited', async () => !groupAlive(pgid), 5_000, demo.output);
  await assert.rejects(fetch(`${demo.base}/healthz`), 'the companion no longer listens');
}

async function readyz(base: string): Promise<{ status: number; body: { status: string; mode?: string } }> {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; mode?: string } };
}

describe('npm run demo', () => {
  test('runs GitHub mode against the simulator: a registration reaches the roster of record, and Ctrl+C stops both processes', { timeout: START_MS + 60_000 }, async (t) => {
    const demo = await startDemo(t, []);
    const text = demo.output();
    assert.match(text, /GitHub mode against a local GitHub simulator/);
    assert.match(text, /No real GitHub is contacted/);
    assert.match(text, new RegExp(`Admin repository: +${ADMIN_REPO}`));
    assert.match(text, /Roster of record/);
    const simulator = /simulated at (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    assert.ok(simulator, 'the simulator URL is printed');
    assert.match(text, new RegExp(`curl -s '${simulator.replace(/[.]/g, '\\.')}/_simulator/files\\?repo=${ADMIN_REPO}&path=roster\\.json'`));
    const facilitatorToken = /Facilitator token: +(\S+)/.exec(text)?.[1];
    assert.ok(facilitatorToken && facilitatorToken.length >= 24, 'a facilitator token of at least 24 characters is printed');

    const ready = await until('/readyz says ready', async () => {
      const answer = await readyz(demo.base);
      return answer.status === 200 && answer;
    }, 15_000, demo.output);
    assert.deepEqual(ready.body, { status: 'ready', mode: 'github' });

    const learner = client();
    const csrf_token = await learner.csrf('/register');
    const registered = await learner.post('/register', { csrf_token, github_handle: 'katherine-johnson', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(registered.status, 303, await registered.text());

    const record = await until('the registration is in the roster of record', async () => {
      const response = await fetch(`${simulator}/_simulator/files?repo=${ADMIN_REPO}&path=roster.json`);
      const file = (await response.json()) as { text: string };
      return file.text.includes('"katherine-johnson"') && file.text;
    }, 10_000, demo.output);
    assert.equal(JSON.parse(record).learners.filter((l: { github_handle: string }) => l.github_handle === 'katherine-johnson').length, 1);
    const commits = (await (await fetch(`${simulator}/_simulator/commits?repo=${ADMIN_REPO}`)).json()) as Array<{ message: string }>;
    assert.equal(commits[0]?.message, 'Companion: 1 registration');

    const facilitator = client();
    const loginToken = await facilitator.csrf('/login');
    assert.equal((await facilitator.post('/login', { csrf_token: loginToken, token: facilitatorToken })).status, 303);
    const dashboard = await (await facilitator.get('/dashboard')).text();
    assert.match(dashboard, /<h2>Roster of record<\/h2>/);
    assert.match(dashboard, new RegExp(ADMIN_REPO));
    assert.match(dashboard, /katherine-johnson/);

    // The simulator's token is harmless, but the demo never prints it; no other GitHub token exists here.
    assert.doesNotMatch(demo.output(), new RegExp(DEMO_GITHUB_TOKEN));
    assert.doesNotMatch(demo.output(), /\b(github_pat_|gh[pousr]_)[A-Za-z0-9_]+/);

    await interrupt(demo);
    await assert.rejects(fetch(`${simulator}/_simulator/health`), 'the simulator no longer listens');

    function client(): HttpClient {
      return new HttpClient(demo.base);
    }
  });

  test('--local runs local mode, not connected to GitHub', { timeout: START_MS + 30_000 }, async (t) => {
    // A GitHub setting left in the shell does not leak into the local demo.
    const demo = await startDemo(t, ['--local'], { COMPANION_GITHUB_REPO: 'someone/elsewhere' });
    assert.match(demo.output(), /local mode/);
    assert.doesNotMatch(demo.output(), /simulator/i);
    const ready = await until('/readyz says ready', async () => {
      const answer = await readyz(demo.base);
      return answer.status === 200 && answer;
    }, 15_000, demo.output);
    assert.deepEqual(ready.body, { status: 'ready', mode: 'local' });
    await interrupt(demo);
  });

  test('refuses an unknown option or DEMO_MODE, before building or starting anything', async (t) => {
    for (const [args, env, said] of [
      [['--remote'], {}, /unknown option --remote/],
      [[], { DEMO_MODE: 'remote' }, /DEMO_MODE must be github or local/],
    ] as const) {
      const refused = spawn(process.execPath, ['scripts/demo.mjs', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      t.after(() => refused.kill('SIGKILL'));
      let text = '';
      refused.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const [code] = (await once(refused, 'exit')) as [number | null];
      assert.equal(code, 2);
      assert.match(text, said);
    }
  });
});
