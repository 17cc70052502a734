/**
 * The JSON seed format (README.md, "Seed format") and the helpers that fill
 * the simulator from it or from code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AuthRegistry, fingerprint, parsePermissions, type AppInput, type InstallationInput, type TokenInput } from './auth.js';
import type { RateLimitOptions } from './auth.js';
import {
  StateError,
  type CollaboratorPermission,
  type CommentInput,
  type IssueInput,
  type PullInput,
  type RunInput,
  type SimulatorState,
  type WorkflowInputSpec,
} from './state.js';

/** A file's content in a seed: plain text, `{ text }`, `{ base64 }`, or `{ fromFile }` (relative to the seed file). */
export type SeedContent = string | { text: string } | { base64: string } | { fromFile: string };

export interface SeedRepo {
  owner: string;
  name: string;
  private?: boolean;
  defaultBranch?: string;
  /** Extra branches, made from the default branch after its files are committed. */
  branches?: string[];
  files?: Record<string, SeedContent>;
  workflows?: WorkflowInputSpec[];
  runs?: Array<Omit<RunInput, 'workflow'> & { workflow: string }>;
  issues?: Array<IssueInput & { comments?: CommentInput[] }>;
  pulls?: Array<PullInput & { comments?: CommentInput[] }>;
  labels?: Array<{ name: string; color?: string; description?: string }>;
  collaborators?: Array<{ login: string; permission?: CollaboratorPermission }>;
}

export interface SeedFile {
  users?: string[];
  unknownUsers?: 'accept' | 'reject';
  tokens?: TokenInput[];
  app?: AppInput & { privateKeyFile?: string; publicKeyFile?: string };
  installations?: InstallationInput[];
  installationTokenLifetimeSeconds?: number;
  rateLimit?: Partial<RateLimitOptions>;
  /** Milliseconds added to every API answer. */
  latencyMs?: number;
  /** Size above which the contents API answers `encoding: "none"` (default 1 MiB). */
  largeFileBytes?: number;
  repos?: SeedRepo[];
}

export interface SeedResult {
  repos: string[];
  /** Tokens created by the seed: the value (the seed's author chose or receives it) and its fingerprint. */
  tokens: Array<{ token: string; fingerprint: string; login: string }>;
  app: { id: number; clientId: string } | null;
  installations: number[];
}

export interface AdminRepoInput {
  owner: string;
  name: string;
  rosterText: string;
  branch?: string;
  rosterPath?: string;
  private?: boolean;
  message?: string;
}

export interface SeedTarget {
  state: SimulatorState;
  auth: AuthRegistry;
  configure(options: { rateLimit?: Partial<RateLimitOptions>; latencyMs?: number; largeFileBytes?: number }): void;
}

export function contentOf(value: SeedContent, baseDir: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if ('text' in value) return Buffer.from(value.text, 'utf8');
  if ('base64' in value) return Buffer.from(value.base64, 'base64');
  return readFileSync(path.resolve(baseDir, value.fromFile));
}

/** An admin repository holding the roster of record, as the companion's GitHub mode expects. */
export function seedAdminRepo(state: SimulatorState, input: AdminRepoInput): { fullName: string; commitSha: string; blobSha: string } {
  const branch = input.branch ?? 'main';
  const repo = state.createRepo({ owner: input.owner, name: input.name, private: input.private ?? true, defaultBranch: branch });
  const result = state.commitTo(repo, input.rosterPath ?? 'roster.json', Buffer.from(input.rosterText, 'utf8'), {
    branch,
    message: input.message ?? 'Roster of record',
  });
  return { fullName: `${repo.owner}/${repo.name}`, commitSha: result.commitSha, blobSha: result.blobSha };
}

/** Applies a seed on top of what is there (reset first for a clean world). */
export function applySeed(target: SeedTarget, seed: SeedFile, baseDir: string = process.cwd()): SeedResult {
  const { state, auth } = target;
  const result: SeedResult = { repos: [], tokens: [], app: null, installations: [] };
  target.configure({ rateLimit: seed.rateLimit, latencyMs: seed.latencyMs, largeFileBytes: seed.largeFileBytes });
  if (seed.unknownUsers) state.unknownUsers = seed.unknownUsers;
  for (const user of seed.users ?? []) state.addUser(user);
  if (seed.installationTokenLifetimeSeconds !== undefined) auth.installationTokenLifetimeSeconds = seed.installationTokenLifetimeSeconds;

  for (const spec of seed.repos ?? []) {
    const repo = state.createRepo({ owner: spec.owner, name: spec.name, private: spec.private, defaultBranch: spec.defaultBranch });
    const fullName = `${repo.owner}/${repo.name}`;
    for (const [filePath, content] of Object.entries(spec.files ?? {})) {
      state.commitTo(repo, filePath.replace(/^\/+/, ''), contentOf(content, baseDir), { message: `Add ${filePath}` });
    }
    for (const branch of spec.branches ?? []) {
      if (!repo.branches.has(branch)) state.createBranch(fullName, branch);
    }
    for (const label of spec.labels ?? []) {
      const made = state.ensureLabel(repo, label.name);
      if (label.color) made.color = label.color;
      if (label.description) made.description = label.description;
    }
    for (const workflow of spec.workflows ?? []) state.addWorkflow(fullName, workflow);
    for (const run of spec.runs ?? []) state.addRun(fullName, run);
    for (const issue of spec.issues ?? []) {
      const made = state.addIssue(fullName, issue);
      for (const comment of issue.comments ?? []) state.addComment(fullName, made.number, comment);
    }
    for (const pull of spec.pulls ?? []) {
      const made = state.addPull(fullName, pull);
      for (const comment of pull.comments ?? []) state.addComment(fullName, made.number, comment);
    }
    for (const c of spec.collaborators ?? []) state.addCollaborator(fullName, c.login, c.permission ?? 'push');
    result.repos.push(fullName);
  }

  if (seed.app) {
    const app = { ...seed.app };
    if (app.privateKeyFile) app.privateKeyPem = readFileSync(path.resolve(baseDir, app.privateKeyFile), 'utf8');
    if (app.publicKeyFile) app.publicKeyPem = readFileSync(path.resolve(baseDir, app.publicKeyFile), 'utf8');
    auth.configureApp(app);
  }
  for (const installation of seed.installations ?? []) {
    auth.addInstallation({ ...installation, permissions: installation.permissions ? parsePermissions(installation.permissions) : undefined });
    result.installations.push(installation.id);
  }
  if (auth.hasApp()) {
    const app = auth.getApp();
    result.app = { id: app.id, clientId: app.clientId };
  }
  for (const input of seed.tokens ?? []) {
    const record = auth.addToken({ ...input, permissions: input.permissions ? parsePermissions(input.permissions) : undefined });
    state.addUser(record.login);
    result.tokens.push({ token: record.token, fingerprint: fingerprint(record.token), login: record.login });
  }
  return result;
}

/** Reads a seed file; `fromFile` paths inside it are relative to its folder. */
export function readSeedFile(file: string): { seed: SeedFile; baseDir: string } {
  const text = readFileSync(file, 'utf8');
  let seed: unknown;
  try {
    seed = JSON.parse(text);
  } catch (error) {
    throw new StateError(`${file}: not JSON (${(error as Error).message})`);
  }
  if (seed === null || typeof seed !== 'object' || Array.isArray(seed)) throw new StateError(`${file}: a seed is a JSON object`);
  return { seed: seed as SeedFile, baseDir: path.dirname(path.resolve(file)) };
}
