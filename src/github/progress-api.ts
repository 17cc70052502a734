/**
 * The read-only GitHub calls derived progress makes, over Octokit. Every
 * read is conditional: the ETag of each page read is kept, and a page that
 * has not changed is answered 304, which costs no rate limit, and served from
 * what was kept. Lists are read whole, page by page, following `Link`.
 */
import type { Octokit } from '@octokit/rest';
import { toGitHubError, type RepoRef } from './client.js';
import type { EnrollmentIssueSignal, IssueCommentSignal, ProvisioningLogEntry, PullRequestSignal, RoomIssueSignal } from './progress-rules.js';

/** An entry of a repository's issue list: a room's issue and an enrollment issue at once. */
export type ListedIssueSignal = RoomIssueSignal & EnrollmentIssueSignal;

export interface ProgressApi {
  /** The enrollment issue; null when GitHub answers that it does not exist. */
  issue(repo: RepoRef, number: number): Promise<EnrollmentIssueSignal | null>;
  issueComments(repo: RepoRef, number: number): Promise<ReadonlyArray<IssueCommentSignal>>;
  /** Every issue of a repository, pull requests included. */
  repositoryIssues(repo: RepoRef): Promise<ReadonlyArray<RoomIssueSignal>>;
  /**
   * Every issue of a repository, pull requests included, oldest first, and
   * how many pages that took. Oldest first, a page's contents move only when
   * an issue on it changes (a new issue goes on the last page), so the other
   * pages stay answered 304.
   */
  issuesOldestFirst(repo: RepoRef): Promise<{ issues: ReadonlyArray<ListedIssueSignal>; pages: number }>;
  openPullRequests(repo: RepoRef): Promise<ReadonlyArray<PullRequestSignal>>;
  /** The provisioning log's entries; empty when there is no log yet. */
  provisioningLog(repo: RepoRef, path: string, ref: string | null): Promise<ReadonlyArray<ProvisioningLogEntry>>;
  /** Requests answered in full (each costs rate limit) and answered 304 (free), so far. */
  readonly usage: { readonly full: number; readonly notModified: number };
  /** A whole refresh has been read: pages it did not read (learners gone, say) are no longer kept. */
  endRound(): void;
}

interface Kept {
  etag: string;
  data: unknown;
  next: string | null;
  /** The round that last read it. */
  round: number;
}

/**
 * How many pages' ETags and bodies are kept at most. Once that many are kept,
 * a new page is not kept until a round ends without reading some of those:
 * every refresh reads the same pages in the same order, so dropping the
 * oldest to make room would drop each page just before it is read again,
 * and nothing would be conditional any more. This way the pages kept stay
 * conditional, and only the rest are read in full.
 */
export const KEPT_PAGES = 20_000;

/** Items a page of a list holds at most, as asked for in every list's URL. */
const PER_PAGE = 100;

/** The URL of page `number + 1` of the list that starts at `first` (a path with its query). */
function pageAfter(first: string, number: number): string {
  const url = new URL(first, 'https://api.github.com');
  url.searchParams.set('page', String(number + 1));
  return `${url.pathname}${url.search}`;
}

/** The URL of the `rel="next"` page in a `Link` header, if any. */
export function nextPage(link: string | undefined): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1]!;
  }
  return null;
}

function isStatus(error: unknown, status: number): boolean {
  return (error as { status?: unknown })?.status === status;
}

export function createProgressApi(octokit: Octokit, keptPages = KEPT_PAGES): ProgressApi {
  const kept = new Map<string, Kept>();
  const usage = { full: 0, notModified: 0 };
  let round = 0;

  /** One page, conditionally: from what was kept when GitHub says it has not changed (`unchanged`). */
  async function page(url: string): Promise<{ data: unknown; next: string | null; unchanged: boolean }> {
    const before = kept.get(url);
    try {
      const response = await octokit.request(`GET ${url}`, { headers: before ? { 'if-none-match': before.etag } : {} });
      usage.full += 1;
      const link = response.headers.link;
      const entry = { etag: String(response.headers.etag ?? ''), data: response.data, next: nextPage(typeof link === 'string' ? link : undefined), round };
      if (entry.etag === '') kept.delete(url);
      else if (before !== undefined || kept.size < keptPages) kept.set(url, entry);
      return { data: entry.data, next: entry.next, unchanged: false };
    } catch (error) {
      if (before && isStatus(error, 304)) {
        usage.notModified += 1;
        before.round = round;
        return { data: before.data, next: before.next, unchanged: true };
      }
      throw error;
    }
  }

  async function allPages<T>(first: string): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    const seen = new Set<string>();
    for (let url: string | null = first; url !== null && !seen.has(url); ) {
      seen.add(url);
      const { data, next, unchanged } = await page(url);
      if (!Array.isArray(data)) throw new Error(`GitHub answered ${url} with something other than a list`);
      items.push(...(data as T[]));
      // A full last page answered 304 still has the Link of its last full read, which cannot name a page begun since
      // (a comment or an issue added after it, oldest first): the page after it is looked at, conditionally too.
      url = next ?? (unchanged && data.length >= PER_PAGE ? pageAfter(first, seen.size) : null);
    }
    return { items, pages: seen.size };
  }
  const all = async <T>(first: string): Promise<T[]> => (await allPages<T>(first)).items;

  const path = (repo: RepoRef) => `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.repo)}`;
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw toGitHubError(error, what);
    }
  };

  return {
    usage,
    endRound: () => {
      for (const [url, entry] of kept) if (entry.round !== round) kept.delete(url);
      round += 1;
    },
    issue: (repo, number) =>
      call(`read issue ${number} in ${repo.owner}/${repo.repo}`, async () => {
        try {
          return (await page(`${path(repo)}/issues/${number}`)).data as EnrollmentIssueSignal;
        } catch (error) {
          if (isStatus(error, 404) || isStatus(error, 410)) return null;
          throw error;
        }
      }),
    issueComments: (repo, number) => call(`read the comments of issue ${number} in ${repo.owner}/${repo.repo}`, () => all<IssueCommentSignal>(`${path(repo)}/issues/${number}/comments?per_page=${PER_PAGE}`)),
    repositoryIssues: (repo) => call(`read the issues of ${repo.owner}/${repo.repo}`, () => all<RoomIssueSignal>(`${path(repo)}/issues?state=all&per_page=${PER_PAGE}`)),
    issuesOldestFirst: (repo) =>
      call(`read the issues of ${repo.owner}/${repo.repo}`, async () => {
        const { items, pages } = await allPages<ListedIssueSignal>(`${path(repo)}/issues?state=all&sort=created&direction=asc&per_page=${PER_PAGE}`);
        return { issues: items, pages };
      }),
    openPullRequests: (repo) => call(`read the pull requests of ${repo.owner}/${repo.repo}`, () => all<PullRequestSignal>(`${path(repo)}/pulls?state=open&per_page=${PER_PAGE}`)),
    provisioningLog: (repo, filePath, ref) =>
      call(`read ${filePath} in ${repo.owner}/${repo.repo}`, async () => {
        const query = ref === null ? '' : `?ref=${encodeURIComponent(ref)}`;
        let data: unknown;
        try {
          data = (await page(`${path(repo)}/contents/${filePath.split('/').map(encodeURIComponent).join('/')}${query}`)).data;
        } catch (error) {
          if (isStatus(error, 404)) return [];
          throw error;
        }
        let file = data as { encoding?: string; content?: string; sha?: string };
        // Over 1 MB the contents answer carries no content: read the blob instead.
        if (file.encoding === 'none' && typeof file.sha === 'string') file = (await page(`${path(repo)}/git/blobs/${file.sha}`)).data as typeof file;
        if (file.encoding !== 'base64' || typeof file.content !== 'string') return [];
        const parsed: unknown = JSON.parse(Buffer.from(file.content, 'base64').toString('utf8'));
        return Array.isArray(parsed) ? (parsed as ProvisioningLogEntry[]) : [];
      }),
  };
}
