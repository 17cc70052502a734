/**
 * Facilitator operations: what each one does to each learner, said in words
 * before it is done (the confirmation page) and after (the result page), and
 * doing it.
 *
 * GitHub operations (labels on the enrollment issue, the Learning Room
 * invitation, starting the provisioning workflow) need GitHub mode. Roster
 * edits (notes; a Learning Room found broken, recorded as a failed
 * provisioning state) go through the store's `edit`, which records them
 * locally first and, in GitHub mode, has the sync commit them on top of the
 * newest roster of record with compare-and-swap; a concurrent edit of the
 * same field by someone else is reported, never overwritten.
 *
 * Every learner gets an outcome in words: done, unchanged, recorded (waiting
 * for the sync), skipped (the operation cannot apply to them, and why), a
 * conflict, or failed (GitHub's refusal in words). Nothing fails silently.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import {
  enrollmentIssue,
  isLinkableRepo,
  learnerNotes,
  learnerProvisionState,
  normalizeHandle,
  type EditOutcome,
  type Learner,
  type LearnerEdit,
  type ProvisionState,
} from '../roster/contract.js';
import { PROVISION_LABELS } from '../lib/labels.js';
import { RosterUnavailableError, type Logger, type RosterProblem } from '../roster/errors.js';
import { GitHubError, type GitHubProblem, type RepoRef } from './client.js';
import type { OperationsApi } from './operations-api.js';

/** Records a roster edit (the store's `edit`); null where this companion cannot edit the roster. */
export type RosterEditor = ((edit: LearnerEdit) => Promise<{ outcome: EditOutcome; current: string | null }>) | null;

// ---------------------------------------------------------------------------
// The operations

/** Operations on one learner, from the learner's page. */
export const LEARNER_OPERATIONS = ['provision', 'acked', 'needs-info', 'needs-info-clear', 'day2-released', 'invite', 'notes'] as const;
export type LearnerOperation = (typeof LEARNER_OPERATIONS)[number];
/** Operations the dashboard applies to the learners selected there. */
export const BULK_OPERATIONS = ['acked', 'needs-info', 'needs-info-clear', 'day2-released', 'invite'] as const satisfies readonly LearnerOperation[];
export type BulkOperation = (typeof BULK_OPERATIONS)[number];
/** Every operation: the learners' own, and starting provisioning for everyone waiting. */
export type Operation = LearnerOperation | 'provision-cohort';
export const OPERATIONS: readonly Operation[] = [...LEARNER_OPERATIONS, 'provision-cohort'];

export function isOperation(value: unknown): value is Operation {
  return typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value);
}

export function isBulkOperation(value: unknown): value is BulkOperation {
  return typeof value === 'string' && (BULK_OPERATIONS as readonly string[]).includes(value);
}

/** Each operation's name, as its button and the pages after it say it. */
export const OPERATION_NAMES: Record<Operation, string> = {
  provision: 'Start provisioning again',
  acked: 'Mark acknowledged',
  'needs-info': 'Mark as needing information',
  'needs-info-clear': 'Clear needs information',
  'day2-released': 'Mark Day 2 released',
  invite: 'Send the repository invitation again',
  notes: 'Save notes',
  'provision-cohort': 'Start provisioning now',
};

/** The label each label operation adds or removes. */
const LABELS = { acked: 'acked', 'needs-info': 'needs-info', 'needs-info-clear': 'needs-info', 'day2-released': 'day2-released' } as const;
type LabelOperation = keyof typeof LABELS;

/** Operations that need GitHub mode (everything but notes). */
export function needsGitHub(operation: Operation): boolean {
  return operation !== 'notes';
}

/** A digest of notes as a page showed them, so that a later change by someone else is noticed. */
export function notesDigest(notes: string): string {
  return createHash('sha256').update(notes, 'utf8').digest('base64url');
}

/** Line breaks as a browser sends them (CR LF) become the roster's own (LF). */
export function normalizeNotes(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** How long notes are, as the limit counts them: in characters, not UTF-16 units. */
export function notesLength(text: string): number {
  return [...text].length;
}

// ---------------------------------------------------------------------------
// Plans: what an operation will do to one learner

export type Plan =
  | { kind: 'label'; add: boolean; label: string; repo: RepoRef; issue: number }
  | { kind: 'invite'; repo: RepoRef }
  | { kind: 'dispatch' }
  | { kind: 'mark-failed'; from: ProvisionState }
  | { kind: 'notes' }
  | { kind: 'cannot'; reason: string };

export type Outcome = 'done' | 'unchanged' | 'recorded' | 'skipped' | 'conflict' | 'failed';

export const OUTCOME_WORDS: Record<Outcome, string> = {
  done: 'Done',
  unchanged: 'Nothing to change',
  recorded: 'Recorded',
  skipped: 'Not done',
  conflict: 'Not done: changed by someone else',
  failed: 'Failed',
};

export interface LearnerOutcome {
  readonly github_handle: string;
  readonly cohort_id: string;
  readonly outcome: Outcome;
  readonly text: string;
  /** GitHub's refusal, for the log. */
  readonly problem: GitHubProblem | null;
  readonly status: number | null;
  /** A notes edit that was not saved: what was typed, and what the notes are now. */
  readonly notes?: { readonly attempted: string; readonly current: string };
}

export interface OperationResult {
  readonly operation: Operation;
  /** When it was done (ISO). */
  readonly at: string;
  readonly dryRun: boolean;
  /** Starting provisioning for everyone: its one outcome (the learners list is then empty). */
  readonly general: { readonly outcome: Outcome; readonly text: string; readonly problem: GitHubProblem | null; readonly status: number | null } | null;
  readonly learners: ReadonlyArray<LearnerOutcome>;
}

/** What a page sent for an operation, checked, with the learners found in the roster. */
export interface OperationRequest {
  readonly operation: Operation;
  readonly learners: ReadonlyArray<Learner>;
  readonly dryRun: boolean;
  /** provision: the provisioning state each learner's page showed, by learner (identity key). */
  readonly provisionShown?: ReadonlyMap<Learner, ProvisionState>;
  /** notes: the digest of the notes as the page showed them, and the new text. */
  readonly notes?: { readonly seen: string; readonly text: string };
}

const repoRef = (full: string): RepoRef => {
  const [owner, repo] = full.split('/') as [string, string];
  return { owner, repo };
};

/** Why a roster edit could not be recorded, by the store's problem. */
const ROSTER_WORDS: Record<RosterProblem, string> = {
  busy: 'The roster file is busy (another write held it too long), so nothing was saved. Try again in a minute.',
  unwritable: 'The roster file could not be written, so nothing was saved. The details are in the server log.',
  unreadable: 'The roster file could not be read, so nothing was saved. The details are in the server log.',
};

export interface OperationsDeps {
  readonly config: Config;
  /** Where unexpected failures are logged with their details. */
  readonly log?: Logger;
  /** GitHub mode's calls; null in local mode. */
  readonly api: OperationsApi | null;
  readonly edit: RosterEditor;
  readonly now?: () => Date;
}

/** How many learners' GitHub calls are in flight at once in a bulk operation. */
export const BULK_CONCURRENCY = 4;

export class FacilitatorOperations {
  private readonly now: () => Date;

  constructor(private readonly deps: OperationsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** GitHub mode: the operations on GitHub can be offered. */
  get github(): boolean {
    return this.deps.api !== null && this.deps.config.github !== null;
  }

  /** Why GitHub operations are not offered, in words; null when they are. */
  get githubUnavailable(): string | null {
    return this.github
      ? null
      : 'This companion is in local mode: it is not connected to GitHub, so it cannot add labels, send invitations or start provisioning. Those operations need GitHub mode (COMPANION_GITHUB_REPO); notes can still be edited here.';
  }

  /** Where the provisioning workflow is; null when no provisioning repository is configured. */
  get provisioning(): { repo: string; workflow: string; ref: string } | null {
    const p = this.deps.config.github?.provisioning ?? null;
    return p === null ? null : { repo: `${p.owner}/${p.repo}`, workflow: p.workflow, ref: p.ref };
  }

  /** Why provisioning cannot be started, in words; null when it can. */
  get provisioningUnavailable(): string | null {
    if (!this.github) return this.githubUnavailable;
    if (this.provisioning === null) return 'Starting provisioning is not offered: COMPANION_PROVISIONING_REPO is not set, so this companion does not know which workflow provisions Learning Rooms.';
    return null;
  }

  /** Why roster edits cannot be made, in words; null when they can. */
  get editsUnavailable(): string | null {
    return this.deps.edit === null ? 'Editing the roster is not available in this version of the companion.' : null;
  }

  /** What `operation` will do to `learner`. */
  plan(operation: LearnerOperation, learner: Learner): Plan {
    const handle = normalizeHandle(learner.github_handle);
    if (needsGitHub(operation) && !this.github) return { kind: 'cannot', reason: this.githubUnavailable! };
    switch (operation) {
      case 'acked':
      case 'needs-info':
      case 'needs-info-clear':
      case 'day2-released': {
        const issue = enrollmentIssue(learner);
        if (issue === null) return { kind: 'cannot', reason: `No enrollment issue is recorded for ${handle}, so there is no issue to label.` };
        if (!isLinkableRepo(issue.repo)) return { kind: 'cannot', reason: `The enrollment repository recorded for ${handle} ("${issue.repo}") is not a repository name, so there is no issue to label.` };
        return { kind: 'label', add: operation !== 'needs-info-clear', label: LABELS[operation as LabelOperation], repo: repoRef(issue.repo), issue: issue.number };
      }
      case 'invite': {
        const room = typeof learner.learning_room_repo === 'string' ? learner.learning_room_repo.trim() : '';
        if (room === '') return { kind: 'cannot', reason: `${handle} has no Learning Room repository yet, so there is nothing to invite them to. Start provisioning instead.` };
        if (!isLinkableRepo(room)) return { kind: 'cannot', reason: `The Learning Room recorded for ${handle} ("${room}") is not a repository name, so no invitation can be sent.` };
        return { kind: 'invite', repo: repoRef(room) };
      }
      case 'provision': {
        const unavailable = this.provisioningUnavailable;
        if (unavailable !== null) return { kind: 'cannot', reason: unavailable };
        const state = learnerProvisionState(learner);
        if (state === 'pending' || state === 'failed') return { kind: 'dispatch' };
        if (this.editsUnavailable !== null) return { kind: 'cannot', reason: this.editsUnavailable };
        return { kind: 'mark-failed', from: state };
      }
      case 'notes':
        return this.editsUnavailable === null ? { kind: 'notes' } : { kind: 'cannot', reason: this.editsUnavailable };
    }
  }

  /** What a plan will do, in a sentence, for the confirmation page. */
  describe(plan: Plan, learner: Learner): string {
    const handle = normalizeHandle(learner.github_handle);
    const p = this.provisioning;
    switch (plan.kind) {
      case 'label':
        return plan.add
          ? `Add the label ${plan.label} to ${handle}'s enrollment issue, ${plan.repo.owner}/${plan.repo.repo}#${plan.issue}.`
          : `Remove the label ${plan.label} from ${handle}'s enrollment issue, ${plan.repo.owner}/${plan.repo.repo}#${plan.issue}, if it is there.`;
      case 'invite':
        return `Invite ${handle} to ${plan.repo.owner}/${plan.repo.repo} with write access. GitHub sends the invitation again (it replaces one still waiting). If ${handle} already is a collaborator, GitHub sends none and sets their access to write.`;
      case 'dispatch':
        return `Start the provisioning workflow ${p!.workflow} in ${p!.repo} on ${p!.ref}. ${handle}'s provisioning state is ${PROVISION_LABELS[learnerProvisionState(learner)].toLowerCase()}, so the workflow tries their Learning Room again. It works on every learner waiting or failed in the roster of record, not only ${handle}.`;
      case 'mark-failed':
        return `Set ${handle}'s provisioning state from ${PROVISION_LABELS[plan.from]} to Failed (their Learning Room is broken), then start the provisioning workflow ${p!.workflow} in ${p!.repo}, which tries their Learning Room again. The change is recorded here at once; it reaches the roster of record at the next sync, and the workflow is started after that commit.`;
      case 'notes':
        return `Replace ${handle}'s facilitator notes with the text below.`;
      case 'cannot':
        return plan.reason;
    }
  }

  /** Who will see the effect of an operation, in words. */
  audience(operation: Operation): string[] {
    const admin = this.deps.config.github === null ? null : `${this.deps.config.github.owner}/${this.deps.config.github.repo}`;
    const p = this.provisioning;
    switch (operation) {
      case 'acked':
      case 'needs-info':
      case 'needs-info-clear':
      case 'day2-released':
        return [
          'A label on an enrollment issue is as public as the issue: everyone who can see the enrollment repository sees it, and the workshop\'s enrollment repository is usually public, so that is anyone.',
          'The learner sees it on their issue and may be notified; the issue\'s history shows who changed the label (the companion\'s GitHub account or App).',
        ];
      case 'invite':
        return [
          'The learner gets the invitation by e-mail and in their GitHub notifications.',
          'People who manage the Learning Room repository see the waiting invitation in its settings.',
        ];
      case 'provision':
      case 'provision-cohort':
        return [
          `Everyone who can see ${p?.repo ?? 'the provisioning repository'} sees the workflow run in its Actions tab (anyone, if that repository is public).`,
          'Learners whose Learning Room is created are sent an invitation to it.',
          ...(operation === 'provision' && admin !== null ? [`A change of provisioning state is committed to the private admin repository ${admin}; people with access to it see it.`] : []),
        ];
      case 'notes':
        return [
          'Only facilitators: notes are never shown on a public page, in the redacted roster.json or in the CSV download.',
          admin === null
            ? 'They are kept in the roster file on this server.'
            : `They are committed to the roster of record in the private admin repository ${admin}, so everyone with access to that repository can read them.`,
        ];
    }
  }

  /** Does an operation, learner by learner; never throws for a GitHub refusal. */
  async run(request: OperationRequest): Promise<OperationResult> {
    const at = this.now().toISOString();
    const base = { operation: request.operation, at, dryRun: request.operation === 'provision-cohort' && request.dryRun };
    if (request.operation === 'provision-cohort') return { ...base, general: await this.startProvisioning(request.dryRun, null), learners: [] };
    const operation = request.operation;
    const outcomes: LearnerOutcome[] = new Array(request.learners.length);
    let next = 0;
    const worker = async () => {
      while (next < request.learners.length) {
        const index = next++;
        const learner = request.learners[index]!;
        outcomes[index] = await this.runOne(operation, learner, request);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, request.learners.length) }, worker));
    return { ...base, general: null, learners: outcomes };
  }

  private async runOne(operation: LearnerOperation, learner: Learner, request: OperationRequest): Promise<LearnerOutcome> {
    const handle = normalizeHandle(learner.github_handle);
    const who = { github_handle: handle, cohort_id: learner.cohort_id };
    const outcome = (kind: Outcome, text: string, extra: Partial<LearnerOutcome> = {}): LearnerOutcome => ({ ...who, outcome: kind, text, problem: null, status: null, ...extra });
    const failure = (error: unknown): LearnerOutcome => {
      if (error instanceof GitHubError) return outcome('failed', `${error.plain}.`, { problem: error.problem, status: error.status });
      // The details (a file path, a system error) go to the log, not the page.
      this.deps.log?.error({ err: error, github_handle: handle, cohort_id: learner.cohort_id, operation }, 'facilitator operation: an unexpected failure');
      if (error instanceof RosterUnavailableError) {
        return outcome('failed', ROSTER_WORDS[error.problem]);
      }
      return outcome('failed', 'The companion met a problem it did not expect (the details are in the server log), so it is not known whether anything changed. Look at the learner\'s page before trying again.');
    };
    const plan = this.plan(operation, learner);
    const api = this.deps.api;
    try {
      switch (plan.kind) {
        case 'cannot':
          return outcome('skipped', plan.reason);
        case 'label': {
          const issue = `${plan.repo.owner}/${plan.repo.repo}#${plan.issue}`;
          if (plan.add) {
            await api!.addLabel(plan.repo, plan.issue, plan.label);
            return outcome('done', `The enrollment issue ${issue} now has the label ${plan.label}.`);
          }
          const removed = await api!.removeLabel(plan.repo, plan.issue, plan.label);
          return removed === 'removed'
            ? outcome('done', `The label ${plan.label} was removed from the enrollment issue ${issue}.`)
            : outcome('unchanged', `The enrollment issue ${issue} did not have the label ${plan.label}, so there was nothing to remove.`);
        }
        case 'invite': {
          const room = `${plan.repo.owner}/${plan.repo.repo}`;
          const result = await api!.invite(plan.repo, handle);
          return result === 'invited'
            ? outcome('done', `GitHub sent ${handle} an invitation to ${room} with write access; they accept it from their GitHub notifications or the e-mail.`)
            : outcome('unchanged', `${handle} already is a collaborator on ${room}, so GitHub sent no invitation; their access is write.`);
        }
        case 'dispatch':
        case 'mark-failed':
          return await this.provisionOne(learner, request.provisionShown?.get(learner) ?? null, outcome);
        case 'notes':
          return await this.saveNotes(learner, request.notes!, outcome);
      }
    } catch (error) {
      return failure(error);
    }
  }

  /**
   * Provisioning one learner again. Waiting or failed: the workflow is
   * started. Provisioned or healed (the Learning Room is broken): the
   * provisioning state becomes failed through a roster edit, and the sync
   * starts the workflow once the roster of record has it. A state that
   * changed since the page was shown is not overridden.
   */
  private async provisionOne(learner: Learner, shown: ProvisionState | null, outcome: (kind: Outcome, text: string, extra?: Partial<LearnerOutcome>) => LearnerOutcome): Promise<LearnerOutcome> {
    const handle = normalizeHandle(learner.github_handle);
    const current = learnerProvisionState(learner);
    const changed = shown !== null && shown !== current;
    if (current === 'pending' || current === 'failed') {
      const started = await this.startProvisioning(false, handle);
      const note = changed ? ` (${handle}'s provisioning state changed to ${PROVISION_LABELS[current].toLowerCase()} since the page was shown)` : '';
      return outcome(started.outcome, `${started.text}${note}`, { problem: started.problem, status: started.status });
    }
    if (changed || shown === null) {
      return outcome('conflict', `Nothing was changed or started: ${handle}'s provisioning state changed since the page was shown, and is now ${PROVISION_LABELS[current].toLowerCase()}. Open ${handle}'s page again to see it.`);
    }
    const edited = await this.deps.edit!({ github_handle: learner.github_handle, cohort_id: learner.cohort_id, field: 'provision_state', from: current, to: 'failed' });
    switch (edited.outcome) {
      case 'edited':
        return outcome(
          'recorded',
          `${handle}'s provisioning state is now Failed here. It reaches the roster of record at the next sync, within a minute, and the provisioning workflow is started after that commit; if someone changes the state in the admin repository first, the change is not made and the dashboard says so.`,
        );
      case 'unchanged': {
        const started = await this.startProvisioning(false, handle);
        return outcome(started.outcome, started.text, { problem: started.problem, status: started.status });
      }
      case 'conflict':
        return outcome('conflict', `Nothing was changed or started: someone else changed ${handle}'s provisioning state since the page was shown; it is now ${edited.current ?? 'unknown'}.`);
      case 'missing':
        return outcome('skipped', `${handle} is no longer in the roster, so nothing was changed.`);
    }
  }

  private async saveNotes(learner: Learner, notes: { seen: string; text: string }, outcome: (kind: Outcome, text: string, extra?: Partial<LearnerOutcome>) => LearnerOutcome): Promise<LearnerOutcome> {
    const handle = normalizeHandle(learner.github_handle);
    const current = learnerNotes(learner);
    const conflict = (now: string) =>
      outcome('conflict', `Not saved: someone else changed ${handle}'s notes since you opened the page. What you typed is below, with the notes as they are now.`, { notes: { attempted: notes.text, current: now } });
    if (notesDigest(current) !== notes.seen) return conflict(current);
    if (current === notes.text) return outcome('unchanged', `${handle}'s notes already were exactly this, so nothing changed.`);
    const edited = await this.deps.edit!({ github_handle: learner.github_handle, cohort_id: learner.cohort_id, field: 'notes', from: current, to: notes.text });
    switch (edited.outcome) {
      case 'edited':
        return this.github
          ? outcome('recorded', `Notes saved for ${handle}. They reach the roster of record in the admin repository at the next sync.`)
          : outcome('done', `Notes saved for ${handle} in the roster file.`);
      case 'unchanged':
        return outcome('unchanged', `${handle}'s notes already were exactly this, so nothing changed.`);
      case 'conflict':
        return conflict(edited.current ?? '');
      case 'missing':
        return outcome('skipped', `${handle} is no longer in the roster, so the notes were not saved.`);
    }
  }

  /** Starts the provisioning workflow; its outcome in words (for one learner when `handle` is given). */
  private async startProvisioning(dryRun: boolean, handle: string | null): Promise<{ outcome: Outcome; text: string; problem: GitHubProblem | null; status: number | null }> {
    const unavailable = this.provisioningUnavailable;
    if (unavailable !== null) return { outcome: 'skipped', text: unavailable, problem: null, status: null };
    const p = this.deps.config.github!.provisioning!;
    try {
      await this.deps.api!.dispatch({ owner: p.owner, repo: p.repo }, p.workflow, p.ref, dryRun);
    } catch (error) {
      if (error instanceof GitHubError) return { outcome: 'failed', text: `${error.plain}.`, problem: error.problem, status: error.status };
      throw error;
    }
    const started = `The provisioning workflow ${p.workflow} was started in ${p.owner}/${p.repo} on ${p.ref}`;
    if (dryRun) return { outcome: 'done', text: `${started} as a dry run: it reports what it would create and creates nothing. Its report is in the workflow run's log on GitHub.`, problem: null, status: null };
    return {
      outcome: 'done',
      text:
        handle === null
          ? `${started}. It provisions every learner waiting or failed in the roster of record; their Learning Rooms appear within minutes, and the dashboard shows the new states after the next sync.`
          : `${started}. It provisions every learner waiting or failed in the roster of record, ${handle} included; ${handle}'s page shows the attempt once the provisioning log records it.`,
      problem: null,
      status: null,
    };
  }
}
