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
import { DEMO_LEARNERS, DEMO_PROVISIONING_ERROR } from '../dev/github-simulator/demo-cohort.js';
import { tempDir } from './helpers/app.js';
import { HttpClient } from './helpers/http.js';
import { freePort } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ADMIN_REPO = 'Community-Access/glow-admin';
/** The simulator's own token in dev/github-simulator/seed.example.json. */
const DEMO_GITHUB_TOKEN = 'github_pat_simulated_glow_companion_demo';
/** Long enough for the demo to build dist/ first when it is older than src/ (npm test builds beforehand). */
const START_MS = 120_000;
/** How long the dashboard may take to show the demo cohort's derived progress. */
const PROGRESS_MS = 20_000;

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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The part of a page from its level 2 heading `heading` to the next level 2 heading. */
function section(page: string, heading: string): string {
  const start = page.indexOf(`<h2>${heading}</h2>`);
  assert.ok(start >= 0, `the page has a "${heading}" heading`);
  const end = page.indexOf('<h2>', start + 4);
  return page.slice(start, end === -1 ? undefined : end);
}

/** The learners table's row for one learner (after the check box that selects it for an operation, in GitHub mode). */
function row(page: string, handle: string): string {
  const match = new RegExp(`<tr>\\s*(?:<td><input [^>]*><label [^>]*>[^<]*</label></td>\\s*)?<th scope="row"><a href="/learners/[^"]+">${escapeRegExp(handle)}</a></th>[\\s\\S]*?</tr>`).exec(page);
  assert.ok(match, `the table has a row for ${handle}`);
  return match[0];
}

describe('npm run demo', () => {
  test('runs GitHub mode against the simulator with a cohort in progress: every derived state on the dashboard, a registration reaches the roster of record, and Ctrl+C stops both processes', { timeout: START_MS + 60_000 }, async (t) => {
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
    const dashboard = await until('the dashboard shows progress read from GitHub and the new registration', async () => {
      const page = await (await facilitator.get('/dashboard')).text();
      return /Progress as read from GitHub at/.test(page) && /katherine-johnson/.test(page) && page;
    }, PROGRESS_MS, demo.output);
    assert.match(dashboard, /<h2>Roster of record<\/h2>/);
    assert.match(dashboard, new RegExp(ADMIN_REPO));

    // The demo's cohort in progress: each reason for attention, in words, with the learner.
    const L = DEMO_LEARNERS;
    const attention = section(dashboard, 'Needs attention');
    assert.match(attention, new RegExp(`${L.stuck}</a> \\(spring-2026\\): Stuck on Challenge 4 for \\d+ minutes`));
    assert.match(attention, new RegExp(`${L.needsReview}</a> \\(spring-2026\\): Pull request #100 has waited (an hour|\\d+ hours) for review`));
    assert.match(attention, new RegExp(`${L.provisioningFailed}</a> \\(spring-2026\\): Provisioning failed on .+? UTC: ${escapeRegExp(DEMO_PROVISIONING_ERROR)}`));
    assert.match(attention, new RegExp(`${L.pendingTooLong}</a> \\(spring-2026\\): Pending for 2 hours: no Learning Room yet`));
    assert.match(attention, new RegExp(`${L.needsInfo}</a> \\(spring-2026\\): Needs information`));
    assert.match(attention, new RegExp(`${L.noActivity}</a> \\(pilot-2026\\): No activity for a day while the cohort is running`));
    assert.doesNotMatch(attention, new RegExp(`>(${L.activeDayOne}|${L.awaitingAck}|${L.emailedAck})</a> \\(`), 'learners moving along need no attention');
    // Every derived status has at least one learner.
    const byStatus = section(dashboard, 'Summary');
    for (const label of ['Awaiting acknowledgement', 'Active on day 1', 'Day 1 complete', 'Day 2 released', 'Needs information']) {
      assert.match(byStatus, new RegExp(`<dt>${label}</dt>\\s*<dd>[1-9]\\d*</dd>`), label);
    }

    // The roster of record says "awaiting-ack" for everyone (nothing in the workshop writes it);
    // the dashboard derives "Active on day 1" from the learner's own "ack" and closed challenges.
    const recorded = (name: string) => (JSON.parse(record).learners as Array<{ github_handle: string; status: string }>).find((l) => l.github_handle === name);
    assert.equal(recorded(L.activeDayOne)?.status, 'awaiting-ack');
    const ada = row(await (await facilitator.get(`/dashboard?q=${L.activeDayOne}`)).text(), L.activeDayOne);
    assert.match(ada, /Active on day 1/);
    assert.match(ada, new RegExp(`${L.activeDayOne}&#39;s comment saying &quot;ack&quot;`));
    // A facilitator's "reply ack" is not the learner's acknowledgement.
    const grace = row(await (await facilitator.get(`/dashboard?q=${L.awaitingAck}`)).text(), L.awaitingAck);
    assert.match(grace, /<td>Awaiting acknowledgement<\/td>/, grace);
    // An e-mailed reply with the facilitator's message quoted below it still counts.
    const alan = row(await (await facilitator.get(`/dashboard?q=${L.emailedAck}`)).text(), L.emailedAck);
    assert.match(alan, new RegExp(`Active on day 1<span class="status-detail">${L.emailedAck}&#39;s comment saying &quot;ack&quot;`));
    // The learner with no enrollment issue is read from the Learning Room alone.
    const joan = row(await (await facilitator.get(`/dashboard?q=${L.noEnrollmentIssue}`)).text(), L.noEnrollmentIssue);
    assert.match(joan, /Active on day 1<span class="status-detail">Challenge 1 closed/);
    assert.match(joan, /<td>None<\/td>\s*<\/tr>$/, "no enrollment issue");
    // Progress is never written back into the roster of record.
    const after = (await (await fetch(`${simulator}/_simulator/files?repo=${ADMIN_REPO}&path=roster.json`)).json()) as { text: string };
    assert.equal((JSON.parse(after.text).learners as Array<{ github_handle: string; status: string }>).find((l) => l.github_handle === L.activeDayOne)?.status, 'awaiting-ack');

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
