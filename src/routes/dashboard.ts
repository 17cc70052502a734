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
  type Cohort,
  type Learner,
  type Roster,
} from '../roster/contract.js';
import { DEFAULT_QUERY, parseTableQuery, queryString, type Direction, type SortKey, type StatusFilter, type TableEntry, type TableQuery, type TableView } from './learner-table.js';
import { attentionOf, cohortTable, type CohortTable, type TableBasis } from './cohort-table.js';
import { keyOfLearner, sortedLearners } from '../roster/incremental.js';
import { derivedFrom } from '../lib/derived.js';
import { shellFor } from '../http/shell.js';
import {
  radioGroup,
  render,
  type AttentionItem,
  type CohortOverviewRow,
  type ConnectionModel,
  type DashboardModel,
  type DashboardOperationsModel,
  type DashboardRow,
  type FieldError,
  type PaginationModel,
  type ProgressModel,
} from '../http/views.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BULK_OPERATIONS, OPERATION_NAMES, type FacilitatorOperations } from '../github/operations.js';
import { rateLimited } from '../http/rate-limit.js';
import type { ProgressState } from '../github/progress.js';
import { cohortRunning, describeEvidence, formatDuration } from '../github/progress-rules.js';
import type { GitHubConfig } from '../config.js';
import type { SyncState } from '../github/sync.js';
import { timeModel } from './time.js';
import type { AppContext } from './context.js';
import { PATH_LABELS, PROVISION_LABELS, STATUS_LABELS } from '../lib/labels.js';
import { learnerPath as learnerPage } from './learners.js';
import { requireFacilitator } from './auth.js';
import { field, queryFields, type Fields } from '../http/fields.js';

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
    href: learnerPage(learner),
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
    select: null,
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
    editProblems: [...state.editProblems].reverse().map((p) => ({
      handle: p.github_handle,
      cohort: p.cohort_id,
      href: learnerPage(p),
      text: p.text,
      time: time(p.at)!,
    })),
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

/** What the dashboard knows of derived progress: the reader's state in GitHub mode, nothing in local mode. */
export interface ProgressView {
  readonly state: ProgressState | null;
  readonly stuckMinutes: number;
  readonly refreshRequested: boolean;
  readonly now: Date;
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

const SORT_WORDS: Record<SortKey, string> = {
  handle: 'username',
  cohort: 'cohort',
  state: 'provisioning state',
  status: 'status',
  registered: 'registration time',
  activity: 'last activity',
};

/** The table's columns, in order; those with a key can be sorted by. */
const COLUMNS: ReadonlyArray<{ label: string; key: SortKey | null }> = [
  { label: 'Username', key: 'handle' },
  { label: 'Cohort', key: 'cohort' },
  { label: 'Path', key: null },
  { label: 'Provisioning', key: 'state' },
  { label: 'Learning Room repository', key: null },
  { label: 'Status', key: 'status' },
  { label: 'Registered', key: 'registered' },
  { label: 'Last activity', key: 'activity' },
  { label: 'Enrollment issue', key: null },
];

const NO_COHORTS: ReadonlyArray<Cohort> = [];

/** The table's basis for a roster and what the dashboard knows of progress. */
function basisOf(roster: Roster, view: ProgressView | null): TableBasis {
  return { learners: roster.learners, cohorts: roster.cohorts ?? NO_COHORTS, snapshot: view?.state?.snapshot ?? null, stuckMinutes: view?.stuckMinutes };
}

/**
 * A row as the table entry says it: with its derived progress, or marked not
 * read yet in GitHub mode, or the roster's own values. Made once per entry
 * (so once per learner record and snapshot), not on every page view.
 */
const entryRows = derivedFrom<TableEntry, DashboardRow>((entry) => {
  const base = rows.get(entry.learner);
  const progress = entry.progress;
  if (progress !== null) {
    return {
      ...base,
      lastSignal: progress.lastActivity ? timeModel(progress.lastActivity.at) : base.lastSignal,
      status: STATUS_LABELS[progress.status],
      statusDetail: progress.evidence.length > 0 ? progress.evidence.map(describeEvidence).join('; ') : null,
    };
  }
  // In GitHub mode, a learner whose progress has not been read yet has no status of its own.
  return entry.status === null ? { ...base, statusDetail: 'Not read from GitHub yet: this is the value recorded in the roster' } : base;
});

/** The filters and sort in words, for the caption: "provisioning state failed, needing attention, sorted by status (descending)". */
function describeQuery(query: TableQuery, statusLabel: (s: StatusFilter) => string): string {
  const parts: string[] = [];
  if (query.state) parts.push(`provisioning state ${PROVISION_LABELS[query.state].toLowerCase()}`);
  if (query.status) parts.push(`status ${statusLabel(query.status).toLowerCase()}`);
  if (query.attention) parts.push('needing attention');
  if (query.search) parts.push(`username containing "${query.search}"`);
  parts.push(`sorted by ${SORT_WORDS[query.sort]} (${query.dir === 'asc' ? 'ascending' : 'descending'})`);
  return parts.join(', ');
}

function paginationModel(query: TableQuery, view: TableView): PaginationModel | null {
  if (view.pageCount === 1) return null;
  const href = (page: number) => `/dashboard${queryString(query, { page })}`;
  const shown = new Set([1, view.pageCount, view.pageNumber - 1, view.pageNumber, view.pageNumber + 1].filter((n) => n >= 1 && n <= view.pageCount));
  const pages: PaginationModel['pages'] = [];
  let last = 0;
  for (const number of [...shown].sort((a, b) => a - b)) {
    if (number > last + 1) pages.push({ gap: true, number: null, href: null, current: false });
    pages.push({ gap: false, number, href: href(number), current: number === view.pageNumber });
    last = number;
  }
  return {
    pageNumber: view.pageNumber,
    pageCount: view.pageCount,
    prevHref: view.pageNumber > 1 ? href(view.pageNumber - 1) : null,
    nextHref: view.pageNumber < view.pageCount ? href(view.pageNumber + 1) : null,
    pages,
  };
}

/** How many needs-attention items are listed on the page; the rest are reached through the filter. */
export const ATTENTION_SHOWN = 50;

/**
 * The dashboard for the table state asked for (cohort, filters, sort, page).
 * A cohort this roster does not have shows all cohorts, and says so. With a
 * progress snapshot (GitHub mode), statuses are derived from it, with their
 * evidence; otherwise they are the roster's own values.
 */
export function dashboardModel(
  roster: Roster,
  query: TableQuery = DEFAULT_QUERY,
  connection: ConnectionModel = { mode: 'local' },
  view: ProgressView | null = null,
  operations: OperationsView | null = null,
): DashboardModel {
  const basis = basisOf(roster, view);
  const kept = cohortTable(basis);
  const now = view?.now ?? new Date();
  const labels = new Map(listedCohorts(roster).map((c) => [c.cohort_id, cohortLabel(c)]));
  for (const id of kept.cohortIds) if (!labels.has(id)) labels.set(id, id);
  const requested = query.cohort;
  const selected = requested !== null && labels.has(requested) ? requested : null;
  const notice = selected === null && requested !== '' ? unknownCohortNotice(requested) : null;
  const effective: TableQuery = { ...query, cohort: selected ?? '' };
  const snapshot = basis.snapshot;
  const table = kept.view(effective, now);
  const counts = kept.countsOf(effective.cohort!);

  const statusItems: Array<{ label: string; count: number }> = STATUSES.map((s) => ({ label: STATUS_LABELS[s], count: counts.statuses[s] }));
  if (snapshot !== null && counts.unread > 0) statusItems.push({ label: 'Not read from GitHub yet', count: counts.unread });
  const statusLabel = (s: StatusFilter) => (s === 'unknown' ? 'Not read from GitHub yet' : STATUS_LABELS[s]);

  // The first reasons in canonical order, in words as of now; the rest are counted.
  const needing = kept.attention(now).scope(effective.cohort!);
  const attention: AttentionItem[] = [];
  for (const entry of needing.entries) {
    if (attention.length >= ATTENTION_SHOWN) break;
    for (const reason of attentionOf(entry, basis, now)) {
      if (attention.length < ATTENTION_SHOWN) attention.push({ handle: normalizeHandle(entry.learner.github_handle), href: learnerPage(entry.learner), cohort: entry.learner.cohort_id, sentence: reason.sentence });
    }
  }
  const attentionTotal = needing.reasons;
  const learnerCount = counts.learners;

  const scope = selected === null ? 'all cohorts' : labels.get(selected)!;
  const filtered = table.matching.length !== learnerCount;
  const form = operations?.form ?? null;
  const bulk = operations !== null && operations.ops.github;
  const selection = (learner: Learner) => form !== null && (form.selectAll || form.selected.has(keyOfLearner(learner)));
  const pageRows: DashboardRow[] = table.page.map((entry, i) => {
    const row = entryRows.get(entry);
    if (!bulk) return row;
    return { ...row, select: { id: `select-${i + 1}`, value: keyOfLearner(entry.learner), checked: selection(entry.learner), label: `Select ${row.handle} (${row.cohort})` } };
  });
  return {
    errors: form?.errors ?? [],
    title: selected === null ? 'Cohort dashboard' : `Cohort dashboard: ${scope}`,
    notice,
    intro: `This page shows every learner registered for ${scope}, with their provisioning state and progress. It shows ${plural(learnerCount, 'learner', 'learners')}.`,
    caption: `Learners in ${scope}: ${filtered ? `${plural(table.matching.length, 'learner', 'learners')} of ${learnerCount}` : plural(learnerCount, 'learner', 'learners')}, ${describeQuery(effective, statusLabel)}${table.pageCount > 1 ? `, page ${table.pageNumber} of ${table.pageCount}` : ''}`,
    emptyMessage: learnerCount === 0 ? (selected === null ? 'No learners have registered yet.' : 'No learners have registered for this cohort yet.') : 'No learners match these filters.',
    filter: {
      options: [
        { value: '', label: 'All cohorts', selected: selected === null },
        ...[...labels].map(([value, label]) => ({ value, label: label === value ? value : `${label} (${value})`, selected: value === selected })),
      ],
      states: [{ value: '', label: 'Any provisioning state', selected: query.state === null }, ...PROVISION_STATES.map((s) => ({ value: s, label: PROVISION_LABELS[s], selected: query.state === s }))],
      statuses: [
        { value: '', label: 'Any status', selected: query.status === null },
        ...[...STATUSES, ...(snapshot === null ? [] : ['unknown' as const])].map((s) => ({ value: s, label: statusLabel(s), selected: query.status === s })),
      ],
      attention: query.attention,
      search: query.search,
      sort: query.sort === DEFAULT_QUERY.sort ? null : query.sort,
      dir: query.dir === DEFAULT_QUERY.dir ? null : query.dir,
    },
    summary: [
      { id: 'provisioning', heading: 'By provisioning state', items: PROVISION_STATES.map((s) => ({ label: PROVISION_LABELS[s], count: counts.states[s] })) },
      { id: 'status', heading: snapshot === null ? 'By progress status (as recorded in the roster)' : 'By progress status (derived from GitHub)', items: statusItems },
    ],
    columns: COLUMNS.map(({ label, key }) => {
      if (key === null) return { label, href: null, ariaSort: null };
      const current = effective.sort === key;
      const nextDir: Direction = current && effective.dir === 'asc' ? 'desc' : 'asc';
      return {
        label,
        href: `/dashboard${queryString(effective, { sort: key, dir: nextDir, page: 1 })}`,
        ariaSort: current ? (effective.dir === 'asc' ? 'ascending' : 'descending') : null,
      };
    }),
    rows: pageRows,
    pagination: paginationModel(effective, table),
    csvHref: `/dashboard.csv${queryString({ ...effective, page: 1 })}`,
    refreshAction: `/dashboard/refresh-progress${queryString(effective)}`,
    connection,
    progress: progressModel(view),
    attention,
    attentionMore: attentionTotal - attention.length,
    attentionHref: `/dashboard${queryString({ ...DEFAULT_QUERY, cohort: effective.cohort, attention: true })}`,
    overview: cohortOverview(roster, labels, kept, now),
    operations: operationsModel(operations, effective, pageRows),
  };
}

/** A bulk form sent back with errors: what was chosen, and the errors' words. */
export interface BulkFormState {
  readonly errors: FieldError[];
  /** The learners selected (identity keys). */
  readonly selected: ReadonlySet<string>;
  readonly selectAll: boolean;
  readonly choice: string | null;
}

/** What the dashboard knows of facilitator operations: what can be done, and a form being filled in. */
export interface OperationsView {
  readonly ops: FacilitatorOperations;
  readonly form: BulkFormState | null;
}

/** What each bulk operation does, said under its radio. */
const BULK_HINTS: Record<(typeof BULK_OPERATIONS)[number], string> = {
  acked: 'Adds the label acked to each one\'s enrollment issue (public).',
  'needs-info': 'Adds the label needs-info to each one\'s enrollment issue (public).',
  'needs-info-clear': 'Removes the label needs-info from each one\'s enrollment issue.',
  'day2-released': 'Adds the label day2-released to each one\'s enrollment issue (public).',
  invite: 'Sends each one the invitation to their Learning Room repository again.',
};

function operationsModel(view: OperationsView | null, query: TableQuery, rows: ReadonlyArray<DashboardRow>): DashboardOperationsModel {
  if (view === null || !view.ops.github) {
    return { mode: 'local', reason: view?.ops.githubUnavailable ?? 'Operations on GitHub need GitHub mode.' };
  }
  const form = view.form;
  const back = `/dashboard${queryString(query)}`;
  const withSelect = `${back}${back.includes('?') ? '&' : '?'}select=all#bulk`;
  const p = view.ops.provisioning;
  return {
    mode: 'github',
    back,
    choice: radioGroup(
      'operation',
      'What to do for the selected learners',
      'You check what will happen on the next page before anything is done.',
      form?.errors.find((e) => e.field === 'operation')?.message ?? null,
      BULK_OPERATIONS.map((op) => ({ value: op, label: OPERATION_NAMES[op], hint: BULK_HINTS[op] })),
      form?.choice ?? '',
    ),
    selectionError: form?.errors.find((e) => e.field === 'select-1')?.message ?? null,
    selectAllHref: withSelect,
    clearHref: `${back}#bulk`,
    selected: rows.filter((r) => r.select?.checked).length,
    provisioningUnavailable: view.ops.provisioningUnavailable,
    provisioningWorkflow: p === null ? null : `${p.workflow} in ${p.repo} on ${p.ref}`,
  };
}

/** "2 pending, 5 provisioned": the non-zero counts in words, in the given order. */
function countsInWords<K extends string>(keys: readonly K[], count: (key: K) => number, word: (key: K) => string): string {
  const parts = keys.filter((k) => count(k) > 0).map((k) => `${count(k)} ${word(k)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** Each cohort: its label, when it starts (and whether it is running), and its learners by provisioning state and by status. */
function cohortOverview(roster: Roster, labels: ReadonlyMap<string, string>, table: CohortTable, now: Date): CohortOverviewRow[] {
  const listed = new Map(listedCohorts(roster).map((c) => [c.cohort_id, c]));
  return [...labels].map(([id, label]) => {
    const c = table.countsOf(id);
    const cohort = listed.get(id) ?? null;
    const statuses = countsInWords(STATUSES, (s) => c.statuses[s], (s) => STATUS_LABELS[s].toLowerCase());
    return {
      label,
      href: `/dashboard${queryString({ ...DEFAULT_QUERY, cohort: id })}`,
      opens: timeModel(cohort?.opens_at),
      running: cohortRunning(cohort, now),
      learners: c.learners,
      states: countsInWords(PROVISION_STATES, (s) => c.states[s], (s) => PROVISION_LABELS[s].toLowerCase()),
      statuses: table.basis.snapshot !== null && c.unread > 0 ? `${statuses}; ${c.unread} not read from GitHub yet` : statuses,
    };
  });
}

/** A CSV cell: quoted, and neutralised when a spreadsheet would read it as a formula. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replaceAll('"', '""')}"`;
}

const CSV_HEADER = ['github_handle', 'cohort_id', 'path', 'provision_state', 'status', 'status_source', 'learning_room_repo', 'registered_at', 'last_activity_at', 'enrollment_issue', 'needs_attention'];

/** The rows in view (every page), as CSV: never notes. */
export function dashboardCsv(roster: Roster, query: TableQuery, view: ProgressView | null): string {
  const basis = basisOf(roster, view);
  const table = cohortTable(basis);
  const now = view?.now ?? new Date();
  const requested = query.cohort;
  const selected = requested !== null && requested !== '' && table.cohortIds.includes(requested) ? requested : null;
  const { matching } = table.view({ ...query, cohort: selected ?? '' }, now);
  const snapshot = basis.snapshot;
  const lines = [CSV_HEADER.map(csvCell).join(',')];
  for (const entry of matching) {
    const l = entry.learner;
    const issue = enrollmentIssue(l);
    lines.push(
      [
        normalizeHandle(l.github_handle),
        l.cohort_id,
        learnerPath(l),
        learnerProvisionState(l),
        entry.status ?? '',
        entry.progress !== null ? 'github' : snapshot === null ? 'roster' : 'not read yet',
        typeof l.learning_room_repo === 'string' ? l.learning_room_repo : '',
        typeof l.registered_at === 'string' ? l.registered_at : '',
        entry.progress?.lastActivity?.at ?? (typeof l.last_signal_at === 'string' ? l.last_signal_at : ''),
        issue === null ? '' : `${issue.repo}#${issue.number}`,
        attentionOf(entry, basis, now).map((r) => r.sentence).join('; '),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Renders the dashboard for a table state (the query's fields); with a bulk
 * form that was sent back with errors, those errors and what was chosen.
 */
export async function renderDashboard(
  { config, store, sync, progress, operations }: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  fields: Fields,
  status = 200,
  form: BulkFormState | null = null,
): Promise<FastifyReply> {
  const view: ProgressView | null =
    progress === null ? null : { state: progress.state, stuckMinutes: config.github!.stuckMinutes, refreshRequested: field(fields, 'progress') === 'refreshing', now: new Date() };
  const selectAll = form === null && field(fields, 'select') === 'all';
  const model = dashboardModel(await store.read(), parseTableQuery(fields), connectionModel(config.github, sync?.state ?? null), view, {
    ops: operations,
    form: form ?? (selectAll ? { errors: [], selected: new Set(), selectAll: true, choice: null } : null),
  });
  return render(reply, status, shellFor(config, request, reply, model.title, 'dashboard', model.errors.length > 0), { template: 'dashboard', model });
}

export function dashboardRoutes(app: FastifyInstance, context: AppContext): void {
  const { config, store, progress } = context;
  const progressView = (refreshRequested: boolean): ProgressView | null =>
    progress === null ? null : { state: progress.state, stuckMinutes: config.github!.stuckMinutes, refreshRequested, now: new Date() };

  app.get('/dashboard', { preHandler: requireFacilitator }, async (request, reply) => renderDashboard(context, request, reply, queryFields(request)));

  // The rows in view, every page of them, for a spreadsheet.
  app.get('/dashboard.csv', { preHandler: requireFacilitator }, async (request, reply) => {
    const csv = dashboardCsv(await store.read(), parseTableQuery(queryFields(request)), progressView(false));
    request.log.info({ session: request.session.get('facilitator')?.sid }, 'dashboard exported as CSV');
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="glow-learners.csv"').send(csv);
  });

  // A facilitator asks for progress to be read again now; the page says so and shows the snapshot's time.
  app.post('/dashboard/refresh-progress', { config: rateLimited(config), preHandler: [requireFacilitator, app.csrfProtection] }, async (request, reply) => {
    // Back to the same filtered, sorted page: its state is read again from the form's address, so only the table's own fields pass.
    const back = queryString(parseTableQuery(queryFields(request)));
    if (progress === null) return reply.redirect(`/dashboard${back}`, 303);
    request.log.info({ session: request.session.get('facilitator')?.sid }, 'progress refresh asked for by a facilitator');
    void progress.refreshNow();
    return reply.redirect(`/dashboard${back}${back === '' ? '?' : '&'}progress=refreshing`, 303);
  });

  app.get('/roster.json', { preHandler: requireFacilitator }, async (_request, reply) => {
    const roster = await store.read();
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(redactRoster(sortedLearners(roster.learners))));
  });
}
