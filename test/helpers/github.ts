/**
 * GitHub mode in tests: the project's GitHub simulator on loopback, seeded
 * with an admin repository holding a roster, and the companion's real client,
 * store and sync pointed at it over real HTTP.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createGitHubSimulator, type GitHubSimulator, type Permissions } from '../../dev/github-simulator/index.js';
import type { AppDeps } from '../../src/app.js';
import { loadConfig, type Config, type GitHubConfig } from '../../src/config.js';
import { connectGitHub, createGitHubApi, type GitHubApi } from '../../src/github/client.js';
import { RosterSync, type SyncOptions } from '../../src/github/sync.js';
import { parseRoster, serializeRoster, type Roster } from '../../src/roster/contract.js';
import { RosterStore } from '../../src/roster/store.js';
import { tempDir } from './app.js';
import { provisionedLearner } from './fixtures.js';

export const ADMIN = { owner: 'Community-Access', name: 'glow-admin' } as const;
export const ADMIN_REPO = `${ADMIN.owner}/${ADMIN.name}`;
export const WORKSHOP = { owner: 'Community-Access', name: 'git-going-with-github' } as const;
export const WORKFLOW = 'provision-learning-rooms.yml';

export const EXAMPLE_ROSTER: Roster = {
  version: 1,
  generated_at: '2026-01-15T09:00:00.000Z',
  cohorts: [{ cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z' }],
  learners: [provisionedLearner({ enrollment_repo: null, enrollment_issue_number: null })],
};

export function rosterText(roster: Roster = EXAMPLE_ROSTER): string {
  return serializeRoster(roster, new Date('2026-01-15T09:00:00.000Z'));
}

/** A silent logger that keeps every line, to look for tokens and outcomes. */
export function recordingLog() {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') }, text: () => lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.obj)}`).join('\n') };
}

export interface SimulatedAdmin {
  sim: GitHubSimulator;
  url: string;
  token: string;
  /** The roster of record, as the simulator holds it now. */
  record(): Roster;
  recordText(): string;
  close(): Promise<void>;
}

/** Starts the simulator with the admin repository (and the workshop repository with its workflow). */
export async function startAdmin(options: { roster?: string; permissions?: Permissions; latencyMs?: number } = {}): Promise<SimulatedAdmin> {
  const sim = createGitHubSimulator({ latencyMs: options.latencyMs ?? 0 });
  const url = await sim.start();
  try {
    seed(sim, options);
  } catch (error) {
    await sim.stop();
    throw error;
  }
  const token = sim.addToken({ login: 'glow-companion-bot', permissions: options.permissions ?? { contents: 'write', actions: 'write', metadata: 'read' } });
  const recordText = () => sim.state.readFile(ADMIN_REPO, 'roster.json')!.content.toString('utf8');
  return { sim, url, token, recordText, record: () => parseRoster(recordText()), close: () => sim.stop() };
}

function seed(sim: GitHubSimulator, options: { roster?: string }): void {
  sim.seedAdminRepo({ ...ADMIN, rosterText: options.roster ?? rosterText() });
  sim.state.createRepo({ owner: WORKSHOP.owner, name: WORKSHOP.name, private: false });
  sim.state.commitFile(`${WORKSHOP.owner}/${WORKSHOP.name}`, `.github/workflows/${WORKFLOW}`, 'on:\n  workflow_dispatch:\n', { branch: 'main', message: 'workflow' });
  sim.state.addWorkflow(`${WORKSHOP.owner}/${WORKSHOP.name}`, { file: WORKFLOW, inputs: { dry_run: { required: false, type: 'boolean' } }, lifecycle: { queuedMs: 5, runMs: 5 } });
}

/** Settings that make the companion wait for, and start, the workshop repository's provisioning workflow. */
export const WITH_PROVISIONING = { COMPANION_PROVISIONING_REPO: `${WORKSHOP.owner}/${WORKSHOP.name}` } as const;

/** The environment of a companion in GitHub mode against the simulator. */
export function githubEnv(admin: SimulatedAdmin, extra: Record<string, string> = {}): Record<string, string> {
  return {
    COMPANION_GITHUB_REPO: ADMIN_REPO,
    COMPANION_GITHUB_TOKEN: admin.token,
    COMPANION_GITHUB_API_URL: admin.url,
    ...extra,
  };
}

export interface SyncedCompanion {
  config: Config;
  github: GitHubConfig;
  store: RosterStore;
  api: GitHubApi;
  sync: RosterSync;
  rosterPath: string;
  log: ReturnType<typeof recordingLog>;
  local(): Promise<Roster>;
  close(): Promise<void>;
}

/** A companion's store and sync (no HTTP), in GitHub mode against the simulator, with its own working copy. */
export async function syncedCompanion(admin: SimulatedAdmin, env: Record<string, string> = {}, options: SyncOptions = {}, now?: () => Date): Promise<SyncedCompanion> {
  const { dir, cleanup } = await tempDir('glow-github-');
  const rosterPath = path.join(dir, 'roster.json');
  let config: Config;
  try {
    config = loadConfig({ COMPANION_ROSTER_PATH: rosterPath, ...githubEnv(admin, env) });
  } catch (error) {
    await cleanup();
    throw error;
  }
  const github = config.github!;
  const log = recordingLog();
  let sync: RosterSync | null = null;
  const store = new RosterStore({ path: rosterPath, outbox: true, log: log.log, onRecorded: () => sync?.nudge(), ...(now ? { now } : {}) });
  const api = createGitHubApi(connectGitHub(github, log.log, { retryBaseMs: 20 }));
  sync = new RosterSync(github, api, store, log.log, { gatherMs: 20, conflictBackoffMs: 10, provisioningPollMs: 50, dispatchWindowMs: 200, ...options });
  const s = sync;
  return {
    config,
    github,
    store,
    api,
    sync: s,
    rosterPath,
    log,
    local: async () => parseRoster(await readFile(rosterPath, 'utf8')),
    close: async () => {
      await s.stop();
      await store.close();
      await cleanup();
    },
  };
}

/** GitHub mode's client and sync with short waits, for tests (the controls are the same). */
export const FAST_GITHUB: AppDeps['github'] = { client: { retryBaseMs: 10 }, sync: { gatherMs: 10, conflictBackoffMs: 10, retryBaseMs: 50 } };

/** A fine-grained token's permissions for the sync and derived progress. */
export const PROGRESS_PERMISSIONS = { contents: 'write', issues: 'read', pull_requests: 'read', actions: 'write', metadata: 'read' } as const;

/** A token that may also do every facilitator operation: labels (Issues write), invitations (Administration write), provisioning (Actions write). */
export const OPERATIONS_PERMISSIONS = { ...PROGRESS_PERMISSIONS, issues: 'write', administration: 'write' } as const;

export const ENROLLMENT_REPO = 'Community-Access/git-going-with-github';
export const ROOM = 'Community-Access/learning-room-spring-2026-ada-lovelace';

const minutesBefore = (now: number, m: number) => new Date(now - m * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A cohort that opened an hour before `now`: Ada acknowledged in her own
 * words (a facilitator's instruction quoted in her reply) and has been on
 * Challenge 2 for 40 minutes; Grace's provisioning failed.
 */
export function COHORT_IN_PROGRESS(now: number): Roster {
  return {
    ...EXAMPLE_ROSTER,
    cohorts: [{ cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: minutesBefore(now, 60) }],
    learners: [
      { ...EXAMPLE_ROSTER.learners[0]!, learning_room_repo: ROOM, enrollment_repo: ENROLLMENT_REPO, enrollment_issue_number: 1, status: 'awaiting-ack' },
      { ...EXAMPLE_ROSTER.learners[0]!, github_handle: 'grace-hopper', learning_room_repo: null, provision_state: 'failed', enrollment_repo: null, enrollment_issue_number: null },
    ],
  };
}

/** The GitHub side of COHORT_IN_PROGRESS: the enrollment issue, the Learning Room and the provisioning log. */
export function seedCohortInProgress(admin: SimulatedAdmin, now: number): void {
  const { state } = admin.sim;
  const at = (m: number) => minutesBefore(now, m);
  state.createRepo({ owner: 'Community-Access', name: 'git-going-with-github', private: false });
  state.addIssue(ENROLLMENT_REPO, { title: 'Enroll: ada-lovelace', user: 'ada-lovelace' });
  state.addComment(ENROLLMENT_REPO, 1, { user: 'facilitator-sam', body: 'Reply ack to confirm.', createdAt: at(58) });
  state.addComment(ENROLLMENT_REPO, 1, { user: 'ada-lovelace', body: 'ack\n\n> Reply ack to confirm.', createdAt: at(55) });
  state.createRepo({ owner: 'Community-Access', name: 'learning-room-spring-2026-ada-lovelace', private: true });
  state.addIssue(ROOM, { title: 'Challenge 1', state: 'closed', user: 'glow-bot', createdAt: at(50), updatedAt: at(45), closedAt: at(45) });
  state.addIssue(ROOM, { title: 'Challenge 2', state: 'open', user: 'glow-bot', createdAt: at(45), updatedAt: at(40) });
  state.commitFile(
    ADMIN_REPO,
    'provisioning-log.json',
    JSON.stringify([{ github_handle: 'grace-hopper', cohort_id: 'spring-2026', attempt_at: at(30), result: 'error', repo: null, template_sha: null, error_detail: 'the template repository could not be read' }]),
    { message: 'provisioning log' },
  );
}
