/**
 * The browser suite's environment: Debian's Chromium (never a downloaded
 * browser), the real built server (`node dist/server.js`) in a child process
 * configured only through its environment, and roster files to put it in
 * each state.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, startServer as startCompanion, type RunningServer } from '../../helpers/server.js';
import { COHORT_IN_PROGRESS, OPERATIONS_PERMISSIONS, WITH_PROVISIONING, githubEnv, rosterText, seedCohortInProgress, startAdmin, type SimulatedAdmin } from '../../helpers/github.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const TOKEN = 'browser-suite-facilitator-token-0123456789';
export const HELP_URL = 'https://github.com/example/glow/issues/new';
export const SCREENSHOT_ROOT = path.join(ROOT, 'test-results', 'screenshots');

/**
 * Launches Debian's Chromium. A missing browser is always a failure, never a
 * skip: in CI it means the install step is broken; locally it says how to
 * install it.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    const how = 'Install it with: sudo apt-get install -y chromium';
    throw new Error(
      process.env.CI
        ? `CI: the browser accessibility suite needs Chromium at ${CHROMIUM_PATH}, and it is missing. The CI script must install it (apt-get install -y chromium).`
        : `The browser accessibility suite needs Debian's Chromium at ${CHROMIUM_PATH}, and it is missing. ${how}`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface Server {
  base: string;
  rosterPath: string;
  /** Everything the server wrote to stdout and stderr, for failure messages. */
  output: () => string;
  /** Stops the server (SIGTERM, then SIGKILL), awaits its exit and removes its roster folder. */
  stop: () => Promise<void>;
}

/**
 * Starts the built server (`node dist/server.js`, so the PID is the server's)
 * with its own temporary roster and waits for /healthz.
 */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'glow-browser-'));
  const rosterPath = path.join(dir, 'roster.json');
  const removeDir = () => rm(dir, { recursive: true, force: true });
  let server: RunningServer;
  try {
    server = await startCompanion({
      entry: 'dist',
      env: {
        COMPANION_ROSTER_PATH: rosterPath,
        COMPANION_FACILITATOR_TOKEN: TOKEN,
        COMPANION_SECURE_COOKIES: '0',
        COMPANION_SECRET_KEY: 'browser-suite-secret-key-0123456789-abcdefghij',
        COMPANION_RATE_LIMIT_MAX: '1000',
        COMPANION_RATE_LIMIT_WINDOW: '300',
        COMPANION_LOG_LEVEL: 'warn',
        COMPANION_HELP_URL: HELP_URL,
        ...env,
      },
    });
  } catch (error) {
    await removeDir();
    throw error;
  }
  return {
    base: server.base,
    rosterPath,
    output: server.output,
    stop: async () => {
      await server.stop();
      await removeDir();
    },
  };
}

/** A server in GitHub mode, with the GitHub simulator it talks to. */
export interface GitHubServer extends Server {
  admin: SimulatedAdmin;
}

/**
 * Starts the GitHub simulator (in this process, on loopback) seeded with a
 * cohort in progress, and the built server in GitHub mode against it, reading
 * the roster of record and progress every second. Its token may do every
 * facilitator operation, and the provisioning workflow is configured.
 */
export async function startGitHubServer(): Promise<GitHubServer> {
  const now = Date.now();
  const admin = await startAdmin({ roster: rosterText(COHORT_IN_PROGRESS(now)), permissions: OPERATIONS_PERMISSIONS });
  let server: Server;
  try {
    seedCohortInProgress(admin, now);
    server = await startServer({ ...githubEnv(admin), ...WITH_PROVISIONING, COMPANION_SYNC_INTERVAL: '1', COMPANION_PROGRESS_INTERVAL: '1' });
  } catch (error) {
    await admin.close();
    throw error;
  }
  return {
    ...server,
    admin,
    stop: async () => {
      await server.stop();
      await admin.close();
    },
  };
}

// ---------------------------------------------------------------------------
// Rosters

export interface RosterFile {
  version: number;
  generated_at?: string;
  cohorts: Array<Record<string, unknown>>;
  learners: Array<Record<string, unknown>>;
}

export const EMPTY_ROSTER: RosterFile = { version: 1, generated_at: '2026-01-15T09:00:00.000Z', cohorts: [], learners: [] };

/** Not a roster this version understands: the site answers 503. */
export const UNREADABLE_ROSTER = '{"version": 2}\n';

export async function exampleRoster(): Promise<RosterFile> {
  return JSON.parse(await readFile(path.join(ROOT, 'examples', 'roster.example.json'), 'utf8')) as RosterFile;
}

/** A roster of `count` learners across the example's cohorts, every state and status represented, some long names. */
export async function largeRoster(count = 200): Promise<RosterFile> {
  const example = await exampleRoster();
  const cohorts = example.cohorts.map((c) => String(c.cohort_id));
  const states = ['pending', 'provisioned', 'failed', 'healed'];
  const statuses = ['awaiting-ack', 'active-day1', 'day1-complete', 'day2-released', 'needs-info'];
  const learners: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i += 1) {
    const n = String(i + 1).padStart(3, '0');
    // Every 17th learner has a username of the longest length GitHub allows.
    const handle = i % 17 === 0 ? `learner-${n}-with-a-very-long-username`.slice(0, 39) : `learner-${n}`;
    const cohort = cohorts[i % cohorts.length]!;
    const state = states[i % states.length]!;
    const provisioned = state === 'provisioned' || state === 'healed';
    learners.push({
      github_handle: handle,
      cohort_id: cohort,
      path: i % 3 === 0 ? 'day2-only' : 'day1-day2',
      learning_room_repo: provisioned ? `Community-Access/learning-room-${cohort}-${handle}` : null,
      provision_state: state,
      status: statuses[i % statuses.length],
      registered_at: new Date(Date.UTC(2026, 0, 1, 9, i % 60) + i * 3_600_000).toISOString(),
      last_signal_at: i % 4 === 0 ? null : new Date(Date.UTC(2026, 2, 2, 15, i % 60)).toISOString(),
      notes: i % 5 === 0 ? 'Private facilitator note: never shown.' : '',
    });
  }
  return { ...example, learners };
}

/** Replaces the roster file atomically (a new file renamed over the old), so the server never reads half of it. */
export async function writeRoster(rosterPath: string, roster: RosterFile | string): Promise<void> {
  const text = typeof roster === 'string' ? roster : `${JSON.stringify(roster, null, 2)}\n`;
  const temp = `${rosterPath}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, text);
  await rename(temp, rosterPath);
}

export async function readRoster(rosterPath: string): Promise<RosterFile> {
  return JSON.parse(await readFile(rosterPath, 'utf8')) as RosterFile;
}

/** A fresh folder for one test file's screenshots. */
export async function screenshotDir(name: string): Promise<string> {
  const dir = path.join(SCREENSHOT_ROOT, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}
