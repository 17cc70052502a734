/** The facilitator cohort dashboard and the redacted roster.json. */
import type { FastifyInstance } from 'fastify';
import {
  PROVISION_STATES,
  STATUSES,
  cohortLabel,
  enrollmentIssue,
  isLinkableRepo,
  learnerPath,
  learnerProvisionState,
  learnerStatus,
  listedCohorts,
  normalizeHandle,
  redactRoster,
  type Learner,
  type Roster,
} from '../roster/contract.js';
import { keyOfLearner, sortedLearners } from '../roster/incremental.js';
import { derivedFrom } from '../lib/derived.js';
import { shellFor } from '../http/shell.js';
import { render, type AttentionItem, type ConnectionModel, type DashboardModel, type DashboardRow, type ProgressModel } from '../http/views.js';
import { rateLimited } from '../http/rate-limit.js';
import type { ProgressSnapshot, ProgressState } from '../github/progress.js';
import { deriveProgress, describeEvidence, formatDuration, needsAttention, summarizeCohort, type LearnerProgress, type ProgressContext } from '../github/progress-rules.js';
import type { GitHubConfig } from '../config.js';
import type { SyncState } from '../github/sync.js';
import { timeModel } from './time.js';
import type { AppContext } from './context.js';
import { requireFacilitator } from './auth.js';
import { field, queryFields } from '../http/fields.js';

const PATH_LABELS = { 'day1-day2': 'Both days', 'day2-only': 'Day 2 only' } as const;
const PROVISION_LABELS = { pending: 'Pending', provisioned: 'Provisioned', failed: 'Failed', healed: 'Healed' } as const;
const STATUS_LABELS = {
  'awaiting-ack': 'Awaiting acknowledgement',
  'active-day1': 'Active on day 1',
  'day1-complete': 'Day 1 complete',
  'day2-released': 'Day 2 released',
  'needs-info': 'Needs information',
} as const;

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * Rows depend only on their learner record, and the store hands out the same
 * record objects until the file changes, so each row (with its formatted
 * times) is built once per record rather than on every page view.
 */
const rows = derivedFrom<Learner, DashboardRow>(buildRow);

function buildRow(learner: Learner): DashboardRow {
  const repo = typeof learner.learning_room_repo === 'string' && learner.learning_room_repo !== '' ? learner.learning_room_repo : null;
  const state = learnerProvisionState(learner);
  return {
    handle: normalizeHandle(learner.github_handle),
    cohort: learner.cohort_id,
    path: PATH_LABELS[learnerPath(learner)],
    provisionState: PROVISION_LABELS[state],
    provisionKind: state,
    repo,
    repoUrl: repo !== null && isLinkableRepo(repo) ? `https://github.com/${repo}` : null,
    status: STATUS_LABELS[learnerStatus(learner)],
    statusDetail: null,
    registered: timeModel(learner.registered_at),
    lastSignal: timeModel(learner.last_signal_at),
    enrollment: enrollmentLink(learner),
  };
}

function enrollmentLink(learner: Learner): DashboardRow['enrollment'] {
  const issue = enrollmentIssue(learner);
  if (issue === null) return null;
  return { label: `${issue.repo}#${issue.number}`, url: isLinkableRepo(issue.repo) ? `https://github.com/${issue.repo}/issues/${issue.number}` : null };
}

const GITHUB_API = 'https://api.github.com';

/** The sync's state as the dashboard says it; local mode says that the roster is not connected. */
export function connectionModel(github: GitHubConfig | null, state: SyncState | null): ConnectionModel {
  if (github === null || state === null) return { mode: 'local' };
  const time = (date: Date | null) => (date === null ? null : timeModel(date.toISOString()));
  return {
    mode: 'github',
    repository: state.repository,
    repositoryUrl: github.apiUrl === GITHUB_API ? `https://github.com/${state.repository}` : null,
    apiUrl: github.apiUrl === GITHUB_API ? null : github.apiUrl,
    apiIsLocal: new URL(github.apiUrl).protocol === 'http:',
    rosterFile: state.rosterFile,
    branch: state.branch,
    lastRead: time(state.lastReadAt),
    pending: state.pending,
    lastCommit: state.lastCommit === null ? null : { time: time(state.lastCommit.at)!, changes: state.lastCommit.changes },
    problem: state.problem === null ? null : { text: state.problem.text, time: time(state.problem.at)! },
    waitingForProvisioningSince: time(state.waitingForProvisioningSince),
    dispatchProblem: state.dispatchProblem,
  };
}

/** Longest part of an unknown cohort shown back in the notice. */
const SHOWN_COHORT_MAX = 60;

/** What the filter asked for, said back when it is not a cohort of this roster. */
function unknownCohortNotice(requested: string | null): string {
  if (requested === null) return 'Choose one cohort at a time. Showing all cohorts.';
  const shownCohort = requested.length > SHOWN_COHORT_MAX ? `${requested.slice(0, SHOWN_COHORT_MAX)}...` : requested;
  return `There is no cohort "${shownCohort}". Showing all cohorts.`;
}

/**
 * The dashboard for the cohort requested by the filter: '' for all cohorts,
 * null when the filter was sent more than once. A cohort this roster does
 * not have shows all cohorts, and says so.
 */
/** What the dashboard knows of derived progress: the reader's state in GitHub mode, nothing in local mode. */
export interface ProgressView {
  readonly state: ProgressState | null;
  readonly stuckMinutes: number;
  readonly refreshRequested: boolean;
  readonly now: Date;
}

/**
 * Each learner's derived progress, as of the snapshot it was read in: derived
 * once per learner record and snapshot (a learner's record can change while
 * the snapshot does not, so the record is the inner key).
 */
const derivations = derivedFrom<ProgressSnapshot, WeakMap<Learner, LearnerProgress>>(() => new WeakMap());

function progressOf(snapshot: ProgressSnapshot, learner: Learner, context: ProgressContext): LearnerProgress | null {
  const signals = snapshot.signals.get(keyOfLearner(learner));
  if (signals === undefined) return null;
  const known = derivations.get(snapshot);
  let progress = known.get(learner);
  if (progress === undefined) {
    progress = deriveProgress(learner, signals, { ...context, now: snapshot.takenAt });
    known.set(learner, progress);
  }
  return progress;
}

function progressModel(view: ProgressView | null): ProgressModel {
  if (view === null || view.state === null) return { mode: 'local' };
  const { snapshot, refreshing, problem } = view.state;
  const time = (date: Date) => timeModel(date.toISOString())!;
  return {
    mode: 'github',
    takenAt: snapshot === null ? null : time(snapshot.takenAt),
    age: snapshot === null ? null : formatDuration(view.now.getTime() - snapshot.takenAt.getTime()),
    refreshing,
    problem: problem === null ? null : { text: problem.text, time: time(problem.at) },
    refreshRequested: view.refreshRequested,
  };
}

/**
 * The dashboard for the cohort requested by the filter: '' for all cohorts,
 * null when the filter was sent more than once. A cohort this roster does
 * not have shows all cohorts, and says so. With a progress snapshot (GitHub
 * mode), statuses are derived from it, with their evidence; otherwise they
 * are the roster's own values.
 */
export function dashboardModel(roster: Roster, requested: string | null, connection: ConnectionModel = { mode: 'local' }, view: ProgressView | null = null): DashboardModel {
  const labels = new Map(listedCohorts(roster).map((c) => [c.cohort_id, cohortLabel(c)]));
  for (const learner of roster.learners) if (!labels.has(learner.cohort_id)) labels.set(learner.cohort_id, learner.cohort_id);
  const selected = requested !== null && labels.has(requested) ? requested : null;
  const notice = selected === null && requested !== '' ? unknownCohortNotice(requested) : null;
  const learners = sortedLearners(selected === null ? roster.learners : roster.learners.filter((l) => l.cohort_id === selected));

  const snapshot = view?.state?.snapshot ?? null;
  const context: ProgressContext = { now: view?.now ?? new Date(), cohorts: roster.cohorts ?? [], stuckMinutes: view?.stuckMinutes };
  const derived = (learner: Learner) => (snapshot === null ? null : progressOf(snapshot, learner, context));
  const counts = summarizeCohort(learners, derived);
  // Without a snapshot the statuses are the roster's own values, counted as such.
  const byStatus = snapshot !== null ? counts.byStatus : Object.fromEntries(STATUSES.map((s) => [s, learners.filter((l) => learnerStatus(l) === s).length]));
  const attention: AttentionItem[] = [];
  const tableRows = learners.map((learner) => {
    const progress = derived(learner);
    const base = rows.get(learner);
    for (const reason of needsAttention(learner, progress, context)) attention.push({ handle: base.handle, cohort: base.cohort, sentence: reason.sentence });
    if (snapshot === null) return base;
    if (progress === null) return { ...base, statusDetail: 'Not read from GitHub yet: this is the value recorded in the roster' };
    return { ...base, status: STATUS_LABELS[progress.status], statusDetail: progress.evidence.length > 0 ? progress.evidence.map(describeEvidence).join('; ') : null };
  });
  const scope = selected === null ? 'all cohorts' : labels.get(selected)!;
  const statusItems: Array<{ label: string; count: number }> = STATUSES.map((s) => ({ label: STATUS_LABELS[s], count: byStatus[s]! }));
  if (snapshot !== null && counts.statusUnknown > 0) statusItems.push({ label: 'Not read from GitHub yet', count: counts.statusUnknown });
  return {
    title: selected === null ? 'Cohort dashboard' : `Cohort dashboard: ${scope}`,
    notice,
    intro: `This page shows every learner registered for ${scope}, with their provisioning state and progress. It shows ${plural(learners.length, 'learner', 'learners')}.`,
    caption: `Learners in ${scope} (${plural(learners.length, 'learner', 'learners')})`,
    emptyMessage: selected === null ? 'No learners have registered yet.' : 'No learners have registered for this cohort yet.',
    filter: {
      options: [
        { value: '', label: 'All cohorts', selected: selected === null },
        ...[...labels].map(([value, label]) => ({ value, label: label === value ? value : `${label} (${value})`, selected: value === selected })),
      ],
    },
    summary: [
      { id: 'provisioning', heading: 'By provisioning state', items: PROVISION_STATES.map((s) => ({ label: PROVISION_LABELS[s], count: counts.byProvisionState[s] })) },
      { id: 'status', heading: snapshot === null ? 'By progress status (as recorded in the roster)' : 'By progress status (derived from GitHub)', items: statusItems },
    ],
    rows: tableRows,
    connection,
    progress: progressModel(view),
    attention,
  };
}

export function dashboardRoutes(app: FastifyInstance, { config, store, sync, progress }: AppContext): void {
  app.get('/dashboard', { preHandler: requireFacilitator }, async (request, reply) => {
    const query = queryFields(request);
    const view: ProgressView | null =
      progress === null ? null : { state: progress.state, stuckMinutes: config.github!.stuckMinutes, refreshRequested: field(query, 'progress') === 'refreshing', now: new Date() };
    const model = dashboardModel(await store.read(), field(query, 'cohort'), connectionModel(config.github, sync?.state ?? null), view);
    return render(reply, 200, shellFor(config, request, reply, model.title, 'dashboard'), { template: 'dashboard', model });
  });

  // A facilitator asks for progress to be read again now; the page says so and shows the snapshot's time.
  app.post('/dashboard/refresh-progress', { config: rateLimited(config), preHandler: [requireFacilitator, app.csrfProtection] }, async (request, reply) => {
    if (progress === null) return reply.redirect('/dashboard', 303);
    request.log.info({ session: request.session.get('facilitator')?.sid }, 'progress refresh asked for by a facilitator');
    void progress.refreshNow();
    return reply.redirect('/dashboard?progress=refreshing', 303);
  });

  app.get('/roster.json', { preHandler: requireFacilitator }, async (_request, reply) => {
    const roster = await store.read();
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(redactRoster(sortedLearners(roster.learners))));
  });
}
