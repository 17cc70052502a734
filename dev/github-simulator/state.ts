/**
 * The simulator's in-memory world: repositories with per-branch commits of
 * files (git blob shas computed as git does), issues and pull requests sharing
 * one number sequence per repository, issue comments, labels, workflows with
 * runs and a record of dispatches, collaborators and invitations, users.
 *
 * Tokens, the App and rate-limit buckets live in auth.ts; this file knows
 * nothing about HTTP.
 */
import { createHash, randomBytes } from 'node:crypto';

export type IsoDate = string;

/** git's blob id: sha1("blob " + byteLength + "\0" + content). */
export function gitBlobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** GitHub's timestamps have no milliseconds: 2026-03-02T16:05:00Z. */
export function isoSeconds(ms: number): IsoDate {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface Person {
  name: string;
  email: string;
  date: IsoDate;
}

export interface Commit {
  sha: string;
  treeSha: string;
  parent: string | null;
  message: string;
  author: Person;
  committer: Person;
  /** path -> blob sha: the whole tree after this commit. */
  tree: Map<string, string>;
  /** Paths this commit changed (added, modified or deleted). */
  changed: string[];
}

export interface Label {
  id: number;
  name: string;
  color: string;
  description: string | null;
  default: boolean;
}

export interface PullDetails {
  draft: boolean;
  headRef: string;
  baseRef: string;
  mergedAt: IsoDate | null;
}

export interface Issue {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  stateReason: 'completed' | 'not_planned' | 'reopened' | null;
  /** Label names, in the order they were added. */
  labels: string[];
  user: string;
  createdAt: IsoDate;
  updatedAt: IsoDate;
  closedAt: IsoDate | null;
  /** Present for pull requests (GitHub's issues API includes them). */
  pull: PullDetails | null;
}

export interface IssueComment {
  id: number;
  issueNumber: number;
  user: string;
  body: string;
  createdAt: IsoDate;
  updatedAt: IsoDate;
}

export interface WorkflowInput {
  type?: 'string' | 'boolean' | 'choice' | 'number' | 'environment';
  required?: boolean;
  default?: string;
  options?: string[];
  description?: string;
}

/** Moves a dispatched run along by itself: queued -> in_progress -> completed. */
export interface RunLifecycle {
  queuedMs: number;
  runMs: number;
  conclusion?: RunConclusion;
}

export interface Workflow {
  id: number;
  file: string;
  name: string;
  /** Whether the workflow declares `on: workflow_dispatch`. */
  dispatchable: boolean;
  inputs: Record<string, WorkflowInput>;
  lifecycle: RunLifecycle | null;
  state: 'active' | 'disabled_manually';
}

export type RunStatus = 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
export type RunConclusion = 'success' | 'failure' | 'cancelled' | 'skipped' | 'timed_out' | 'neutral' | 'action_required' | 'stale';

export interface WorkflowRun {
  id: number;
  workflowId: number;
  runNumber: number;
  event: string;
  status: RunStatus;
  conclusion: RunConclusion | null;
  headBranch: string;
  headSha: string;
  createdAt: IsoDate;
  updatedAt: IsoDate;
  startedAt: IsoDate | null;
  inputs: Record<string, string> | null;
}

export interface Dispatch {
  workflow: string;
  ref: string;
  inputs: Record<string, string>;
  at: IsoDate;
  runId: number;
  /** Who asked (identity, never a token). */
  by: string;
}

export type CollaboratorPermission = 'pull' | 'triage' | 'push' | 'maintain' | 'admin';

export interface Invitation {
  id: number;
  invitee: string;
  inviter: string;
  permission: CollaboratorPermission;
  createdAt: IsoDate;
}

export interface Repo {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  defaultBranch: string;
  createdAt: IsoDate;
  branches: Map<string, string>;
  commits: Map<string, Commit>;
  blobs: Map<string, Buffer>;
  issues: Map<number, Issue>;
  nextNumber: number;
  comments: IssueComment[];
  labels: Map<string, Label>;
  workflows: Map<string, Workflow>;
  runs: WorkflowRun[];
  dispatches: Dispatch[];
  collaborators: Map<string, { login: string; permission: CollaboratorPermission }>;
  invitations: Invitation[];
}

export interface CommitOptions {
  branch?: string;
  message?: string;
  author?: { name: string; email: string };
}

export interface CommitResult {
  commitSha: string;
  blobSha: string;
  commit: Commit;
}

export interface FileAt {
  path: string;
  content: Buffer;
  sha: string;
  commitSha: string;
}

export interface IssueInput {
  number?: number;
  title: string;
  body?: string | null;
  state?: 'open' | 'closed';
  labels?: string[];
  user?: string;
  createdAt?: IsoDate;
  updatedAt?: IsoDate;
  closedAt?: IsoDate | null;
}

export interface PullInput extends IssueInput {
  draft?: boolean;
  head?: string;
  base?: string;
  mergedAt?: IsoDate | null;
}

export interface CommentInput {
  user: string;
  body: string;
  createdAt?: IsoDate;
}

export interface WorkflowInputSpec {
  file: string;
  name?: string;
  dispatchable?: boolean;
  inputs?: Record<string, WorkflowInput>;
  lifecycle?: RunLifecycle | null;
}

export interface RunInput {
  workflow: string;
  status?: RunStatus;
  conclusion?: RunConclusion | null;
  branch?: string;
  event?: string;
  createdAt?: IsoDate;
}

export class StateError extends Error {}

const DEFAULT_AUTHOR = { name: 'GitHub Simulator', email: 'simulator@example.invalid' };

export function repoKey(owner: string, name: string): string {
  return `${owner}/${name}`.toLowerCase();
}

/** Splits "owner/name". */
export function splitFullName(fullName: string): [string, string] {
  const [owner, name, ...rest] = fullName.split('/');
  if (!owner || !name || rest.length > 0) throw new StateError(`not an owner/name: ${fullName}`);
  return [owner, name];
}

export class SimulatorState {
  readonly repos = new Map<string, Repo>();
  /** Known user logins, lower case -> as spelled. */
  readonly users = new Map<string, string>();
  /** Whether PUT /collaborators/{user} accepts a login nobody seeded. */
  unknownUsers: 'accept' | 'reject' = 'accept';
  private nextId = 1000;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly clock: () => number = Date.now) {}

  now(): number {
    return this.clock();
  }

  id(): number {
    return this.nextId++;
  }

  /** Forgets everything (and cancels run timers). */
  clear(): void {
    this.repos.clear();
    this.users.clear();
    this.unknownUsers = 'accept';
    this.cancelTimers();
  }

  cancelTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  addUser(login: string): void {
    this.users.set(login.toLowerCase(), login);
  }

  knowsUser(login: string): boolean {
    return this.unknownUsers === 'accept' || this.users.has(login.toLowerCase());
  }

  // ---- repositories and files -------------------------------------------

  createRepo(input: { owner: string; name: string; private?: boolean; defaultBranch?: string }): Repo {
    const key = repoKey(input.owner, input.name);
    const existing = this.repos.get(key);
    if (existing) {
      if (input.private !== undefined) existing.private = input.private;
      return existing;
    }
    const repo: Repo = {
      id: this.id(),
      owner: input.owner,
      name: input.name,
      private: input.private ?? true,
      defaultBranch: input.defaultBranch ?? 'main',
      createdAt: isoSeconds(this.now()),
      branches: new Map(),
      commits: new Map(),
      blobs: new Map(),
      issues: new Map(),
      nextNumber: 1,
      comments: [],
      labels: new Map(),
      workflows: new Map(),
      runs: [],
      dispatches: [],
      collaborators: new Map(),
      invitations: [],
    };
    this.repos.set(key, repo);
    this.addUser(input.owner);
    return repo;
  }

  getRepo(owner: string, name: string): Repo | undefined {
    return this.repos.get(repoKey(owner, name));
  }

  repo(fullName: string): Repo {
    const [owner, name] = splitFullName(fullName);
    const repo = this.getRepo(owner, name);
    if (!repo) throw new StateError(`no repository ${fullName}`);
    return repo;
  }

  /** Resolves a branch name or a full commit sha to a commit. */
  resolveRef(repo: Repo, ref: string | undefined): Commit | undefined {
    const name = ref ?? repo.defaultBranch;
    const head = repo.branches.get(name);
    if (head) return repo.commits.get(head);
    if (/^[0-9a-f]{40}$/i.test(name)) return repo.commits.get(name.toLowerCase());
    return undefined;
  }

  /** Creates a branch at another branch's head (the default branch by default). */
  createBranch(fullName: string, branch: string, from?: string): void {
    const repo = this.repo(fullName);
    const source = this.resolveRef(repo, from);
    if (!source) throw new StateError(`cannot branch ${branch} from ${from ?? repo.defaultBranch}: no commit`);
    repo.branches.set(branch, source.sha);
  }

  readFile(fullName: string, path: string, ref?: string): FileAt | null {
    const repo = this.repo(fullName);
    return this.fileAt(repo, path, ref);
  }

  fileAt(repo: Repo, path: string, ref?: string): FileAt | null {
    const commit = this.resolveRef(repo, ref);
    if (!commit) return null;
    const sha = commit.tree.get(normalisePath(path));
    if (!sha) return null;
    const content = repo.blobs.get(sha);
    if (!content) return null;
    return { path: normalisePath(path), content, sha, commitSha: commit.sha };
  }

  /**
   * Commits one file change on a branch (creating the branch, and the
   * repository's first commit, when needed). `content: null` deletes.
   */
  commitFile(fullName: string, path: string, content: Buffer | string | null, options: CommitOptions = {}): CommitResult {
    const repo = this.repo(fullName);
    return this.commitTo(repo, normalisePath(path), content === null ? null : toBuffer(content), options);
  }

  commitTo(repo: Repo, path: string, content: Buffer | null, options: CommitOptions = {}): CommitResult {
    const branch = options.branch ?? repo.defaultBranch;
    const parentSha = repo.branches.get(branch) ?? (repo.branches.size === 0 ? null : undefined);
    if (parentSha === undefined) {
      // A new branch off the default branch, as a client would after creating a ref.
      const base = this.resolveRef(repo, undefined);
      if (!base) throw new StateError(`no branch ${branch}`);
      repo.branches.set(branch, base.sha);
      return this.commitTo(repo, path, content, options);
    }
    const parent = parentSha ? repo.commits.get(parentSha) ?? null : null;
    const tree = new Map(parent?.tree ?? []);
    let blobSha = '';
    if (content === null) {
      tree.delete(path);
    } else {
      blobSha = gitBlobSha(content);
      repo.blobs.set(blobSha, content);
      tree.set(path, blobSha);
    }
    const treeSha = sha1(
      [...tree.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([p, s]) => `${p}\0${s}`)
        .join('\n'),
    );
    const now = this.now();
    const who = options.author ?? DEFAULT_AUTHOR;
    const person: Person = { ...who, date: isoSeconds(now) };
    const message = options.message ?? `Update ${path}`;
    // A commit's id hashes its tree, parent, author, message and a nonce, so two
    // identical changes made at the same second still get different commits.
    const sha = sha1(`tree ${treeSha}\nparent ${parentSha ?? ''}\nauthor ${who.name} <${who.email}> ${now}\nnonce ${randomBytes(8).toString('hex')}\n\n${message}`);
    const commit: Commit = { sha, treeSha, parent: parentSha, message, author: person, committer: person, tree, changed: [path] };
    repo.commits.set(sha, commit);
    repo.branches.set(branch, sha);
    return { commitSha: sha, blobSha, commit };
  }

  /** The commits reachable from a branch head, newest first. */
  history(fullName: string, branch?: string): Commit[] {
    const repo = this.repo(fullName);
    const out: Commit[] = [];
    let commit = this.resolveRef(repo, branch);
    while (commit) {
      out.push(commit);
      commit = commit.parent ? repo.commits.get(commit.parent) : undefined;
    }
    return out;
  }

  // ---- issues, pull requests, comments, labels --------------------------

  ensureLabel(repo: Repo, name: string): Label {
    const existing = repo.labels.get(name.toLowerCase());
    if (existing) return existing;
    const label: Label = { id: this.id(), name, color: 'ededed', description: null, default: false };
    repo.labels.set(name.toLowerCase(), label);
    return label;
  }

  addIssue(fullName: string, input: IssueInput): Issue {
    return this.insertIssue(this.repo(fullName), input, null);
  }

  addPull(fullName: string, input: PullInput): Issue {
    const repo = this.repo(fullName);
    return this.insertIssue(repo, input, {
      draft: input.draft ?? false,
      headRef: input.head ?? `topic-${repo.nextNumber}`,
      baseRef: input.base ?? repo.defaultBranch,
      mergedAt: input.mergedAt ?? null,
    });
  }

  private insertIssue(repo: Repo, input: IssueInput, pull: PullDetails | null): Issue {
    const number = input.number ?? repo.nextNumber;
    if (repo.issues.has(number)) throw new StateError(`${repo.owner}/${repo.name}#${number} exists`);
    repo.nextNumber = Math.max(repo.nextNumber, number + 1);
    const created = input.createdAt ?? isoSeconds(this.now());
    const state = input.state ?? 'open';
    const user = input.user ?? repo.owner;
    this.addUser(user);
    for (const label of input.labels ?? []) this.ensureLabel(repo, label);
    const issue: Issue = {
      id: this.id(),
      number,
      title: input.title,
      body: input.body ?? null,
      state,
      stateReason: state === 'closed' ? 'completed' : null,
      labels: [...(input.labels ?? [])],
      user,
      createdAt: created,
      updatedAt: input.updatedAt ?? input.closedAt ?? created,
      closedAt: state === 'closed' ? input.closedAt ?? input.updatedAt ?? created : null,
      pull,
    };
    repo.issues.set(number, issue);
    return issue;
  }

  issue(fullName: string, number: number): Issue {
    const issue = this.repo(fullName).issues.get(number);
    if (!issue) throw new StateError(`no issue ${fullName}#${number}`);
    return issue;
  }

  /** Changes an issue (or pull request) and bumps its update time. */
  updateIssue(fullName: string, number: number, change: Partial<Pick<Issue, 'title' | 'body' | 'state' | 'labels'>> & { updatedAt?: IsoDate }): Issue {
    const issue = this.issue(fullName, number);
    const at = change.updatedAt ?? isoSeconds(this.now());
    if (change.title !== undefined) issue.title = change.title;
    if (change.body !== undefined) issue.body = change.body;
    if (change.labels !== undefined) {
      for (const label of change.labels) this.ensureLabel(this.repo(fullName), label);
      issue.labels = [...change.labels];
    }
    if (change.state !== undefined && change.state !== issue.state) {
      issue.state = change.state;
      issue.closedAt = change.state === 'closed' ? at : null;
      issue.stateReason = change.state === 'closed' ? 'completed' : 'reopened';
    }
    issue.updatedAt = at;
    return issue;
  }

  addComment(fullName: string, number: number, input: CommentInput): IssueComment {
    const repo = this.repo(fullName);
    const issue = this.issue(fullName, number);
    const at = input.createdAt ?? isoSeconds(this.now());
    this.addUser(input.user);
    const comment: IssueComment = { id: this.id(), issueNumber: number, user: input.user, body: input.body, createdAt: at, updatedAt: at };
    repo.comments.push(comment);
    if (at > issue.updatedAt) issue.updatedAt = at;
    return comment;
  }

  // ---- workflows and runs ------------------------------------------------

  addWorkflow(fullName: string, spec: WorkflowInputSpec): Workflow {
    const repo = this.repo(fullName);
    const workflow: Workflow = {
      id: this.id(),
      file: spec.file,
      name: spec.name ?? spec.file.replace(/\.ya?ml$/, ''),
      dispatchable: spec.dispatchable ?? true,
      inputs: { ...(spec.inputs ?? {}) },
      lifecycle: spec.lifecycle ?? null,
      state: 'active',
    };
    repo.workflows.set(spec.file, workflow);
    return workflow;
  }

  findWorkflow(repo: Repo, idOrFile: string): Workflow | undefined {
    const byFile = repo.workflows.get(idOrFile);
    if (byFile) return byFile;
    if (/^\d+$/.test(idOrFile)) return [...repo.workflows.values()].find((w) => w.id === Number(idOrFile));
    return undefined;
  }

  addRun(fullName: string, input: RunInput & { inputs?: Record<string, string> | null }): WorkflowRun {
    const repo = this.repo(fullName);
    const workflow = this.findWorkflow(repo, input.workflow);
    if (!workflow) throw new StateError(`no workflow ${input.workflow} in ${fullName}`);
    const branch = input.branch ?? repo.defaultBranch;
    const head = this.resolveRef(repo, branch);
    const at = input.createdAt ?? isoSeconds(this.now());
    const status = input.status ?? 'queued';
    const run: WorkflowRun = {
      id: this.id(),
      workflowId: workflow.id,
      runNumber: repo.runs.filter((r) => r.workflowId === workflow.id).length + 1,
      event: input.event ?? 'workflow_dispatch',
      status,
      conclusion: status === 'completed' ? input.conclusion ?? 'success' : null,
      headBranch: branch,
      headSha: head?.sha ?? '0'.repeat(40),
      createdAt: at,
      updatedAt: at,
      startedAt: status === 'queued' ? null : at,
      inputs: input.inputs ?? null,
    };
    repo.runs.push(run);
    return run;
  }

  findRun(runId: number): { repo: Repo; run: WorkflowRun } | undefined {
    for (const repo of this.repos.values()) {
      const run = repo.runs.find((r) => r.id === runId);
      if (run) return { repo, run };
    }
    return undefined;
  }

  startRun(runId: number): WorkflowRun {
    const found = this.findRun(runId);
    if (!found) throw new StateError(`no run ${runId}`);
    const at = isoSeconds(this.now());
    found.run.status = 'in_progress';
    found.run.startedAt = at;
    found.run.updatedAt = at;
    return found.run;
  }

  completeRun(runId: number, conclusion: RunConclusion = 'success'): WorkflowRun {
    const found = this.findRun(runId);
    if (!found) throw new StateError(`no run ${runId}`);
    const at = isoSeconds(this.now());
    found.run.status = 'completed';
    found.run.conclusion = conclusion;
    found.run.startedAt ??= at;
    found.run.updatedAt = at;
    return found.run;
  }

  /** Records a dispatch and queues its run; the workflow's lifecycle, if any, moves it on. */
  dispatch(repo: Repo, workflow: Workflow, ref: string, inputs: Record<string, string>, by: string): WorkflowRun {
    const run = this.addRun(`${repo.owner}/${repo.name}`, { workflow: workflow.file, branch: ref, event: 'workflow_dispatch', inputs });
    repo.dispatches.push({ workflow: workflow.file, ref, inputs, at: isoSeconds(this.now()), runId: run.id, by });
    const lifecycle = workflow.lifecycle;
    if (lifecycle) {
      this.later(lifecycle.queuedMs, () => {
        if (run.status !== 'queued') return;
        this.startRun(run.id);
        this.later(lifecycle.runMs, () => {
          if (run.status === 'in_progress') this.completeRun(run.id, lifecycle.conclusion ?? 'success');
        });
      });
    }
    return run;
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  // ---- collaborators -----------------------------------------------------

  addCollaborator(fullName: string, login: string, permission: CollaboratorPermission = 'push'): void {
    const repo = this.repo(fullName);
    this.addUser(login);
    repo.collaborators.set(login.toLowerCase(), { login, permission });
    repo.invitations = repo.invitations.filter((i) => i.invitee.toLowerCase() !== login.toLowerCase());
  }

  /** The invitee accepts: the pending invitation becomes a collaborator. */
  acceptInvitation(fullName: string, login: string): void {
    const repo = this.repo(fullName);
    const invitation = repo.invitations.find((i) => i.invitee.toLowerCase() === login.toLowerCase());
    if (!invitation) throw new StateError(`no invitation for ${login} to ${fullName}`);
    this.addCollaborator(fullName, invitation.invitee, invitation.permission);
  }
}

export function normalisePath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

export function toBuffer(content: Buffer | string): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}
