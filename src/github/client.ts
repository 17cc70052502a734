/**
 * The GitHub REST client: Octokit with its retry and throttling plugins,
 * authenticated by a token or as a GitHub App installation, with a timeout
 * on every request. It exposes only the few calls the companion makes (the
 * `GitHubApi` seam), and turns every failure into a `GitHubError` whose
 * words a facilitator can act on. No token ever reaches a log line, a page or
 * an error message: errors carry the status and GitHub's message only.
 */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { createAppAuth } from '@octokit/auth-app';
import type { GitHubConfig } from '../config.js';
import type { Logger } from '../roster/errors.js';

/** A file in a repository as read: its text, blob sha and the ETag for a conditional read. */
export interface RepoFile {
  readonly text: string;
  readonly sha: string;
  readonly etag: string | null;
}

export type ReadResult = { readonly kind: 'unchanged' } | { readonly kind: 'missing' } | { readonly kind: 'file'; readonly file: RepoFile };

export type WriteResult =
  | { readonly kind: 'committed'; readonly commitSha: string; readonly blobSha: string }
  /** 409 or 422: the version given is no longer current, or GitHub refused the change for another reason (a rule on the branch). */
  | { readonly kind: 'conflict'; readonly status: number; readonly message: string };

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

/** The calls the companion makes to GitHub. */
export interface GitHubApi {
  defaultBranch(repo: RepoRef): Promise<string>;
  /** Reads a file; with `etag`, a conditional read that answers 'unchanged' (and costs no rate limit) when it is. */
  readFile(repo: RepoRef, path: string, ref: string, etag: string | null): Promise<ReadResult>;
  /** Commits `content` (the file's UTF-8 bytes, in pieces) on top of the version `sha` (null: the file must not exist yet); 'conflict' when that is no longer current. */
  writeFile(repo: RepoRef, path: string, change: { branch: string; content: readonly Buffer[]; sha: string | null; message: string }): Promise<WriteResult>;
  /** How many runs of a workflow are queued or in progress. */
  activeRuns(repo: RepoRef, workflow: string): Promise<number>;
  dispatchWorkflow(repo: RepoRef, workflow: string, ref: string, inputs?: Record<string, string>): Promise<void>;
}

export type GitHubProblem = 'auth' | 'forbidden' | 'not-found' | 'rate-limited' | 'unreachable' | 'server' | 'refused';

/** A GitHub call that failed, in words a facilitator can act on (`plain`), never holding a token. */
export class GitHubError extends Error {
  override readonly name = 'GitHubError';
  constructor(
    readonly problem: GitHubProblem,
    readonly plain: string,
    readonly status: number | null,
    /** For a rate limit: when GitHub says to try again (ms since the epoch). */
    readonly retryAt: number | null = null,
  ) {
    super(plain);
  }
}

/** The file's bytes are base64-encoded this many at a time: a multiple of 3, so the pieces' texts join without padding. */
const BASE64_PIECE_BYTES = 48 * 1024;

/**
 * The JSON body of a contents commit, as bytes, for the file's content given
 * in pieces (as the roster's writer makes it). Written here rather than by
 * Octokit, whose JSON writer on Node 20 runs two regular expressions over
 * the whole text. The content is base64-encoded a piece at a time straight
 * into the body: the body is the only buffer of the file's size made here.
 * (Each large buffer is costly where memory is slow to hand out: joining the
 * pieces, the base64 text and the JSON text around it were three more.)
 */
export function commitBody(change: { branch: string; content: readonly Buffer[]; sha: string | null; message: string }): Buffer {
  const fields = { message: change.message, branch: change.branch, ...(change.sha === null ? {} : { sha: change.sha }) };
  const head = Buffer.from(`${JSON.stringify(fields).slice(0, -1)},"content":"`);
  const tail = Buffer.from('"}');
  const size = change.content.reduce((sum, chunk) => sum + chunk.length, 0);
  const body = Buffer.allocUnsafeSlow(head.length + 4 * Math.ceil(size / 3) + tail.length);
  let at = head.copy(body, 0);
  const piece = Buffer.allocUnsafe(BASE64_PIECE_BYTES);
  let filled = 0;
  for (const chunk of change.content) {
    for (let from = 0; from < chunk.length; ) {
      const copied = chunk.copy(piece, filled, from);
      filled += copied;
      from += copied;
      if (filled === piece.length) {
        at += body.write(piece.toString('base64'), at, 'latin1');
        filled = 0;
      }
    }
  }
  at += body.write(piece.subarray(0, filled).toString('base64'), at, 'latin1');
  at += tail.copy(body, at);
  if (at !== body.length) throw new Error(`commit body: wrote ${at} of ${body.length} bytes`);
  return body;
}

/** Milliseconds a single request (with its body) may take. */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface ClientOptions {
  /** Base of the retry plugin's backoff (ms): it waits base × (attempt²). */
  retryBaseMs?: number;
  timeoutMs?: number;
}

export interface OctokitErrorShape {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
  name?: string;
  cause?: unknown;
}

function header(error: OctokitErrorShape, name: string): string | undefined {
  const value = error.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

function githubMessage(error: OctokitErrorShape): string {
  const data = error.response?.data;
  const message = typeof data === 'object' && data !== null && 'message' in data ? String((data as { message: unknown }).message) : '';
  return message.replace(/\s+/g, ' ').slice(0, 200);
}

/** When a rate-limited request may be tried again (ms since the epoch), from GitHub's headers. */
function retryAtOf(error: OctokitErrorShape, now: number): number | null {
  const retryAfter = header(error, 'retry-after');
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) return now + Number(retryAfter) * 1000;
  if (header(error, 'x-ratelimit-remaining') === '0') {
    const reset = header(error, 'x-ratelimit-reset');
    if (reset !== undefined && /^\d+$/.test(reset)) return Number(reset) * 1000;
  }
  return null;
}

/** Turns an Octokit failure into a GitHubError; `what` names the action ("read the roster in owner/repo"). */
export function toGitHubError(error: unknown, what: string, now = Date.now()): GitHubError {
  if (error instanceof GitHubError) return error;
  const e = (error ?? {}) as OctokitErrorShape;
  const status = typeof e.status === 'number' ? e.status : null;
  const said = githubMessage(e);
  const retryAt = status === 403 || status === 429 ? retryAtOf(e, now) : null;
  if (retryAt !== null || status === 429 || (status === 403 && /rate limit/i.test(said))) {
    const at = retryAt ?? now + 60_000;
    return new GitHubError('rate-limited', `GitHub's rate limit was reached while trying to ${what}; the companion waits until ${new Date(at).toISOString()} and tries again`, status, at);
  }
  switch (status) {
    case 401:
      return new GitHubError('auth', `GitHub did not accept the token (it may have expired or been revoked), so the companion could not ${what}`, status);
    case 403:
      return new GitHubError('forbidden', `GitHub refused: the token is not allowed to ${what}${said ? ` (GitHub said: ${said})` : ''}`, status);
    case 404:
      return new GitHubError('not-found', `GitHub answered "not found" when the companion tried to ${what}: the repository, branch or workflow does not exist, or the token cannot see it`, status);
    case null:
    case 500:
      // A request that got no answer at all (Octokit reports it as a 500 without a response): a dropped connection, a timeout, DNS.
      if (status === null || e.response === undefined || /fetch failed|timeout|aborted|ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(String(e.message ?? ''))) {
        return new GitHubError('unreachable', `GitHub could not be reached to ${what} (${describeNetworkError(e)}); the companion tries again`, status);
      }
      return new GitHubError('server', `GitHub answered with a server error (${status}) when the companion tried to ${what}; it tries again`, status);
    default:
      if (status >= 500) return new GitHubError('server', `GitHub answered with a server error (${status}) when the companion tried to ${what}; it tries again`, status);
      return new GitHubError('refused', `GitHub refused to ${what} (${status}${said ? `: ${said}` : ''})`, status);
  }
}

/** A network failure in a few words: "no answer in time", "network error ECONNRESET". */
export function describeNetworkError(e: OctokitErrorShape): string {
  const text = String(e.message ?? '');
  if (/timeout|aborted/i.test(text)) return 'no answer in time';
  // The error code is on the innermost cause (Octokit's error wraps fetch's, which wraps the socket's).
  const codes: string[] = [];
  for (let cause: unknown = e.cause, depth = 0; cause !== null && typeof cause === 'object' && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const value = (cause as { code?: unknown }).code;
    if (typeof value === 'string') codes.push(value);
  }
  const code = /\b(E[A-Z]+|UND_ERR_[A-Z_]+)\b/.exec(`${text} ${codes.join(' ')}`);
  return code ? `network error ${code[1]}` : 'network error';
}

/** fetch with a deadline on every request. */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init = {}) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return fetch(input, { ...init, signal });
  };
}

/** Each path segment percent-encoded, the slashes kept. */
function encodePath(filePath: string): string {
  return filePath.split('/').map(encodeURIComponent).join('/');
}

const ThrottledOctokit = Octokit.plugin(retry, throttling);

function octokitLogger(log: Logger) {
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => log.warn({ component: 'github' }, message),
    // Failed requests are logged by the companion itself, in words and without noise from expected conflicts.
    error: () => undefined,
  };
}

/** An Octokit configured from GitHub mode's settings, and a way to drop a credential GitHub refused. */
export interface GitHubConnection {
  readonly octokit: Octokit;
  /**
   * Forgets cached installation tokens (GitHub App), so the next request
   * makes a new one: a revoked token is not used again for the rest of its
   * hour. Nothing to forget for a personal access token.
   */
  forgetCredentials(): void;
}

export function connectGitHub(config: GitHubConfig, log: Logger, options: ClientOptions = {}): GitHubConnection {
  const auth = config.auth;
  // The App library keeps installation tokens for most of their hour; this cache lets a refused one be dropped at once.
  const installationTokens = new Map<string, string>();
  const octokit = new ThrottledOctokit({
    baseUrl: config.apiUrl,
    userAgent: 'glow-companion',
    log: octokitLogger(log),
    request: { fetch: fetchWithTimeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS) },
    ...(auth.kind === 'token'
      ? { auth: auth.token }
      : {
          authStrategy: createAppAuth,
          auth: {
            appId: auth.appId,
            privateKey: auth.privateKey,
            installationId: auth.installationId,
            cache: { get: (key: string) => installationTokens.get(key) ?? '', set: (key: string, value: string) => void installationTokens.set(key, value) },
          },
        }),
    // 409 and 422 answer a compare-and-swap that lost: the caller reads again instead.
    retry: { doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451], retries: 3, retryAfterBaseValue: options.retryBaseMs ?? 1000 },
    throttle: {
      // A short wait is taken in place, once; a longer one is left to the caller, which tries again after it.
      onRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 1 && retryAfter <= 5,
      onSecondaryRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 1 && retryAfter <= 5,
    },
  }) as unknown as Octokit;
  // One gate for every caller of this connection (the sync and the progress
  // reader alike): once GitHub says the rate limit is used up, no request is
  // sent until the time it gave, and each is answered at once with that.
  let limitedUntil = 0;
  octokit.hook.wrap('request', async (request, options) => {
    const now = Date.now();
    if (now < limitedUntil) {
      throw new GitHubError('rate-limited', `GitHub's rate limit is used up; the companion sends nothing until ${new Date(limitedUntil).toISOString()}`, null, limitedUntil);
    }
    try {
      return await request(options);
    } catch (error) {
      const status = (error as OctokitErrorShape).status;
      if (status === 403 || status === 429) {
        const at = retryAtOf(error as OctokitErrorShape, Date.now());
        if (at !== null) limitedUntil = Math.max(limitedUntil, at);
      }
      throw error;
    }
  });
  return { octokit, forgetCredentials: () => installationTokens.clear() };
}

/**
 * A runner for a connection's calls: a failure becomes the GitHubError
 * `toError` makes of it (in words, about what was being done), and a
 * credential GitHub refused is forgotten, so the next call gets a new one.
 */
export function callsOver<About>(connection: GitHubConnection, toError: (error: unknown, about: About) => GitHubError) {
  return async <T>(about: About, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      const failure = toError(error, about);
      if (failure.problem === 'auth') connection.forgetCredentials();
      throw failure;
    }
  };
}

/** The GitHubApi over a connection. */
export function createGitHubApi(connection: GitHubConnection): GitHubApi {
  const { octokit } = connection;
  const call = callsOver(connection, (error, what: string) => toGitHubError(error, what));
  return {
    defaultBranch: (repo) =>
      call(`read ${repo.owner}/${repo.repo}`, async () => {
        const { data } = await octokit.request('GET /repos/{owner}/{repo}', { ...repo });
        return data.default_branch;
      }),

    readFile: (repo, filePath, ref, etag) =>
      call(`read ${filePath} in ${repo.owner}/${repo.repo}`, async () => {
        let response;
        try {
          response = await octokit.request(`GET /repos/{owner}/{repo}/contents/${encodePath(filePath)}`, {
            ...repo,
            ref,
            headers: etag ? { 'if-none-match': etag } : {},
          });
        } catch (error) {
          const status = (error as OctokitErrorShape).status;
          if (status === 304) return { kind: 'unchanged' } as const;
          if (status === 404) {
            // No file yet, unless the repository or branch itself is missing.
            await octokit.request('GET /repos/{owner}/{repo}', { ...repo });
            return { kind: 'missing' } as const;
          }
          throw error;
        }
        const data = response.data as { type?: string; encoding?: string; content?: string; sha?: string; size?: number };
        if (data.type !== 'file' || typeof data.sha !== 'string') throw new GitHubError('refused', `${filePath} in ${repo.owner}/${repo.repo} is not a file`, null);
        let text: string;
        if (data.encoding === 'base64') {
          text = Buffer.from(data.content ?? '', 'base64').toString('utf8');
        } else {
          // Over 1 MB the contents answer carries no content: read the blob instead, as raw bytes. (As JSON, a roster
          // of several megabytes would go through Octokit's JSON parser, which is slow and, past about 8 MB, overflows the stack.)
          const blob = await octokit.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', { ...repo, file_sha: data.sha, mediaType: { format: 'raw' } });
          const raw: unknown = blob.data;
          if (typeof raw === 'string') text = raw;
          else if (raw instanceof ArrayBuffer) text = Buffer.from(raw).toString('utf8');
          else throw new GitHubError('refused', `the blob of ${filePath} came in an unexpected form`, null);
        }
        const etagHeader = response.headers.etag;
        return { kind: 'file', file: { text, sha: data.sha, etag: typeof etagHeader === 'string' ? etagHeader : null } } as const;
      }),

    writeFile: (repo, filePath, change) =>
      call(`commit ${filePath} in ${repo.owner}/${repo.repo}`, async () => {
        try {
          const { data } = await octokit.request(`PUT /repos/{owner}/{repo}/contents/${encodePath(filePath)}`, {
            ...repo,
            data: commitBody(change),
            headers: { 'content-type': 'application/json; charset=utf-8' },
          });
          const result = data as { commit?: { sha?: string }; content?: { sha?: string } };
          return { kind: 'committed', commitSha: result.commit?.sha ?? '', blobSha: result.content?.sha ?? '' } as const;
        } catch (error) {
          const status = (error as OctokitErrorShape).status;
          // The version given is no longer current (409), or a file appeared where none was (422, "sha" wasn't supplied).
          if (status === 409 || status === 422) return { kind: 'conflict', status, message: githubMessage(error as OctokitErrorShape) } as const;
          throw error;
        }
      }),

    activeRuns: (repo, workflow) =>
      call(`check runs of ${workflow} in ${repo.owner}/${repo.repo}`, async () => {
        let total = 0;
        for (const status of ['in_progress', 'queued'] as const) {
          const { data } = await octokit.request('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', { ...repo, workflow_id: workflow, status, per_page: 1 });
          total += data.total_count;
        }
        return total;
      }),

    dispatchWorkflow: (repo, workflow, ref, inputs) =>
      call(`start ${workflow} in ${repo.owner}/${repo.repo}`, async () => {
        await octokit.request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', { ...repo, workflow_id: workflow, ref, ...(inputs ? { inputs } : {}) });
      }),
  };
}
