/**
 * The GitHub REST endpoints the companion uses (see ../../docs and
 * shared/spec/github.md), answering with GitHub's documented status codes,
 * bodies and headers. Each route says which fine-grained permission it needs;
 * README.md has the table with the documentation reference for each.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { decide, parsePermissions, type AuthRegistry, type Identity, type Need, type Permissions } from './auth.js';
import type { FaultController } from './faults.js';
import { ApiError, DOCS, decodeBase64, notFound, notSupplied, pageResponse, parseJson, wrappedBase64, type ApiResponse } from './http.js';
import {
  isoSeconds,
  normalisePath,
  type CollaboratorPermission,
  type Commit,
  type Issue,
  type IssueComment,
  type Label,
  type Repo,
  type SimulatorState,
  type WorkflowRun,
} from './state.js';

export interface RouteContext {
  method: string;
  url: URL;
  params: string[];
  body: Buffer;
  headers: IncomingHttpHeaders;
  identity: Identity;
  /** The simulator's own base URL, for the URLs inside bodies and Link headers. */
  origin: string;
  state: SimulatorState;
  auth: AuthRegistry;
  faults: FaultController;
  /** Files above this many bytes come back from the contents API with `encoding: "none"`. */
  largeFileBytes: number;
}

type Handler = (ctx: RouteContext) => ApiResponse | Promise<ApiResponse>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const D = {
  repo: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  getContent: 'https://docs.github.com/rest/repos/contents#get-repository-content',
  putContent: 'https://docs.github.com/rest/repos/contents#create-or-update-file-contents',
  blob: 'https://docs.github.com/rest/git/blobs#get-a-blob',
  runs: 'https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow',
  run: 'https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run',
  dispatch: 'https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event',
  issue: 'https://docs.github.com/rest/issues/issues#get-an-issue',
  issues: 'https://docs.github.com/rest/issues/issues#list-repository-issues',
  comments: 'https://docs.github.com/rest/issues/comments#list-issue-comments',
  pulls: 'https://docs.github.com/rest/pulls/pulls#list-pull-requests',
  pull: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
  addLabels: 'https://docs.github.com/rest/issues/labels#add-labels-to-an-issue',
  removeLabel: 'https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue',
  collaborator: 'https://docs.github.com/rest/collaborators/collaborators#add-a-repository-collaborator',
  accessToken: 'https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app',
} as const;

const MAX_CONTENTS_BYTES = 100 * 1024 * 1024;

const read = (name: Need['name']): Need => ({ name, level: 'read' });
const write = (name: Need['name']): Need => ({ name, level: 'write' });

// ---- object shapes ------------------------------------------------------

function userObject(ctx: RouteContext, login: string): Record<string, unknown> {
  const bot = login.endsWith('[bot]');
  return {
    login,
    id: stableId(login),
    node_id: Buffer.from(`04:User${stableId(login)}`).toString('base64'),
    avatar_url: `https://avatars.githubusercontent.com/u/${stableId(login)}?v=4`,
    url: `${ctx.origin}/users/${encodeURIComponent(login)}`,
    html_url: `https://github.com/${login}`,
    type: bot ? 'Bot' : 'User',
    site_admin: false,
  };
}

/** A stable small number for a login, so users keep their id across calls. */
function stableId(login: string): number {
  let h = 7;
  for (const ch of login.toLowerCase()) h = (h * 31 + ch.charCodeAt(0)) % 90_000_000;
  return 10_000 + h;
}

function repoBase(ctx: RouteContext, repo: Repo): string {
  return `${ctx.origin}/repos/${repo.owner}/${repo.name}`;
}

function repoObject(ctx: RouteContext, repo: Repo): Record<string, unknown> {
  const record = ctx.identity.record;
  const perms: Permissions = record?.permissions ?? {};
  const push = perms.contents === 'write';
  const admin = perms.administration === 'write';
  return {
    id: repo.id,
    node_id: Buffer.from(`010:Repository${repo.id}`).toString('base64'),
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    owner: userObject(ctx, repo.owner),
    html_url: `https://github.com/${repo.owner}/${repo.name}`,
    url: repoBase(ctx, repo),
    default_branch: repo.defaultBranch,
    created_at: repo.createdAt,
    archived: false,
    disabled: false,
    permissions: { admin, maintain: admin, push, triage: push || perms.issues === 'write', pull: true },
  };
}

function fileObject(ctx: RouteContext, repo: Repo, path: string, sha: string, size: number, ref: string): Record<string, unknown> {
  const base = repoBase(ctx, repo);
  const self = `${base}/contents/${path}?ref=${encodeURIComponent(ref)}`;
  const git = `${base}/git/blobs/${sha}`;
  const html = `https://github.com/${repo.owner}/${repo.name}/blob/${ref}/${path}`;
  return {
    name: path.split('/').pop() ?? path,
    path,
    sha,
    size,
    url: self,
    html_url: html,
    git_url: git,
    download_url: `https://raw.githubusercontent.com/${repo.owner}/${repo.name}/${ref}/${path}`,
    type: 'file',
    _links: { self, git, html },
  };
}

function commitObject(ctx: RouteContext, repo: Repo, commit: Commit): Record<string, unknown> {
  const base = repoBase(ctx, repo);
  return {
    sha: commit.sha,
    node_id: Buffer.from(`06:Commit${commit.sha}`).toString('base64'),
    url: `${base}/git/commits/${commit.sha}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${commit.sha}`,
    author: commit.author,
    committer: commit.committer,
    message: commit.message,
    tree: { sha: commit.treeSha, url: `${base}/git/trees/${commit.treeSha}` },
    parents: commit.parent
      ? [{ sha: commit.parent, url: `${base}/git/commits/${commit.parent}`, html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${commit.parent}` }]
      : [],
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}

function labelObject(ctx: RouteContext, repo: Repo, label: Label): Record<string, unknown> {
  return {
    id: label.id,
    node_id: Buffer.from(`05:Label${label.id}`).toString('base64'),
    url: `${repoBase(ctx, repo)}/labels/${encodeURIComponent(label.name)}`,
    name: label.name,
    color: label.color,
    description: label.description,
    default: label.default,
  };
}

function issueLabels(ctx: RouteContext, repo: Repo, issue: Issue): Record<string, unknown>[] {
  return issue.labels.map((name) => labelObject(ctx, repo, repo.labels.get(name.toLowerCase()) ?? { id: 0, name, color: 'ededed', description: null, default: false }));
}

/** How many comments each issue of the repository has, counted in one pass. */
function commentCounts(repo: Repo): Map<number, number> {
  const counts = new Map<number, number>();
  for (const c of repo.comments) counts.set(c.issueNumber, (counts.get(c.issueNumber) ?? 0) + 1);
  return counts;
}

function issueObject(ctx: RouteContext, repo: Repo, issue: Issue, counts = commentCounts(repo)): Record<string, unknown> {
  const base = repoBase(ctx, repo);
  const html = `https://github.com/${repo.owner}/${repo.name}/${issue.pull ? 'pull' : 'issues'}/${issue.number}`;
  const out: Record<string, unknown> = {
    id: issue.id,
    node_id: Buffer.from(`05:Issue${issue.id}`).toString('base64'),
    url: `${base}/issues/${issue.number}`,
    repository_url: base,
    labels_url: `${base}/issues/${issue.number}/labels{/name}`,
    comments_url: `${base}/issues/${issue.number}/comments`,
    html_url: html,
    number: issue.number,
    state: issue.state,
    state_reason: issue.stateReason,
    title: issue.title,
    body: issue.body,
    user: userObject(ctx, issue.user),
    labels: issueLabels(ctx, repo, issue),
    assignee: null,
    assignees: [],
    locked: false,
    comments: counts.get(issue.number) ?? 0,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt,
    author_association: issue.user.toLowerCase() === repo.owner.toLowerCase() ? 'OWNER' : 'NONE',
  };
  if (issue.pull) {
    out.draft = issue.pull.draft;
    out.pull_request = {
      url: `${base}/pulls/${issue.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: issue.pull.mergedAt,
    };
  }
  return out;
}

function pullObject(ctx: RouteContext, repo: Repo, issue: Issue): Record<string, unknown> {
  const pull = issue.pull!;
  const base = repoBase(ctx, repo);
  const headSha = ctx.state.resolveRef(repo, pull.headRef)?.sha ?? ctx.state.resolveRef(repo, undefined)?.sha ?? null;
  return {
    id: issue.id,
    node_id: Buffer.from(`011:PullRequest${issue.id}`).toString('base64'),
    url: `${base}/pulls/${issue.number}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${issue.number}`,
    issue_url: `${base}/issues/${issue.number}`,
    number: issue.number,
    state: issue.state,
    locked: false,
    title: issue.title,
    body: issue.body,
    user: userObject(ctx, issue.user),
    labels: issueLabels(ctx, repo, issue),
    draft: pull.draft,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt,
    merged_at: pull.mergedAt,
    head: { label: `${repo.owner}:${pull.headRef}`, ref: pull.headRef, sha: headSha, user: userObject(ctx, repo.owner) },
    base: { label: `${repo.owner}:${pull.baseRef}`, ref: pull.baseRef, sha: ctx.state.resolveRef(repo, pull.baseRef)?.sha ?? null, user: userObject(ctx, repo.owner) },
    author_association: issue.user.toLowerCase() === repo.owner.toLowerCase() ? 'OWNER' : 'NONE',
  };
}

function commentObject(ctx: RouteContext, repo: Repo, comment: IssueComment): Record<string, unknown> {
  const base = repoBase(ctx, repo);
  return {
    id: comment.id,
    node_id: Buffer.from(`012:IssueComment${comment.id}`).toString('base64'),
    url: `${base}/issues/comments/${comment.id}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/issues/${comment.issueNumber}#issuecomment-${comment.id}`,
    issue_url: `${base}/issues/${comment.issueNumber}`,
    body: comment.body,
    user: userObject(ctx, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    author_association: comment.user.toLowerCase() === repo.owner.toLowerCase() ? 'OWNER' : 'NONE',
  };
}

function runObject(ctx: RouteContext, repo: Repo, run: WorkflowRun): Record<string, unknown> {
  const workflow = [...repo.workflows.values()].find((w) => w.id === run.workflowId);
  const base = repoBase(ctx, repo);
  return {
    id: run.id,
    name: workflow?.name ?? null,
    node_id: Buffer.from(`015:WorkflowRun${run.id}`).toString('base64'),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: workflow ? `.github/workflows/${workflow.file}` : null,
    display_title: workflow?.name ?? '',
    run_number: run.runNumber,
    run_attempt: 1,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    workflow_id: run.workflowId,
    url: `${base}/actions/runs/${run.id}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/actions/runs/${run.id}`,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    run_started_at: run.startedAt,
    workflow_url: workflow ? `${base}/actions/workflows/${workflow.id}` : null,
    repository: { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, private: repo.private },
  };
}

// ---- guards ---------------------------------------------------------------

/** Finds the repository and checks the caller may do this to it. */
function guard(ctx: RouteContext, needs: Need[], docs: string): Repo {
  const [owner, name] = ctx.params as [string, string];
  const repo = ctx.state.getRepo(decodeURIComponent(owner), decodeURIComponent(name));
  if (!repo) throw notFound(docs);
  const decision = decide(ctx.identity, repo, needs);
  if (decision.ok) return repo;
  if (decision.status === 404) throw notFound(docs);
  if (decision.status === 401) throw new ApiError(401, decision.message, DOCS_AUTH);
  throw new ApiError(403, decision.message, docs, {}, { 'x-accepted-github-permissions': decision.accepted });
}

const DOCS_AUTH = 'https://docs.github.com/rest';

function issueNumber(raw: string | undefined, docs: string): number {
  if (!raw || !/^\d+$/.test(raw)) throw notFound(docs);
  return Number(raw);
}

function wantsRaw(ctx: RouteContext): boolean {
  return /application\/vnd\.github(?:\.v3)?\.raw/i.test(String(ctx.headers.accept ?? ''));
}

function sinceFilter(ctx: RouteContext): (iso: string) => boolean {
  const since = ctx.url.searchParams.get('since');
  if (!since) return () => true;
  const at = Date.parse(since);
  if (Number.isNaN(at)) throw new ApiError(422, 'Validation Failed', DOCS, { errors: [{ resource: 'Search', field: 'since', code: 'invalid' }] });
  return (iso) => Date.parse(iso) >= at;
}

// ---- handlers -------------------------------------------------------------

const getRepo: Handler = (ctx) => {
  const repo = guard(ctx, [read('metadata')], D.repo);
  return { status: 200, body: repoObject(ctx, repo) };
};

const getContent: Handler = (ctx) => {
  const repo = guard(ctx, [read('contents')], D.getContent);
  const path = normalisePath(decodeURIComponent(ctx.params[2] ?? ''));
  const refParam = ctx.url.searchParams.get('ref') ?? undefined;
  const ref = refParam === '' ? undefined : refParam;
  if (repo.branches.size === 0) throw new ApiError(404, 'This repository is empty.', D.getContent);
  const commit = ctx.state.resolveRef(repo, ref);
  if (!commit) throw new ApiError(404, `No commit found for the ref ${ref}`, D.getContent);
  const refName = ref ?? repo.defaultBranch;
  const sha = commit.tree.get(path);
  if (sha !== undefined) {
    const content = repo.blobs.get(sha) ?? Buffer.alloc(0);
    if (content.byteLength > MAX_CONTENTS_BYTES) {
      throw new ApiError(403, 'This API returns blobs up to 100 MB in size. The requested blob is too large to fetch via the API.', D.getContent, {
        errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }],
      });
    }
    if (wantsRaw(ctx)) return { status: 200, raw: content, contentType: 'application/vnd.github.raw; charset=utf-8' };
    const large = content.byteLength > ctx.largeFileBytes;
    return {
      status: 200,
      body: {
        type: 'file',
        encoding: large ? 'none' : 'base64',
        ...fileObject(ctx, repo, path, sha, content.byteLength, refName),
        content: large ? '' : wrappedBase64(content),
      },
    };
  }
  // A directory: the entries directly below it.
  const prefix = path === '' ? '' : `${path}/`;
  const entries = new Map<string, Record<string, unknown>>();
  for (const [filePath, blobSha] of commit.tree) {
    if (!filePath.startsWith(prefix)) continue;
    const rest = filePath.slice(prefix.length);
    const [first, ...deeper] = rest.split('/');
    if (!first) continue;
    if (deeper.length === 0) entries.set(first, fileObject(ctx, repo, filePath, blobSha, repo.blobs.get(blobSha)?.byteLength ?? 0, refName));
    else if (!entries.has(first)) {
      const dirPath = prefix + first;
      const self = `${repoBase(ctx, repo)}/contents/${dirPath}?ref=${encodeURIComponent(refName)}`;
      entries.set(first, { name: first, path: dirPath, sha: null, size: 0, url: self, type: 'dir', _links: { self } });
    }
  }
  if (entries.size === 0) throw notFound(D.getContent);
  return { status: 200, body: [...entries.values()].sort((a, b) => String(a.name).localeCompare(String(b.name))) };
};

/*
 * PUT contents, GitHub's answers (measured against github.com and reported in
 * public issue trackers; the docs list 200, 201, 404, 409 and 422 without
 * saying which case gets which):
 *   - the file does not exist on the branch: 201, a `sha` in the body is ignored;
 *   - it exists and `sha` is its current blob sha: 200;
 *   - it exists and `sha` is anything else (stale, unknown, malformed): 409
 *     "<path> does not match <sha>";
 *   - it exists and no `sha` is given: 422 'Invalid request.\n\n"sha" wasn't supplied.';
 *   - the branch does not exist: 404 "Branch <name> not found" (checked first);
 *   - `content` that is not base64: 422 "content is not valid Base64";
 *   - `message` or `content` missing: 422 '... "<field>" wasn't supplied.';
 *   - committer/author without name or email: 422 (documented).
 */
const putContent: Handler = (ctx) => {
  const path = normalisePath(decodeURIComponent(ctx.params[2] ?? ''));
  const needs = path.startsWith('.github/workflows/') ? [write('workflows')] : [write('contents')];
  const repo = guard(ctx, needs, D.putContent);
  const body = parseJson(ctx.body);
  if (typeof body.message !== 'string') throw notSupplied('message', D.putContent);
  if (typeof body.content !== 'string') throw notSupplied('content', D.putContent);
  for (const who of ['committer', 'author'] as const) {
    const person = body[who] as Record<string, unknown> | undefined;
    if (person !== undefined && (typeof person !== 'object' || person === null || typeof person.name !== 'string' || typeof person.email !== 'string')) {
      throw new ApiError(422, `Invalid request.\n\n"name" and "email" are required for ${who}.`, D.putContent);
    }
  }
  const content = decodeBase64(body.content);
  if (!content) throw new ApiError(422, 'content is not valid Base64', D.putContent);
  if (content.byteLength > MAX_CONTENTS_BYTES) throw new ApiError(422, 'File is too large (over 100 MB).', D.putContent);
  const branch = typeof body.branch === 'string' && body.branch !== '' ? body.branch : repo.defaultBranch;
  const emptyRepo = repo.branches.size === 0;
  if (!repo.branches.has(branch) && !(emptyRepo && branch === repo.defaultBranch)) {
    throw new ApiError(404, `Branch ${branch} not found`, D.putContent);
  }
  ctx.faults.runWriters('before-put', repo.owner, repo.name, path, branch);
  const current = ctx.state.fileAt(repo, path, emptyRepo ? undefined : branch);
  const given = typeof body.sha === 'string' ? body.sha : undefined;
  if (current) {
    if (given === undefined) throw notSupplied('sha', D.putContent);
    if (given !== current.sha) throw new ApiError(409, `${path} does not match ${given}`, D.putContent);
  }
  const person = (body.committer ?? body.author) as { name: string; email: string } | undefined;
  const result = ctx.state.commitTo(repo, path, content, {
    branch,
    message: body.message,
    author: person ? { name: person.name, email: person.email } : { name: ctx.identity.login ?? 'anonymous', email: `${ctx.identity.login ?? 'anonymous'}@users.noreply.github.com` },
  });
  return {
    status: current ? 200 : 201,
    body: {
      content: fileObject(ctx, repo, path, result.blobSha, content.byteLength, branch),
      commit: commitObject(ctx, repo, result.commit),
    },
  };
};

const getBlob: Handler = (ctx) => {
  const repo = guard(ctx, [read('contents')], D.blob);
  const sha = (ctx.params[2] ?? '').toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new ApiError(422, 'Invalid request.\n\nThe sha parameter must be exactly 40 characters and contain only [0-9a-f].', D.blob);
  const content = repo.blobs.get(sha);
  if (!content) throw notFound(D.blob);
  if (wantsRaw(ctx)) return { status: 200, raw: content, contentType: 'application/vnd.github.raw; charset=utf-8' };
  return {
    status: 200,
    body: {
      sha,
      node_id: Buffer.from(`04:Blob${sha}`).toString('base64'),
      size: content.byteLength,
      url: `${repoBase(ctx, repo)}/git/blobs/${sha}`,
      content: wrappedBase64(content),
      encoding: 'base64',
    },
  };
};

const RUN_CONCLUSIONS = new Set(['success', 'failure', 'cancelled', 'skipped', 'timed_out', 'neutral', 'action_required', 'stale']);

const listRuns: Handler = (ctx) => {
  const repo = guard(ctx, [read('actions')], D.runs);
  const workflow = ctx.state.findWorkflow(repo, decodeURIComponent(ctx.params[2] ?? ''));
  if (!workflow) throw notFound(D.runs);
  const status = ctx.url.searchParams.get('status');
  const branch = ctx.url.searchParams.get('branch');
  const event = ctx.url.searchParams.get('event');
  const runs = repo.runs
    .filter((r) => r.workflowId === workflow.id)
    .filter((r) => !status || (RUN_CONCLUSIONS.has(status) ? r.conclusion === status : r.status === status))
    .filter((r) => !branch || r.headBranch === branch)
    .filter((r) => !event || r.event === event)
    .sort((a, b) => (a.createdAt === b.createdAt ? b.id - a.id : a.createdAt < b.createdAt ? 1 : -1));
  return pageResponse(runs, ctx.url, ctx.origin, (page) => ({ total_count: runs.length, workflow_runs: page.map((r) => runObject(ctx, repo, r)) }));
};

const getRun: Handler = (ctx) => {
  const repo = guard(ctx, [read('actions')], D.run);
  const run = repo.runs.find((r) => String(r.id) === ctx.params[2]);
  if (!run) throw notFound(D.run);
  return { status: 200, body: runObject(ctx, repo, run) };
};

/*
 * Dispatch answers 204 (API version 2022-11-28), or 200 with the run's id and
 * URLs when the body asks `return_run_details: true` or the request selects
 * API version 2026-03-10. Errors: 404 unknown workflow; 422 for a workflow
 * without a workflow_dispatch trigger, a missing or unknown ref, inputs the
 * workflow does not declare, a missing required input, more than 25 inputs.
 */
const dispatch: Handler = (ctx) => {
  const repo = guard(ctx, [write('actions')], D.dispatch);
  const workflow = ctx.state.findWorkflow(repo, decodeURIComponent(ctx.params[2] ?? ''));
  if (!workflow) throw notFound(D.dispatch);
  const body = parseJson(ctx.body);
  if (!workflow.dispatchable) throw new ApiError(422, "Workflow does not have 'workflow_dispatch' trigger", D.dispatch);
  if (typeof body.ref !== 'string' || body.ref === '') throw notSupplied('ref', D.dispatch);
  const ref = body.ref.replace(/^refs\/heads\//, '');
  if (!ctx.state.resolveRef(repo, ref)) throw new ApiError(422, `No ref found for: ${body.ref}`, D.dispatch);
  const given = body.inputs ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new ApiError(422, 'Invalid request.\n\nFor \'properties/inputs\', it is not an object.', D.dispatch);
  const entries = Object.entries(given as Record<string, unknown>);
  if (entries.length > 25) throw new ApiError(422, 'Invalid request.\n\nNo more than 25 properties are allowed; ' + entries.length + ' were supplied.', D.dispatch);
  const unexpected = entries.map(([k]) => k).filter((k) => !(k in workflow.inputs));
  if (unexpected.length > 0) throw new ApiError(422, `Unexpected inputs provided: ${JSON.stringify(unexpected)}`, D.dispatch);
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(workflow.inputs)) {
    const value = (given as Record<string, unknown>)[name];
    if (value === undefined || value === null) {
      if (spec.required && spec.default === undefined) throw new ApiError(422, `Required input '${name}' not provided`, D.dispatch);
      if (spec.default !== undefined) inputs[name] = spec.default;
      continue;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (spec.type === 'boolean' && text !== 'true' && text !== 'false') throw new ApiError(422, `Provided value '${text}' for input '${name}' not in the list of allowed values`, D.dispatch);
    if (spec.type === 'choice' && spec.options && !spec.options.includes(text)) throw new ApiError(422, `Provided value '${text}' for input '${name}' not in the list of allowed values`, D.dispatch);
    inputs[name] = text;
  }
  const run = ctx.state.dispatch(repo, workflow, ref, inputs, ctx.identity.key);
  const wantDetails = body.return_run_details === true || String(ctx.headers['x-github-api-version'] ?? '') >= '2026-03-10';
  if (!wantDetails) return { status: 204 };
  return {
    status: 200,
    body: {
      workflow_run_id: run.id,
      run_url: `${repoBase(ctx, repo)}/actions/runs/${run.id}`,
      html_url: `https://github.com/${repo.owner}/${repo.name}/actions/runs/${run.id}`,
    },
  };
};

function findIssue(ctx: RouteContext, repo: Repo, raw: string | undefined, docs: string): Issue {
  const issue = repo.issues.get(issueNumber(raw, docs));
  if (!issue) throw notFound(docs);
  return issue;
}

const getIssue: Handler = (ctx) => {
  const repo = guard(ctx, [read('issues'), read('pull_requests')], D.issue);
  return { status: 200, body: issueObject(ctx, repo, findIssue(ctx, repo, ctx.params[2], D.issue)) };
};

const listComments: Handler = (ctx) => {
  const repo = guard(ctx, [read('issues'), read('pull_requests')], D.comments);
  const issue = findIssue(ctx, repo, ctx.params[2], D.comments);
  const since = sinceFilter(ctx);
  const comments = repo.comments.filter((c) => c.issueNumber === issue.number && since(c.updatedAt)).sort((a, b) => a.id - b.id);
  return pageResponse(comments, ctx.url, ctx.origin, (page) => page.map((c) => commentObject(ctx, repo, c)));
};

function sortIssues(ctx: RouteContext, issues: Issue[], docs: string): Issue[] {
  const sort = ctx.url.searchParams.get('sort') ?? 'created';
  const direction = ctx.url.searchParams.get('direction') ?? (sort === 'created' || sort === 'updated' || sort === 'comments' ? 'desc' : 'asc');
  if (!['created', 'updated', 'comments', 'popularity', 'long-running'].includes(sort) || !['asc', 'desc'].includes(direction)) {
    throw new ApiError(422, 'Validation Failed', docs, { errors: [{ resource: 'Issue', field: 'sort', code: 'invalid' }] });
  }
  const key = (i: Issue): string => (sort === 'updated' ? i.updatedAt : i.createdAt);
  const sign = direction === 'asc' ? 1 : -1;
  return [...issues].sort((a, b) => (key(a) === key(b) ? (a.number - b.number) * sign : key(a) < key(b) ? -sign : sign));
}

function stateFilter(ctx: RouteContext, docs: string): (i: Issue) => boolean {
  const state = ctx.url.searchParams.get('state') ?? 'open';
  if (!['open', 'closed', 'all'].includes(state)) throw new ApiError(422, 'Validation Failed', docs, { errors: [{ resource: 'Issue', field: 'state', code: 'invalid' }] });
  return (i) => state === 'all' || i.state === state;
}

const listIssues: Handler = (ctx) => {
  const repo = guard(ctx, [read('issues')], D.issues);
  const byState = stateFilter(ctx, D.issues);
  const since = sinceFilter(ctx);
  const labels = (ctx.url.searchParams.get('labels') ?? '').split(',').map((l) => l.trim().toLowerCase()).filter(Boolean);
  const issues = [...repo.issues.values()]
    .filter(byState)
    .filter((i) => since(i.updatedAt))
    .filter((i) => labels.every((l) => i.labels.some((have) => have.toLowerCase() === l)));
  return pageResponse(sortIssues(ctx, issues, D.issues), ctx.url, ctx.origin, (page) => {
    const counts = commentCounts(repo);
    return page.map((i) => issueObject(ctx, repo, i, counts));
  });
};

const listPulls: Handler = (ctx) => {
  const repo = guard(ctx, [read('pull_requests')], D.pulls);
  const byState = stateFilter(ctx, D.pulls);
  const head = ctx.url.searchParams.get('head');
  const base = ctx.url.searchParams.get('base');
  const pulls = [...repo.issues.values()]
    .filter((i) => i.pull !== null)
    .filter(byState)
    .filter((i) => !head || `${repo.owner}:${i.pull!.headRef}`.toLowerCase() === head.toLowerCase())
    .filter((i) => !base || i.pull!.baseRef === base);
  return pageResponse(sortIssues(ctx, pulls, D.pulls), ctx.url, ctx.origin, (page) => page.map((i) => pullObject(ctx, repo, i)));
};

const getPull: Handler = (ctx) => {
  const repo = guard(ctx, [read('pull_requests')], D.pull);
  const issue = findIssue(ctx, repo, ctx.params[2], D.pull);
  if (!issue.pull) throw notFound(D.pull);
  return { status: 200, body: pullObject(ctx, repo, issue) };
};

const addLabels: Handler = (ctx) => {
  const repo = guard(ctx, [write('issues'), write('pull_requests')], D.addLabels);
  const issue = findIssue(ctx, repo, ctx.params[2], D.addLabels);
  const body = parseJson(ctx.body);
  const raw = body.__array ?? body.labels;
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list)) throw new ApiError(422, 'Invalid request.\n\nFor \'properties/labels\', nil is not an array.', D.addLabels);
  const names = list.map((l: unknown) => (typeof l === 'string' ? l : typeof l === 'object' && l !== null ? (l as { name?: unknown }).name : undefined));
  if (names.some((n) => typeof n !== 'string' || n.trim() === '')) {
    throw new ApiError(422, 'Validation Failed', D.addLabels, { errors: [{ resource: 'Label', code: 'invalid', field: 'name' }] });
  }
  const next = [...issue.labels];
  for (const name of names as string[]) {
    const label = ctx.state.ensureLabel(repo, name);
    if (!next.some((have) => have.toLowerCase() === label.name.toLowerCase())) next.push(label.name);
  }
  if (next.length !== issue.labels.length) ctx.state.updateIssue(`${repo.owner}/${repo.name}`, issue.number, { labels: next });
  return { status: 200, body: issueLabels(ctx, repo, issue) };
};

const removeLabel: Handler = (ctx) => {
  const repo = guard(ctx, [write('issues'), write('pull_requests')], D.removeLabel);
  const issue = findIssue(ctx, repo, ctx.params[2], D.removeLabel);
  const name = decodeURIComponent(ctx.params[3] ?? '');
  const remaining = issue.labels.filter((have) => have.toLowerCase() !== name.toLowerCase());
  if (remaining.length === issue.labels.length) throw new ApiError(404, 'Label does not exist', D.removeLabel);
  ctx.state.updateIssue(`${repo.owner}/${repo.name}`, issue.number, { labels: remaining });
  return { status: 200, body: issueLabels(ctx, repo, issue) };
};

const PERMISSION_NAMES: Record<CollaboratorPermission, string> = { pull: 'read', triage: 'triage', push: 'write', maintain: 'maintain', admin: 'admin' };

/*
 * Add a collaborator: 201 with a repository invitation when one is created
 * (or renewed: a pending invitation is updated and answered again with 201),
 * 204 when the person already is a collaborator (a different `permission`
 * changes their level, with no other sign), 422 for an invalid permission or
 * for the owner, 404 for an unknown user when the simulator knows its users.
 */
const addCollaborator: Handler = (ctx) => {
  const repo = guard(ctx, [write('administration')], D.collaborator);
  const login = decodeURIComponent(ctx.params[2] ?? '');
  const body = parseJson(ctx.body);
  const permission = body.permission ?? 'push';
  if (typeof permission !== 'string' || !(permission in PERMISSION_NAMES)) {
    throw new ApiError(422, 'Validation Failed', D.collaborator, { errors: [{ resource: 'Repository', field: 'permission', code: 'invalid', value: permission }] });
  }
  const level = permission as CollaboratorPermission;
  if (!ctx.state.knowsUser(login)) throw notFound(D.collaborator);
  if (login.toLowerCase() === repo.owner.toLowerCase()) {
    throw new ApiError(422, 'Validation Failed', D.collaborator, { errors: [{ resource: 'Repository', code: 'custom', message: 'Repository owner cannot be a collaborator' }] });
  }
  const existing = repo.collaborators.get(login.toLowerCase());
  if (existing) {
    existing.permission = level;
    return { status: 204 };
  }
  ctx.state.addUser(login);
  let invitation = repo.invitations.find((i) => i.invitee.toLowerCase() === login.toLowerCase());
  if (invitation) invitation.permission = level;
  else {
    invitation = { id: ctx.state.id(), invitee: login, inviter: ctx.identity.login ?? repo.owner, permission: level, createdAt: isoSeconds(ctx.state.now()) };
    repo.invitations.push(invitation);
  }
  return {
    status: 201,
    body: {
      id: invitation.id,
      node_id: Buffer.from(`016:RepositoryInvitation${invitation.id}`).toString('base64'),
      repository: { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, private: repo.private, owner: userObject(ctx, repo.owner) },
      invitee: userObject(ctx, invitation.invitee),
      inviter: userObject(ctx, invitation.inviter),
      permissions: PERMISSION_NAMES[level],
      created_at: invitation.createdAt,
      expired: false,
      url: `${ctx.origin}/user/repository_invitations/${invitation.id}`,
      html_url: `https://github.com/${repo.owner}/${repo.name}/invitations`,
    },
  };
};

/*
 * Installation access token: the caller authenticates with the App's JWT (the
 * server checks it before this runs). Body `repositories` (names) or
 * `repository_ids` narrow the token; `permissions` narrows what it may do and
 * must not exceed the installation's (422 otherwise). 201 with the token.
 */
const createAccessToken: Handler = (ctx) => {
  const id = Number(ctx.params[0]);
  const installation = ctx.auth.installations.get(id);
  if (!installation) throw notFound(D.accessToken);
  const body = parseJson(ctx.body);
  let permissions: Permissions = { ...installation.permissions };
  if (body.permissions !== undefined) {
    let asked: Permissions;
    try {
      asked = parsePermissions(body.permissions);
    } catch (error) {
      throw new ApiError(422, `Invalid request.\n\n${(error as Error).message}`, D.accessToken);
    }
    for (const [name, level] of Object.entries(asked)) {
      const have = installation.permissions[name as keyof Permissions];
      if (!have || (level === 'write' && have !== 'write')) throw new ApiError(422, 'The permissions requested are not granted to this installation.', D.accessToken);
    }
    permissions = { metadata: 'read', ...asked };
  }
  let repositories: string[] | null = null;
  const names = body.repositories;
  const ids = body.repository_ids;
  if (Array.isArray(names) || Array.isArray(ids)) {
    repositories = [];
    for (const repo of ctx.state.repos.values()) {
      const named = Array.isArray(names) && names.some((n) => typeof n === 'string' && n.toLowerCase() === repo.name.toLowerCase());
      const byId = Array.isArray(ids) && ids.some((n) => Number(n) === repo.id);
      if (!named && !byId) continue;
      if (repo.owner.toLowerCase() !== installation.account.toLowerCase()) continue;
      if (installation.repositorySelection === 'selected' && !installation.repositories.has(`${repo.owner}/${repo.name}`.toLowerCase())) continue;
      repositories.push(`${repo.owner}/${repo.name}`);
    }
    const asked = (Array.isArray(names) ? names.length : 0) + (Array.isArray(ids) ? ids.length : 0);
    if (repositories.length < asked) throw new ApiError(422, 'There is at least one repository that does not exist or is not accessible to the parent installation.', D.accessToken);
  }
  const record = ctx.auth.mintInstallationToken(installation, permissions, repositories);
  const out: Record<string, unknown> = {
    token: record.token,
    expires_at: isoSeconds(record.expiresAt ?? 0),
    permissions: record.permissions,
    repository_selection: repositories ? 'selected' : installation.repositorySelection,
  };
  if (repositories) {
    out.repositories = repositories.map((fullName) => {
      const repo = ctx.state.repo(fullName);
      return { id: repo.id, name: repo.name, full_name: fullName, private: repo.private };
    });
  }
  return { status: 201, body: out };
};

// ---- routing --------------------------------------------------------------

const SEG = '([^/]+)';
const REST = '(.+)';

export const ACCESS_TOKEN_ROUTE = /^\/app\/installations\/(\d+)\/access_tokens$/;

export const routes: Route[] = [
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}$`), handler: getRepo },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/contents/?(.*)$`), handler: getContent },
  { method: 'PUT', pattern: new RegExp(`^/repos/${SEG}/${SEG}/contents/${REST}$`), handler: putContent },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/git/blobs/${SEG}$`), handler: getBlob },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/actions/workflows/${SEG}/runs$`), handler: listRuns },
  { method: 'POST', pattern: new RegExp(`^/repos/${SEG}/${SEG}/actions/workflows/${SEG}/dispatches$`), handler: dispatch },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/actions/runs/(\\d+)$`), handler: getRun },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/issues$`), handler: listIssues },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/issues/${SEG}$`), handler: getIssue },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/issues/${SEG}/comments$`), handler: listComments },
  { method: 'POST', pattern: new RegExp(`^/repos/${SEG}/${SEG}/issues/${SEG}/labels$`), handler: addLabels },
  { method: 'DELETE', pattern: new RegExp(`^/repos/${SEG}/${SEG}/issues/${SEG}/labels/${SEG}$`), handler: removeLabel },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/pulls$`), handler: listPulls },
  { method: 'GET', pattern: new RegExp(`^/repos/${SEG}/${SEG}/pulls/${SEG}$`), handler: getPull },
  { method: 'PUT', pattern: new RegExp(`^/repos/${SEG}/${SEG}/collaborators/${SEG}$`), handler: addCollaborator },
  { method: 'POST', pattern: ACCESS_TOKEN_ROUTE, handler: createAccessToken },
];

/**
 * Finds the handler. GitHub answers an unsupported method on a known path the
 * same way as an unknown path, 404 Not Found, so both come back as null.
 */
export function route(method: string, path: string): { handler: Handler; params: string[] } | null {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const r of routes) {
    if (r.method !== m) continue;
    const match = r.pattern.exec(path);
    if (match) return { handler: r.handler, params: match.slice(1) };
  }
  return null;
}
