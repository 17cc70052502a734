/**
 * The GitHub calls behind the facilitator operations, over the same
 * connection (and so the same rate-limit gate) as the roster sync and the
 * progress reader:
 *
 * - labels on a learner's enrollment issue:
 *   `POST /repos/{o}/{r}/issues/{n}/labels` (200 with the issue's labels),
 *   `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}` (200; 404 "Label does
 *   not exist" when the issue does not carry it);
 * - the invitation to a Learning Room:
 *   `PUT /repos/{o}/{r}/collaborators/{username}` with `permission: push`
 *   (201 with an invitation, 204 when the person already is a collaborator);
 * - starting the provisioning workflow:
 *   `POST /repos/{o}/{r}/actions/workflows/{workflow}/dispatches` with
 *   `inputs.dry_run` (204; 422 when the workflow cannot take it).
 *
 * Every failure becomes a GitHubError whose words say what did not happen
 * and why, naming the permission a refusal is about. These calls are made
 * once, when a facilitator asks, never retried in the background: the words
 * say so, and say when it is not known whether GitHub acted (a network
 * failure after the request was sent).
 */
import { GitHubError, callsOver, describeNetworkError, toGitHubError, type GitHubConnection, type OctokitErrorShape, type RepoRef } from './client.js';

export interface OperationsApi {
  /** Adds a label to an issue (nothing changes when it is already there). */
  addLabel(repo: RepoRef, issue: number, label: string): Promise<void>;
  /** Removes a label from an issue; 'absent' when the issue did not carry it. */
  removeLabel(repo: RepoRef, issue: number, label: string): Promise<'removed' | 'absent'>;
  /** Invites a person to a repository with write (push) access; 'collaborator' when they already are one. */
  invite(repo: RepoRef, login: string): Promise<'invited' | 'collaborator'>;
  /** Starts a workflow on a ref with `inputs.dry_run`. */
  dispatch(repo: RepoRef, workflow: string, ref: string, dryRun: boolean): Promise<void>;
}

/** What a call was for, in the words its failures use. */
interface Action {
  /** "add the label acked to issue 12 in owner/repo". */
  readonly what: string;
  /** What the token could not do, after "the token cannot": "add labels in owner/repo". */
  readonly cannot: string;
  /** The permission it needs, as GitHub names it: "Issues: read and write". */
  readonly permission: string;
  /** What a 404 means for this call. */
  readonly notFound: string;
  /** Whether trying again is harmless (adding a label twice changes nothing; starting a workflow twice runs it twice). */
  readonly repeatable: boolean;
}

function githubSaid(error: unknown): string {
  const data = (error as OctokitErrorShape | null)?.response?.data;
  const message = typeof data === 'object' && data !== null && 'message' in data ? String((data as { message: unknown }).message) : '';
  return message.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function acceptedPermissions(error: unknown): string | null {
  const value = (error as OctokitErrorShape | null)?.response?.headers?.['x-accepted-github-permissions'];
  return value === undefined || String(value).trim() === '' ? null : String(value).replace(/\s+/g, ' ').slice(0, 200);
}

/** The words for a failed operation call: what did not happen, why, and what to do. */
export function operationError(error: unknown, action: Action, now = Date.now()): GitHubError {
  const base = toGitHubError(error, action.what, now);
  const said = githubSaid(error);
  const unknownOutcome = action.repeatable
    ? 'so it is not known whether it happened. Look on GitHub, or try again: trying again is harmless'
    : 'so it is not known whether it happened. Look on GitHub before trying again: trying again may do it twice';
  switch (base.problem) {
    case 'rate-limited': {
      const at = base.retryAt ?? now + 60_000;
      return new GitHubError(base.problem, `GitHub's rate limit is used up until ${new Date(at).toISOString()}, so the companion did not ${action.what}. Try again after that time`, base.status, at);
    }
    case 'auth':
      return new GitHubError(base.problem, `GitHub did not accept the token (it may have expired or been revoked), so the companion could not ${action.what}`, base.status);
    case 'forbidden': {
      const accepted = acceptedPermissions(error);
      const details = [said ? `GitHub said: ${said}` : null, accepted ? `it would accept: ${accepted}` : null].filter((x) => x !== null).join('; ');
      return new GitHubError(base.problem, `GitHub refused: the token cannot ${action.cannot} (it needs ${action.permission})${details ? ` (${details})` : ''}`, base.status);
    }
    case 'not-found':
      return new GitHubError(base.problem, `GitHub answered "not found" when the companion tried to ${action.what}: ${action.notFound}`, base.status);
    case 'unreachable':
      return new GitHubError(base.problem, `GitHub could not be reached to ${action.what} (${describeNetworkError((error ?? {}) as OctokitErrorShape)}), ${unknownOutcome}`, base.status);
    case 'server':
      return new GitHubError(base.problem, `GitHub answered with a server error (${base.status ?? 'no status'}) when the companion tried to ${action.what}, ${unknownOutcome}`, base.status);
    case 'refused':
      return new GitHubError(base.problem, `GitHub refused to ${action.what} (${base.status ?? 'no status'}${said ? `: ${said}` : ''})`, base.status);
  }
}

const full = (repo: RepoRef) => `${repo.owner}/${repo.repo}`;

function labelAction(repo: RepoRef, issue: number, label: string, verb: 'add' | 'remove'): Action {
  return {
    what: verb === 'add' ? `add the label ${label} to issue ${issue} in ${full(repo)}` : `remove the label ${label} from issue ${issue} in ${full(repo)}`,
    cannot: `${verb} labels in ${full(repo)}`,
    permission: 'Issues: read and write on that repository',
    notFound: `issue ${issue} does not exist in ${full(repo)}, or the token cannot see that repository`,
    repeatable: true,
  };
}

function isStatus(error: unknown, status: number): boolean {
  return (error as OctokitErrorShape | null)?.status === status;
}

/** The operations' calls over a connection to GitHub. */
export function createOperationsApi(connection: GitHubConnection): OperationsApi {
  const { octokit } = connection;
  const call = callsOver(connection, (error, action: Action) => operationError(error, action));
  return {
    addLabel: (repo, issue, label) =>
      call(labelAction(repo, issue, label, 'add'), async () => {
        await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', { ...repo, issue_number: issue, labels: [label] });
      }),

    removeLabel: (repo, issue, label) =>
      call(labelAction(repo, issue, label, 'remove'), async () => {
        try {
          await octokit.request('DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', { ...repo, issue_number: issue, name: label });
          return 'removed' as const;
        } catch (error) {
          // GitHub answers 404 "Label does not exist" when the issue does not carry the label; any other 404 is the issue or repository.
          if (isStatus(error, 404) && /label does not exist/i.test(githubSaid(error))) return 'absent' as const;
          throw error;
        }
      }),

    invite: (repo, login) =>
      call(
        {
          what: `invite ${login} to ${full(repo)}`,
          cannot: `invite collaborators to ${full(repo)}`,
          permission: 'Administration: read and write on that repository',
          notFound: `${full(repo)} does not exist or the token cannot see it, or there is no GitHub account named ${login}`,
          repeatable: true,
        },
        async () => {
          const response = await octokit.request('PUT /repos/{owner}/{repo}/collaborators/{username}', { ...repo, username: login, permission: 'push' });
          return (response.status as number) === 204 ? ('collaborator' as const) : ('invited' as const);
        },
      ),

    dispatch: (repo, workflow, ref, dryRun) =>
      call(
        {
          what: `start the workflow ${workflow} in ${full(repo)}${dryRun ? ' as a dry run' : ''}`,
          cannot: `start workflows in ${full(repo)}`,
          permission: 'Actions: read and write on that repository',
          notFound: `the workflow ${workflow} does not exist in ${full(repo)}, or the token cannot see that repository`,
          repeatable: false,
        },
        async () => {
          await octokit.request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', {
            ...repo,
            workflow_id: workflow,
            ref,
            inputs: { dry_run: dryRun ? 'true' : 'false' },
          });
        },
      ),
  };
}
