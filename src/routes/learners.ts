/**
 * A page per learner, for facilitators: every roster field (notes included),
 * progress derived from GitHub with its evidence, the challenge list, pull
 * requests awaiting review, the provisioning attempts, and links to the
 * learner's places on GitHub.
 *
 * The address is /learners/{cohort_id}/{github_handle}, both segments
 * percent-encoded (`learnerPath`). A learner is found by the contract's
 * identity key: the handle without regard to case (or a leading `@`), the
 * cohort id exactly.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  LEARNER_FIELDS,
  NOTES_MAX_LENGTH,
  cohortLabel,
  enrollmentIssue,
  isLinkableRepo,
  learnerKey,
  learnerNotes,
  learnerPath as dayPathOf,
  learnerProvisionState,
  learnerStatus,
  listedCohorts,
  normalizeHandle,
  type Learner,
  type Learners,
  type Roster,
} from '../roster/contract.js';
import { keyOfLearner } from '../roster/incremental.js';
import { derivedFrom } from '../lib/derived.js';
import { HttpError } from '../http/errors.js';
import { shellFor } from '../http/shell.js';
import {
  render,
  textField,
  type FieldError,
  type LearnerAttemptRow,
  type LearnerChallengeRow,
  type LearnerFieldModel,
  type LearnerLinkModel,
  type LearnerOperationModel,
  type LearnerOperationsModel,
  type LearnerPageModel,
  type LearnerProgressModel,
  type LearnerReviewItem,
  type LearnerSnapshotModel,
  type TimeModel,
} from '../http/views.js';
import type { ProgressState } from '../github/progress.js';
import type { EditProblem } from '../github/sync.js';
import {
  deriveProgress,
  describeEvidence,
  formatDuration,
  needsAttention,
  thresholdsOf,
  type LearnerProgress,
  type ProgressContext,
  type ProvisioningResult,
} from '../github/progress-rules.js';
import { timeModel } from './time.js';
import { requireFacilitator } from './auth.js';
import type { AppContext } from './context.js';
import { PATH_LABELS, PROVISION_LABELS, STATUS_LABELS } from '../lib/labels.js';
import { OPERATION_NAMES, notesDigest, type FacilitatorOperations, type LearnerOperation } from '../github/operations.js';

/**
 * The learner page's address: the cohort id and the handle (without a
 * leading `@`), each percent-encoded as one path segment. Any spelling of the
 * handle's case finds the same learner.
 */
export function learnerPath(learner: Pick<Learner, 'github_handle' | 'cohort_id'>): string {
  return `/learners/${encodeURIComponent(learner.cohort_id)}/${encodeURIComponent(normalizeHandle(learner.github_handle))}`;
}

const RESULT_LABELS: Record<ProvisioningResult, string> = {
  created: 'Created: a new Learning Room was made',
  'already-exists': 'Already existed: the Learning Room was there',
  healed: 'Healed: the Learning Room was repaired',
  error: 'Failed',
};
const ACTIVITY_LABELS = { comment: 'a comment on the enrollment issue', challenge: 'a challenge issue updated', 'pull-request': 'a pull request updated' } as const;

/** The roster's learners by identity key, built once per learners array (the store hands out the same array until the file changes). */
const byKey = derivedFrom<Learners, ReadonlyMap<string, Learner>>((learners) => new Map(learners.map((learner) => [keyOfLearner(learner), learner])));

export function findLearner(roster: Roster, cohortId: string, handle: string): Learner | null {
  return byKey.get(roster.learners).get(learnerKey(handle, cohortId)) ?? null;
}

const githubUrl = (repo: string, rest = ''): string | null => (isLinkableRepo(repo) ? `https://github.com/${repo}${rest}` : null);
const repoOf = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value : null);

function field(label: string, text: string): LearnerFieldModel {
  return { label, lines: text.split(/\r\n|\r|\n/), time: null };
}

function timeField(label: string, value: string | null | undefined, missing: string): LearnerFieldModel {
  const time = timeModel(value);
  return time === null ? field(label, typeof value === 'string' && value !== '' ? value : missing) : { label, lines: [], time };
}

/** Names of the contract's fields, in its table order; anything else in the record is shown after them as it is. */
const CONTRACT_FIELDS: ReadonlySet<string> = new Set(LEARNER_FIELDS);

function rosterFields(learner: Learner, cohortName: string): LearnerFieldModel[] {
  const recorded = (name: keyof Learner, text: string) => (learner[name] === undefined ? `${text} (not recorded; the contract's default)` : text);
  const room = repoOf(learner.learning_room_repo);
  const notes = typeof learner.notes === 'string' && learner.notes.trim() !== '' ? learner.notes : null;
  const fields: LearnerFieldModel[] = [
    field('GitHub username', normalizeHandle(learner.github_handle)),
    field('Cohort', cohortName === learner.cohort_id ? learner.cohort_id : `${cohortName} (${learner.cohort_id})`),
    field('Path', recorded('path', PATH_LABELS[dayPathOf(learner)])),
    field('Learning Room repository', room ?? 'Not yet created'),
    field('Provisioning state', recorded('provision_state', PROVISION_LABELS[learnerProvisionState(learner)])),
    field('Progress status recorded in the roster', recorded('status', STATUS_LABELS[learnerStatus(learner)])),
    timeField('Registered', learner.registered_at, 'Not recorded'),
    timeField('Last signal recorded in the roster', learner.last_signal_at, 'None yet'),
    field('Enrollment repository', repoOf(learner.enrollment_repo) ?? 'Not recorded'),
    field('Enrollment issue number', typeof learner.enrollment_issue_number === 'number' ? String(learner.enrollment_issue_number) : 'Not recorded'),
    field('Facilitator notes', notes ?? 'No notes'),
  ];
  for (const [name, value] of Object.entries(learner)) {
    if (CONTRACT_FIELDS.has(name)) continue;
    fields.push(field(`Other field: ${name}`, typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)));
  }
  return fields;
}

function links(learner: Learner): LearnerLinkModel[] {
  const handle = normalizeHandle(learner.github_handle);
  const result: LearnerLinkModel[] = [{ label: 'GitHub profile', text: `${handle} on GitHub`, url: `https://github.com/${encodeURIComponent(handle)}` }];
  const room = repoOf(learner.learning_room_repo);
  result.push(room === null ? { label: 'Learning Room', text: 'Not yet created', url: null } : { label: 'Learning Room', text: room, url: githubUrl(room) });
  const issue = enrollmentIssue(learner);
  result.push(
    issue === null
      ? { label: 'Enrollment issue', text: 'Not recorded', url: null }
      : { label: 'Enrollment issue', text: `${issue.repo}#${issue.number}`, url: githubUrl(issue.repo, `/issues/${issue.number}`) },
  );
  return result;
}

function snapshotModel(state: ProgressState, now: Date): LearnerSnapshotModel {
  const { snapshot, refreshing, problem } = state;
  const time = (date: Date): TimeModel => timeModel(date.toISOString())!;
  return {
    takenAt: snapshot === null ? null : time(snapshot.takenAt),
    age: snapshot === null ? null : formatDuration(now.getTime() - snapshot.takenAt.getTime()),
    refreshing,
    problem: problem === null ? null : { text: problem.text, time: time(problem.at) },
  };
}

function derivedModel(learner: Learner, progress: LearnerProgress, snapshot: LearnerSnapshotModel, context: ProgressContext): LearnerProgressModel {
  const room = repoOf(learner.learning_room_repo);
  const now = context.now.getTime();
  const challenges: LearnerChallengeRow[] = progress.challenges.map((c) => {
    const current = c.state === 'open' && c.challenge === progress.currentChallenge;
    return {
      name: `Challenge ${c.challenge}`,
      title: c.title,
      url: room === null ? null : githubUrl(room, `/issues/${c.issue}`),
      state: c.state === 'closed' ? 'Closed' : current ? 'Open: the current challenge' : 'Open',
      current,
      updated: timeModel(c.updatedAt),
      closed: timeModel(c.closedAt),
    };
  });
  const reviews: LearnerReviewItem[] = progress.awaitingReview.map((pr) => ({
    number: pr.number,
    title: pr.title,
    url: room === null ? null : githubUrl(room, `/pull/${pr.number}`),
    author: pr.author,
    opened: timeModel(pr.openedAt),
    waited: formatDuration(now - Date.parse(pr.openedAt)),
  }));
  const attempts: LearnerAttemptRow[] = progress.provisioningAttempts.map((a) => ({
    when: timeModel(a.attempt_at),
    result: RESULT_LABELS[a.result] ?? String(a.result),
    repo: repoOf(a.repo),
    error: typeof a.error_detail === 'string' && a.error_detail.trim() !== '' ? a.error_detail : null,
  }));
  const activity = progress.lastActivity;
  const facts: LearnerFieldModel[] = [
    field('Challenges completed', String(progress.challengesCompleted)),
    field('Current challenge', progress.currentChallenge === null ? 'None open' : `Challenge ${progress.currentChallenge}`),
    field('Day 1 complete', progress.dayOneComplete ? 'Yes: Challenge 9 is closed' : 'No: Challenge 9 is not closed'),
    field('Stuck', progress.stuck === null ? 'No' : `Yes: Challenge ${progress.stuck.challenge} has not moved for ${formatDuration(now - Date.parse(progress.stuck.idleSince))}`),
    activity === null ? field('Last activity', 'None seen on GitHub') : { label: `Last activity (${ACTIVITY_LABELS[activity.signal]})`, lines: [], time: timeModel(activity.at) },
  ];
  return {
    mode: 'github',
    status: STATUS_LABELS[progress.status],
    evidence: progress.evidence.map(describeEvidence),
    snapshot,
    facts,
    challenges,
    reviews,
    reviewAfter: formatDuration(thresholdsOf(context).reviewAfterMinutes * 60_000),
    attempts,
  };
}

/** A notes form sent back with an error: what was typed, and the error's words. */
export interface NotesFormState {
  readonly text: string;
  /** The digest of the notes as the page the facilitator typed on showed them. */
  readonly seen: string;
  readonly error: string;
}

const NOTES_HINT = `Only facilitators see notes. Up to ${NOTES_MAX_LENGTH} characters.`;

/** What each learner operation does, under its button. */
const OPERATION_HINTS: Record<Exclude<LearnerOperation, 'notes' | 'provision'>, string> = {
  acked: 'Adds the label acked to the enrollment issue, as if the learner had replied ack.',
  'needs-info': 'Adds the label needs-info to the enrollment issue: the learner needs to give the facilitators more information.',
  'needs-info-clear': 'Removes the label needs-info from the enrollment issue.',
  'day2-released': 'Adds the label day2-released to the enrollment issue: Day 2 is open to the learner.',
  invite: 'Sends the invitation to the Learning Room repository again, for a learner who lost or let the first one expire.',
};

/** The operations section of a learner's page: what is offered, what is not and why, and the notes form. */
export function learnerOperationsModel(
  ops: FacilitatorOperations,
  learner: Learner,
  notesForm: NotesFormState | null = null,
  editProblems: ReadonlyArray<EditProblem> = [],
): LearnerOperationsModel {
  const offered: LearnerOperationModel[] = [];
  const notOffered: string[] = [];
  const handle = normalizeHandle(learner.github_handle);
  if (ops.github) {
    const provision = ops.plan('provision', learner);
    if (provision.kind === 'dispatch') {
      const state = learnerProvisionState(learner);
      offered.push({
        operation: 'provision',
        label: state === 'pending' ? 'Start provisioning' : OPERATION_NAMES.provision,
        hint: 'Starts the provisioning workflow, which tries every learner waiting or failed, this one included.',
        from: state,
      });
    } else if (provision.kind === 'mark-failed') {
      offered.push({
        operation: 'provision',
        label: 'Provision again: the Learning Room is broken',
        hint: `Sets the provisioning state from ${PROVISION_LABELS[provision.from]} to Failed in the roster of record, then starts the provisioning workflow.`,
        from: provision.from,
      });
    } else if (provision.kind === 'cannot') {
      notOffered.push(provision.reason);
    }
    const labelPlan = ops.plan('acked', learner);
    if (labelPlan.kind === 'label') {
      for (const operation of ['acked', 'needs-info', 'needs-info-clear', 'day2-released'] as const) {
        offered.push({ operation, label: OPERATION_NAMES[operation], hint: OPERATION_HINTS[operation], from: null });
      }
    } else if (labelPlan.kind === 'cannot') {
      const lower = (name: string) => `${name.charAt(0).toLowerCase()}${name.slice(1)}`;
      notOffered.push(`${OPERATION_NAMES.acked}, ${lower(OPERATION_NAMES['needs-info'])}, ${lower(OPERATION_NAMES['needs-info-clear'])} and ${lower(OPERATION_NAMES['day2-released'])} are not offered: ${labelPlan.reason}`);
    }
    const invitePlan = ops.plan('invite', learner);
    if (invitePlan.kind === 'invite') offered.push({ operation: 'invite', label: OPERATION_NAMES.invite, hint: OPERATION_HINTS.invite, from: null });
    else if (invitePlan.kind === 'cannot') notOffered.push(`${OPERATION_NAMES.invite} is not offered: ${invitePlan.reason}`);
  }
  const notesPlan = ops.plan('notes', learner);
  const current = learnerNotes(learner);
  return {
    learner: keyOfLearner(learner),
    back: learnerPath(learner),
    offered,
    notOffered: ops.github ? notOffered : [ops.githubUnavailable!],
    notes:
      notesPlan.kind === 'notes'
        ? {
            field: textField('notes', `Facilitator notes for ${handle}`, NOTES_HINT, notesForm?.text ?? current, notesForm?.error ?? null),
            seen: notesForm?.seen ?? notesDigest(current),
          }
        : null,
    notesUnavailable: notesPlan.kind === 'cannot' ? notesPlan.reason : null,
    editProblems: editProblems
      .filter((p) => learnerKey(p.github_handle, p.cohort_id) === keyOfLearner(learner))
      .reverse()
      .map((p) => ({ text: p.text, time: timeModel(p.at.toISOString())! })),
  };
}

/** What the learner page shows; `state` is the progress reader's (null in local mode). */
export function learnerPageModel(
  roster: Roster,
  learner: Learner,
  state: ProgressState | null,
  stuckMinutes: number | undefined,
  now: Date,
  operations: LearnerOperationsModel,
  errors: FieldError[] = [],
): LearnerPageModel {
  const handle = normalizeHandle(learner.github_handle);
  const cohort = listedCohorts(roster).find((c) => c.cohort_id === learner.cohort_id);
  const cohortName = cohort === undefined ? learner.cohort_id : cohortLabel(cohort);
  const context: ProgressContext = { now, cohorts: roster.cohorts ?? [], stuckMinutes };
  const recordedStatus = STATUS_LABELS[learnerStatus(learner)];
  const signals = state?.snapshot?.signals.get(keyOfLearner(learner)) ?? null;
  const progress = signals === null ? null : deriveProgress(learner, signals, { ...context, now: state!.snapshot!.takenAt });
  const model: LearnerProgressModel =
    state === null
      ? { mode: 'local', recordedStatus }
      : progress === null
        ? { mode: 'unread', recordedStatus, snapshot: snapshotModel(state, now) }
        : derivedModel(learner, progress, snapshotModel(state, now), context);
  return {
    errors,
    title: `Learner: ${handle}`,
    handle,
    intro: `Everything the companion knows about ${handle} in ${cohortName}: what needs a facilitator, progress, challenges, pull requests awaiting review, provisioning attempts and the roster record.`,
    fields: rosterFields(learner, cohortName),
    links: links(learner),
    attention: needsAttention(learner, progress, context).map((reason) => reason.sentence),
    progress: model,
    operations,
  };
}

/** Renders a learner's page; with a notes form sent back with an error, that error and what was typed. */
export function renderLearnerPage(
  { config, progress, operations, sync }: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  roster: Roster,
  learner: Learner,
  status = 200,
  notesForm: NotesFormState | null = null,
): FastifyReply {
  const errors: FieldError[] = notesForm === null ? [] : [{ field: 'notes', message: notesForm.error }];
  const model = learnerPageModel(roster, learner, progress?.state ?? null, config.github?.stuckMinutes, new Date(), learnerOperationsModel(operations, learner, notesForm, sync?.state.editProblems ?? []), errors);
  return render(reply, status, shellFor(config, request, reply, model.title, null, errors.length > 0), { template: 'learner', model });
}

export function learnerRoutes(app: FastifyInstance, context: AppContext): void {
  app.get<{ Params: { cohort: string; handle: string } }>('/learners/:cohort/:handle', { preHandler: requireFacilitator }, async (request, reply) => {
    const roster = await context.store.read();
    const learner = findLearner(roster, request.params.cohort, request.params.handle);
    if (learner === null) throw new HttpError('not-found');
    return renderLearnerPage(context, request, reply, roster, learner);
  });
}
