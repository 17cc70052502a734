/**
 * The control API under /_simulator/, so tests in other processes and the
 * demo can seed, inspect and break the simulator. Not GitHub: JSON in, JSON
 * out, errors as 400 `{ "error": "..." }`, no auth (it listens on loopback).
 */
import { AuthRegistry, fingerprint, parsePermissions, type RateLimitOptions } from './auth.js';
import { faultFromJson, patternFromJson } from './faults.js';
import { parseJson, type ApiResponse } from './http.js';
import type { GitHubSimulator } from './server.js';
import { applySeed, contentOf, type SeedContent, type SeedFile } from './seed.js';
import { isoSeconds, type Commit, type Issue, type RunConclusion, type RunStatus } from './state.js';

export interface ControlRequest {
  sim: GitHubSimulator;
  configure(options: { rateLimit?: Partial<RateLimitOptions>; latencyMs?: number; largeFileBytes?: number }): void;
  method: string;
  url: URL;
  body: Buffer;
}

class ControlError extends Error {}

const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });

function str(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new ControlError(`${field} is required (a string)`);
  return value;
}

function optStr(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' ? value : undefined;
}

function describeCommit(commit: Commit): Record<string, unknown> {
  return { sha: commit.sha, parent: commit.parent, message: commit.message, author: commit.author, changed: commit.changed };
}

function describeIssue(issue: Issue): Record<string, unknown> {
  return { ...issue, pull: issue.pull };
}

/** The whole world as JSON (file contents as text when UTF-8, else base64; tokens by fingerprint only). */
export function snapshot(sim: GitHubSimulator): Record<string, unknown> {
  const repos = [...sim.state.repos.values()].map((repo) => {
    const branches: Record<string, unknown> = {};
    for (const [name, head] of repo.branches) {
      const commit = repo.commits.get(head);
      const files: Record<string, unknown> = {};
      for (const [path, sha] of commit?.tree ?? []) {
        const content = repo.blobs.get(sha) ?? Buffer.alloc(0);
        const text = content.toString('utf8');
        files[path] = Buffer.from(text, 'utf8').equals(content) ? { sha, size: content.byteLength, text } : { sha, size: content.byteLength, base64: content.toString('base64') };
      }
      branches[name] = { head, files };
    }
    return {
      fullName: `${repo.owner}/${repo.name}`,
      private: repo.private,
      defaultBranch: repo.defaultBranch,
      branches,
      commits: repo.commits.size,
      issues: [...repo.issues.values()].map(describeIssue),
      comments: repo.comments,
      labels: [...repo.labels.values()],
      workflows: [...repo.workflows.values()],
      runs: repo.runs,
      dispatches: repo.dispatches,
      collaborators: [...repo.collaborators.values()],
      invitations: repo.invitations,
    };
  });
  return {
    repos,
    users: [...sim.state.users.values()],
    tokens: [...sim.auth.tokens.values()].map((t) => AuthRegistry.describe(t)),
    installations: [...sim.auth.installations.values()].map((i) => ({ ...i, repositories: [...i.repositories] })),
    rateLimits: sim.rateLimiter.snapshot(),
    faults: sim.faults.list(),
    latencyMs: sim.faults.latencyMs,
  };
}

export async function handleControl(req: ControlRequest): Promise<ApiResponse> {
  try {
    return await dispatchControl(req);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: error instanceof ControlError || (error instanceof Error && error.name !== 'TypeError') ? 400 : 500, body: { error: message } };
  }
}

async function dispatchControl({ sim, configure, method, url, body: raw }: ControlRequest): Promise<ApiResponse> {
  const path = url.pathname.replace(/^\/_simulator\/?/, '').replace(/\/+$/, '');
  const q = url.searchParams;
  const body = method === 'GET' || method === 'DELETE' ? {} : parseJson(raw);
  const route = `${method} ${path}`;
  const { state } = sim;

  switch (route) {
    case 'GET ':
    case 'GET health':
      return ok({ ok: true, url: sim.url });
    case 'GET state':
      return ok(snapshot(sim));
    case 'POST seed':
      return ok(applySeed({ state, auth: sim.auth, configure }, body as SeedFile, process.cwd()));
    case 'POST reset': {
      sim.reset();
      const seeded = Object.keys(body).length > 0 ? applySeed({ state, auth: sim.auth, configure }, body as SeedFile, process.cwd()) : null;
      return ok({ reset: true, seeded });
    }
    case 'POST config':
      configure({
        rateLimit: body.rateLimit as Partial<RateLimitOptions> | undefined,
        latencyMs: typeof body.latencyMs === 'number' ? body.latencyMs : undefined,
        largeFileBytes: typeof body.largeFileBytes === 'number' ? body.largeFileBytes : undefined,
      });
      if (typeof body.installationTokenLifetimeSeconds === 'number') sim.auth.installationTokenLifetimeSeconds = body.installationTokenLifetimeSeconds;
      return ok({ rateLimit: sim.rateLimiter.options, latencyMs: sim.faults.latencyMs, installationTokenLifetimeSeconds: sim.auth.installationTokenLifetimeSeconds });
    case 'GET app': {
      const app = sim.app;
      return ok({
        id: app.id,
        clientId: app.clientId,
        slug: app.slug,
        privateKeyPem: app.privateKeyPem,
        publicKeyPem: app.publicKeyPem,
        installations: [...sim.auth.installations.values()].map((i) => ({ ...i, repositories: [...i.repositories] })),
      });
    }
    case 'POST installations': {
      const id = Number(body.id);
      if (!Number.isInteger(id) || id <= 0) throw new ControlError('id must be a positive integer');
      const installation = sim.auth.addInstallation({
        id,
        account: str(body, 'account'),
        permissions: body.permissions ? parsePermissions(body.permissions) : undefined,
        repositories: Array.isArray(body.repositories) ? (body.repositories as string[]) : 'all',
      });
      return ok({ ...installation, repositories: [...installation.repositories] }, 201);
    }
    case 'POST tokens': {
      const record = sim.auth.addToken({
        token: optStr(body, 'token'),
        login: optStr(body, 'login'),
        permissions: body.permissions ? parsePermissions(body.permissions) : undefined,
        repositories: Array.isArray(body.repositories) ? (body.repositories as string[]) : 'all',
        expiresIn: typeof body.expiresIn === 'number' ? body.expiresIn : undefined,
        expiresAt: optStr(body, 'expiresAt'),
        rateLimit: typeof body.rateLimit === 'number' ? body.rateLimit : undefined,
      });
      state.addUser(record.login);
      return ok({ token: record.token, fingerprint: fingerprint(record.token), login: record.login }, 201);
    }
    case 'GET files': {
      const file = state.readFile(str(Object.fromEntries(q), 'repo'), str(Object.fromEntries(q), 'path'), q.get('ref') ?? undefined);
      if (!file) return { status: 404, body: { error: 'no such file' } };
      return ok({ path: file.path, sha: file.sha, commitSha: file.commitSha, size: file.content.byteLength, text: file.content.toString('utf8'), base64: file.content.toString('base64') });
    }
    case 'GET commits': {
      const all = Object.fromEntries(q);
      return ok(state.history(str(all, 'repo'), q.get('branch') ?? undefined).map(describeCommit));
    }
    case 'POST commits': {
      const content = body.content === null ? null : contentOf((body.content ?? { text: body.text ?? '' }) as SeedContent, process.cwd());
      const result = state.commitFile(str(body, 'repo'), str(body, 'path'), content, {
        branch: optStr(body, 'branch'),
        message: optStr(body, 'message'),
        author: body.author as { name: string; email: string } | undefined,
      });
      return ok({ commitSha: result.commitSha, blobSha: result.blobSha }, 201);
    }
    case 'POST branches':
      state.createBranch(str(body, 'repo'), str(body, 'branch'), optStr(body, 'from'));
      return ok({ created: true }, 201);
    case 'POST issues': {
      const repo = str(body, 'repo');
      const issue = body.pull ? state.addPull(repo, body as never) : state.addIssue(repo, body as never);
      for (const comment of (body.comments as Array<{ user: string; body: string; createdAt?: string }> | undefined) ?? []) state.addComment(repo, issue.number, comment);
      return ok(describeIssue(issue), 201);
    }
    case 'POST pulls': {
      const issue = state.addPull(str(body, 'repo'), body as never);
      return ok(describeIssue(issue), 201);
    }
    case 'PATCH issues': {
      const issue = state.updateIssue(str(body, 'repo'), Number(body.number), body as never);
      return ok(describeIssue(issue));
    }
    case 'POST comments': {
      const comment = state.addComment(str(body, 'repo'), Number(body.number), { user: str(body, 'user'), body: str(body, 'body'), createdAt: optStr(body, 'createdAt') });
      return ok(comment, 201);
    }
    case 'POST workflows':
      return ok(state.addWorkflow(str(body, 'repo'), body as never), 201);
    case 'POST runs': {
      const run = state.addRun(str(body, 'repo'), {
        workflow: str(body, 'workflow'),
        status: optStr(body, 'status') as RunStatus | undefined,
        conclusion: optStr(body, 'conclusion') as RunConclusion | undefined,
        branch: optStr(body, 'branch'),
        event: optStr(body, 'event'),
        createdAt: optStr(body, 'createdAt'),
      });
      return ok(run, 201);
    }
    case 'GET dispatches': {
      const repo = state.repo(str(Object.fromEntries(q), 'repo'));
      const workflow = q.get('workflow');
      return ok(repo.dispatches.filter((d) => !workflow || d.workflow === workflow));
    }
    case 'POST invitations/accept':
      state.acceptInvitation(str(body, 'repo'), str(body, 'login'));
      return ok({ accepted: true });
    case 'POST collaborators':
      state.addCollaborator(str(body, 'repo'), str(body, 'login'), (optStr(body, 'permission') ?? 'push') as never);
      return ok({ added: true }, 201);
    case 'GET faults':
      return ok({ faults: sim.faults.list(), latencyMs: sim.faults.latencyMs });
    case 'DELETE faults':
      sim.faults.clear();
      return ok({ cleared: true });
    case 'POST faults':
      return ok(addFault(sim, body), 201);
    case 'GET requests': {
      const status = q.get('status');
      const after = q.get('after');
      return ok(
        sim.requests.list({
          method: q.get('method') ?? undefined,
          path: q.get('path') ? patternFromJson(q.get('path')!.startsWith('~') ? { regex: q.get('path')!.slice(1) } : q.get('path')) : undefined,
          status: status === null ? undefined : Number(status),
          identity: q.get('identity') ?? undefined,
          afterSeq: after === null ? undefined : Number(after),
        }),
      );
    }
    case 'DELETE requests':
      sim.requests.clear();
      return ok({ cleared: true });
    case 'GET ratelimits':
      return ok({ options: sim.rateLimiter.options, buckets: sim.rateLimiter.snapshot(), now: isoSeconds(state.now()) });
  }

  let m = /^DELETE faults\/(\d+)$/.exec(route);
  if (m) return sim.faults.remove(Number(m[1])) ? ok({ removed: true }) : { status: 404, body: { error: 'no such fault' } };
  m = /^POST runs\/(\d+)\/(start|complete)$/.exec(route);
  if (m) {
    const id = Number(m[1]);
    const run = m[2] === 'start' ? state.startRun(id) : state.completeRun(id, (optStr(body, 'conclusion') ?? 'success') as RunConclusion);
    return ok(run);
  }
  return { status: 404, body: { error: `no control route ${method} /_simulator/${path}` } };
}

/** Faults from JSON; besides the request faults, `rate-limit`, `latency` and `revoke-token`. */
function addFault(sim: GitHubSimulator, body: Record<string, unknown>): Record<string, unknown> {
  switch (body.kind) {
    case 'rate-limit':
      sim.faults.exhaustRateLimit({
        token: optStr(body, 'token'),
        identity: optStr(body, 'identity'),
        resetInSeconds: typeof body.resetInSeconds === 'number' ? body.resetInSeconds : undefined,
      });
      return { kind: 'rate-limit', exhausted: true };
    case 'latency':
      sim.faults.setLatency(Number(body.ms ?? 0));
      return { kind: 'latency', ms: sim.faults.latencyMs };
    case 'revoke-token':
      sim.faults.revokeToken(str(body, 'token'));
      return { kind: 'revoke-token', revoked: true };
    default:
      return { id: sim.faults.add(faultFromJson(body)) };
  }
}
