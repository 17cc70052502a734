/**
 * Views: the nunjucks environment (autoescape on, templates compiled once at
 * start) and the typed view models each template is fed. Templates only
 * display what these models hold; they compute nothing.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyView from '@fastify/view';
import nunjucks from 'nunjucks';
import type { PerRequest, Shareable } from '../lib/derived.js';

export const VIEWS_DIR = fileURLToPath(new URL('../views/', import.meta.url));

/** Every template file, pages and partials alike, relative to VIEWS_DIR. */
function templateFiles(): string[] {
  return readdirSync(VIEWS_DIR, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.njk'))
    .map((name) => name.split(path.sep).join('/'));
}

export type Section = 'register' | 'login' | 'dashboard' | null;

export interface ShellModel {
  title: string;
  hasErrors: boolean;
  section: Section;
  signedIn: boolean;
  /** For the sign-out form, present on signed-in pages. */
  csrfToken: PerRequest<string> | null;
  helpUrl: string | null;
}

/** The shell as seen by someone not signed in: no sign-out form, so nothing per visitor. */
export type AnonymousShellModel = ShellModel & { signedIn: false; csrfToken: null };

export interface FieldError {
  field: string;
  message: string;
}

export interface TextFieldModel {
  id: string;
  label: string;
  hint: string | null;
  value: string;
  error: string | null;
  describedBy: string | null;
}

export interface RadioOptionModel {
  id: string;
  value: string;
  label: string;
  hint: string | null;
  checked: boolean;
}

export interface RadioGroupModel {
  name: string;
  legend: string;
  hint: string | null;
  error: string | null;
  describedBy: string | null;
  options: RadioOptionModel[];
}

/** `Token`: a visitor's own token, or a placeholder in a page rendered once for everyone. */
export interface RegisterModel<Token extends string = string> {
  errors: FieldError[];
  /** Said in the error summary without a link, as no field is at fault (the form had expired). */
  notices: string[];
  csrfToken: Token;
  handle: TextFieldModel;
  cohort: { kind: 'choice'; group: RadioGroupModel } | { kind: 'text'; field: TextFieldModel };
  path: RadioGroupModel;
}

export interface SuccessModel {
  handle: string | null;
}

/** What happened before the sign-in page: its heading (also in the title) and its status message. */
export interface LoginNotice {
  heading: string;
  text: string;
}

export interface LoginModel {
  errors: FieldError[];
  configured: boolean;
  csrfToken: PerRequest<string>;
  next: string | null;
  notice: LoginNotice | null;
  token: TextFieldModel;
}

export interface TimeModel {
  iso: string;
  text: string;
}

export interface DashboardRow {
  handle: string;
  /** The learner's own page. */
  href: string;
  cohort: string;
  path: string;
  provisionState: string;
  provisionKind: string;
  repo: string | null;
  repoUrl: string | null;
  status: string;
  /** Why: the evidence for a derived status, or that it is the roster's own value. */
  statusDetail: string | null;
  registered: TimeModel | null;
  lastSignal: TimeModel | null;
  /** The learner's enrollment issue, when the roster records one; a link only for a well-formed repository. */
  enrollment: { label: string; url: string | null } | null;
  /** The check box that selects the learner for an operation (GitHub mode only). */
  select: CheckboxModel | null;
}

/** Where the roster of record is, and how the sync with it stands, in words. */
export type ConnectionModel =
  | { mode: 'local' }
  | {
      mode: 'github';
      repository: string;
      repositoryUrl: string | null;
      /** Said when the API is not github.com's (GitHub Enterprise Server, or the simulator of the demo). */
      apiUrl: string | null;
      /** The API is on this machine: the demo's GitHub simulator, or a test double. */
      apiIsLocal: boolean;
      rosterFile: string;
      branch: string | null;
      lastRead: TimeModel | null;
      pending: number;
      lastCommit: { time: TimeModel; changes: number } | null;
      problem: { text: string; time: TimeModel } | null;
      waitingForProvisioningSince: TimeModel | null;
      dispatchProblem: string | null;
      /** Facilitators' edits the roster of record could not take, newest first. */
      editProblems: Array<{ handle: string; cohort: string; href: string; text: string; time: TimeModel }>;
    };

export interface OptionModel {
  value: string;
  label: string;
  selected: boolean;
}

export interface PaginationModel {
  pageNumber: number;
  pageCount: number;
  prevHref: string | null;
  nextHref: string | null;
  /** Page links, with gaps where pages are left out. */
  pages: Array<{ gap: boolean; number: number | null; href: string | null; current: boolean }>;
}

/** A check box: its id, the value it sends, whether it is checked, and its (visually hidden) label. */
export interface CheckboxModel {
  id: string;
  value: string;
  checked: boolean;
  label: string;
}

/** The dashboard's operations: none in local mode (and why), otherwise the bulk form and starting provisioning. */
export type DashboardOperationsModel =
  | { mode: 'local'; reason: string }
  | {
      mode: 'github';
      /** The page to come back to (this page, with its query). */
      back: string;
      /** The operation for the selected learners: radios. */
      choice: RadioGroupModel;
      /** The selection's error, shown above the table ("Select at least one learner"). */
      selectionError: string | null;
      selectAllHref: string;
      clearHref: string;
      /** How many learners on this page are selected. */
      selected: number;
      /** Why provisioning cannot be started, or null when it can. */
      provisioningUnavailable: string | null;
      /** Where provisioning is started, in words ("provision-learning-rooms.yml in owner/repo"). */
      provisioningWorkflow: string | null;
    };

export interface DashboardModel {
  /** A failed bulk form, sent back: the error summary's links. */
  errors: FieldError[];
  /** The page's title and h1: names the cohort shown. */
  title: string;
  /** Said under the h1 when the filter asked for a cohort that is not there. */
  notice: string | null;
  intro: string;
  /** Names the cohort, the filters, the sort order and the page. */
  caption: string;
  emptyMessage: string;
  filter: {
    options: OptionModel[];
    states: OptionModel[];
    statuses: OptionModel[];
    attention: boolean;
    search: string;
    /** Kept through the filter form (hidden fields) when not the default. */
    sort: string | null;
    dir: string | null;
  };
  summary: Array<{ id: string; heading: string; items: Array<{ label: string; count: number }> }>;
  /** The table's column headers: sortable ones link to the other order and carry aria-sort when sorted. */
  columns: Array<{ label: string; href: string | null; ariaSort: 'ascending' | 'descending' | null }>;
  rows: DashboardRow[];
  pagination: PaginationModel | null;
  csvHref: string;
  /** Where the "read progress now" form posts: it keeps the table's state, to come back to the same page. */
  refreshAction: string;
  connection: ConnectionModel;
  progress: ProgressModel;
  /** Learners who need a facilitator, each with the reason in words; shown before the table (the first ones). */
  attention: AttentionItem[];
  /** How many more reasons there are than are listed. */
  attentionMore: number;
  /** The table filtered to learners needing attention. */
  attentionHref: string;
  /** Every cohort at a glance. */
  overview: CohortOverviewRow[];
  operations: DashboardOperationsModel;
}

export interface CohortOverviewRow {
  label: string;
  /** The dashboard for this cohort. */
  href: string;
  opens: TimeModel | null;
  running: boolean;
  learners: number;
  /** Counts by provisioning state, in words. */
  states: string;
  /** Counts by status (derived in GitHub mode), in words. */
  statuses: string;
}

/** Where the statuses come from: the roster (local mode) or a snapshot of derived progress (GitHub mode). */
export type ProgressModel =
  | { mode: 'local' }
  | {
      mode: 'github';
      takenAt: TimeModel | null;
      /** How old the snapshot is, in words ("12 minutes"). */
      age: string | null;
      refreshing: boolean;
      problem: { text: string; time: TimeModel } | null;
      /** Said after a facilitator asked for a refresh. */
      refreshRequested: boolean;
    };

export interface AttentionItem {
  handle: string;
  /** The learner's own page. */
  href: string;
  cohort: string;
  sentence: string;
}

export interface ErrorModel {
  statusCode: number;
  heading: string;
  paragraphs: string[];
  action: { href: string; label: string } | null;
}

export type Page =
  | { template: 'register'; model: RegisterModel }
  | { template: 'success'; model: SuccessModel }
  | { template: 'login'; model: LoginModel }
  | { template: 'dashboard'; model: DashboardModel }
  | { template: 'learner'; model: LearnerPageModel }
  | { template: 'operation-confirm'; model: OperationConfirmModel }
  | { template: 'operation-result'; model: OperationResultModel }
  | { template: 'error'; model: ErrorModel };

export function describedBy(id: string, hint: string | null, error: string | null): string | null {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter((x): x is string => x !== null);
  return ids.length > 0 ? ids.join(' ') : null;
}

export function textField(id: string, label: string, hint: string | null, value: string, error: string | null): TextFieldModel {
  return { id, label, hint, value, error, describedBy: describedBy(id, hint, error) };
}

export function radioGroup(
  name: string,
  legend: string,
  hint: string | null,
  error: string | null,
  options: Array<{ value: string; label: string; hint: string | null }>,
  selected: string,
): RadioGroupModel {
  return {
    name,
    legend,
    hint,
    error,
    describedBy: describedBy(name, hint, error),
    // The first radio's id is the group's name, so error links land on it.
    options: options.map((o, i) => ({ ...o, id: i === 0 ? name : `${name}-${i + 1}`, checked: o.value === selected })),
  };
}

export async function registerViews(app: FastifyInstance): Promise<void> {
  await app.register(fastifyView, {
    engine: { nunjucks },
    templates: VIEWS_DIR,
    viewExt: 'njk',
    options: {
      autoescape: true,
      throwOnUndefined: true,
      trimBlocks: true,
      lstripBlocks: true,
      noCache: false,
      // Load and compile every template (layout and partials too) at start, so no
      // request waits on nunjucks' synchronous template loading.
      onConfigure: (env: nunjucks.Environment) => {
        for (const name of templateFiles()) env.getTemplate(name, true);
      },
    },
  });
}

/** Renders a page in the site shell with the given status. */
export function render(reply: FastifyReply, statusCode: number, shell: ShellModel, page: Page): FastifyReply {
  reply.code(statusCode).type('text/html; charset=utf-8');
  return reply.view(page.template, { shell, ...page.model });
}

/**
 * Renders a page in the site shell to a string, outside any request. A page
 * holding a per-request value (a visitor's token) gives a per-request string,
 * which no shared cache accepts.
 */
export function renderToString<P extends Page>(app: FastifyInstance, shell: AnonymousShellModel, page: P): Promise<Rendered<P>> {
  return app.view(page.template, { shell, ...page.model }) as Promise<Rendered<P>>;
}

type Rendered<P> = [P] extends [Shareable<P>] ? string : PerRequest<string>;

// ---------------------------------------------------------------------------
// The learner page (routes/learners.ts)

/** One roster field as the learner page says it: its value as lines of text, or a time in words. */
export interface LearnerFieldModel {
  label: string;
  /** The value's lines (a note may have several); ignored when `time` is set. */
  lines: string[];
  time: TimeModel | null;
}

/** A place on GitHub: a link when the address is well formed, otherwise the text alone. */
export interface LearnerLinkModel {
  label: string;
  text: string;
  url: string | null;
}

export interface LearnerChallengeRow {
  /** "Challenge 2". */
  name: string;
  title: string;
  url: string | null;
  /** In words, the current challenge said so: "Open: the current challenge". */
  state: string;
  current: boolean;
  updated: TimeModel | null;
  closed: TimeModel | null;
}

export interface LearnerReviewItem {
  number: number;
  title: string;
  url: string | null;
  author: string | null;
  opened: TimeModel | null;
  /** How long it has waited, in words. */
  waited: string;
}

export interface LearnerAttemptRow {
  when: TimeModel | null;
  result: string;
  repo: string | null;
  error: string | null;
}

/** When progress was read, and the reader's last problem, for the learner page. */
export interface LearnerSnapshotModel {
  takenAt: TimeModel | null;
  age: string | null;
  refreshing: boolean;
  problem: { text: string; time: TimeModel } | null;
}

/** Progress on the learner page: derived from a GitHub snapshot, or why it is not. */
export type LearnerProgressModel =
  | { mode: 'local'; recordedStatus: string }
  | { mode: 'unread'; recordedStatus: string; snapshot: LearnerSnapshotModel }
  | {
      mode: 'github';
      status: string;
      /** The signals behind the status, in words; empty for "awaiting acknowledgement". */
      evidence: string[];
      snapshot: LearnerSnapshotModel;
      facts: LearnerFieldModel[];
      challenges: LearnerChallengeRow[];
      reviews: LearnerReviewItem[];
      /** How old an open pull request must be to be listed, in words ("an hour"). */
      reviewAfter: string;
      attempts: LearnerAttemptRow[];
    };

/** A learner operation offered on the learner's page: its button, what it does, and the state the page shows (sent back as `from`). */
export interface LearnerOperationModel {
  operation: string;
  label: string;
  hint: string;
  from: string | null;
}

/** A text area's field: as a text field, with the value's length limit said in the hint. */
export type TextAreaModel = TextFieldModel;

/** The learner page's operations section. */
export interface LearnerOperationsModel {
  /** The learner's identity key, sent as `learner`. */
  learner: string;
  /** This page, to come back to. */
  back: string;
  /** The GitHub operations offered. */
  offered: LearnerOperationModel[];
  /** Operations not offered for this learner, each with why, in words. */
  notOffered: string[];
  /** The notes form; null when notes cannot be edited here (and `notesUnavailable` says why). */
  notes: { field: TextAreaModel; seen: string } | null;
  notesUnavailable: string | null;
  /** This learner's edits the roster of record could not take (GitHub mode), newest first. */
  editProblems: Array<{ text: string; time: TimeModel }>;
}

export interface LearnerPageModel {
  /** A failed notes form, sent back: the error summary's links. */
  errors: FieldError[];
  /** The page's title and h1: "Learner: <handle>". */
  title: string;
  handle: string;
  intro: string;
  fields: LearnerFieldModel[];
  links: LearnerLinkModel[];
  /** Why a facilitator should look at this learner, in words. */
  attention: string[];
  progress: LearnerProgressModel;
  operations: LearnerOperationsModel;
}

// ---------------------------------------------------------------------------
// Facilitator operations (routes/operations.ts)

/** One learner on a confirmation page: what will happen to them, or why nothing can. */
export interface OperationPlanItem {
  handle: string;
  cohort: string;
  href: string;
  text: string;
  can: boolean;
}

export interface OperationConfirmModel {
  /** The page's title and h1. */
  title: string;
  /** The operation's name. */
  operation: string;
  /** What will happen, sentence by sentence (for starting provisioning for everyone). */
  summary: string[];
  items: OperationPlanItem[];
  /** How many of the learners the operation can be done for. */
  canCount: number;
  /** Who will see the effect, in sentences. */
  audience: string[];
  /** For notes: the notes now and the notes after, as lines. */
  notes: { current: string[]; next: string[] } | null;
  /** The fields the confirm form sends on, besides its CSRF token. */
  hidden: Array<{ name: string; value: string }>;
  /** The confirm button's words; null when nothing can be done. */
  confirmLabel: string | null;
  back: string;
  backLabel: string;
}

/** One learner's outcome on a result page. */
export interface OperationResultItem {
  handle: string;
  cohort: string;
  href: string;
  /** The outcome in a word or two: "Done", "Failed". */
  outcome: string;
  text: string;
  /** A notes edit not saved: what was typed and what the notes are now, as lines. */
  notes: { attempted: string[]; current: string[] } | null;
}

export interface OperationResultModel {
  /** The page's title and h1: the operation and its outcome. */
  title: string;
  /** The outcome in sentences, in the status region. */
  summary: string[];
  /** When it was done. */
  at: TimeModel;
  /** One learner's notes not saved: what was typed and what the notes are now, as lines. */
  notes: { attempted: string[]; current: string[] } | null;
  items: OperationResultItem[];
  back: string;
  backLabel: string;
}
