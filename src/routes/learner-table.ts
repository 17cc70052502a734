/**
 * The learners table's view of the roster, shared by the dashboard and its
 * CSV export: the filters (cohort, provisioning state, derived status, needs
 * attention, a username search), server-side sorting by column, and pages of
 * 50. Its state lives in the query string, so a filtered, sorted page has an
 * address of its own that survives sign-in and can be shared.
 *
 * Pure: given the learners, each one's progress, who needs attention, and
 * the query, it says which rows are in view, in which order.
 */
import { PROVISION_STATES, STATUSES, learnerProvisionState, normalizeHandle, type Learner, type LearnerStatus, type ProvisionState } from '../roster/contract.js';
import type { LearnerProgress } from '../github/progress-rules.js';
import { field, type Fields } from '../http/fields.js';

export const PAGE_SIZE = 50;

export const SORT_KEYS = ['handle', 'cohort', 'state', 'status', 'registered', 'activity'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type Direction = 'asc' | 'desc';

/** A status filter: a derived (or recorded) status, or learners whose progress has not been read yet. */
export type StatusFilter = LearnerStatus | 'unknown';

export interface TableQuery {
  /** The cohort asked for: '' for all, null when the field was repeated. */
  readonly cohort: string | null;
  readonly state: ProvisionState | null;
  readonly status: StatusFilter | null;
  readonly attention: boolean;
  /** Part of a username, compared without case and without a leading @. */
  readonly search: string;
  readonly sort: SortKey;
  readonly dir: Direction;
  readonly page: number;
}

export const DEFAULT_QUERY: TableQuery = { cohort: '', state: null, status: null, attention: false, search: '', sort: 'handle', dir: 'asc', page: 1 };

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;
}

/** Reads the table's state from query fields; anything not understood is left at its default. */
export function parseTableQuery(fields: Fields): TableQuery {
  const page = field(fields, 'page');
  const search = field(fields, 'q');
  return {
    cohort: field(fields, 'cohort'),
    state: oneOf(field(fields, 'state'), PROVISION_STATES),
    status: oneOf<StatusFilter>(field(fields, 'status'), [...STATUSES, 'unknown']),
    attention: field(fields, 'attention') === '1',
    search: normalizeHandle(search ?? '').slice(0, 39),
    sort: oneOf(field(fields, 'sort'), SORT_KEYS) ?? DEFAULT_QUERY.sort,
    dir: field(fields, 'dir') === 'desc' ? 'desc' : 'asc',
    page: page !== null && /^[1-9]\d{0,6}$/.test(page) ? Number(page) : 1,
  };
}

/** The query string for a table state, with only what differs from the defaults (and a leading `?`, or ''). */
export function queryString(query: TableQuery, change: Partial<TableQuery> = {}): string {
  const q = { ...query, ...change };
  const params = new URLSearchParams();
  if (q.cohort) params.set('cohort', q.cohort);
  if (q.state) params.set('state', q.state);
  if (q.status) params.set('status', q.status);
  if (q.attention) params.set('attention', '1');
  if (q.search) params.set('q', q.search);
  if (q.sort !== DEFAULT_QUERY.sort) params.set('sort', q.sort);
  if (q.dir !== DEFAULT_QUERY.dir) params.set('dir', q.dir);
  if (q.page !== 1) params.set('page', String(q.page));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** One learner as the table sees it. */
export interface TableEntry {
  readonly learner: Learner;
  /** Position in canonical (identity-key) order, the default sort and every sort's tie-breaker. */
  readonly order: number;
  readonly progress: LearnerProgress | null;
  /** The status shown: derived when progress was read, else the roster's own (null: not read yet, in GitHub mode). */
  readonly status: LearnerStatus | null;
}

/** Whether a learner needs attention at the time of the view. */
export type NeedsAttention = (entry: TableEntry) => boolean;

function matches(entry: TableEntry, query: TableQuery, needsAttention: NeedsAttention | null): boolean {
  if (query.state !== null && learnerProvisionState(entry.learner) !== query.state) return false;
  if (query.status !== null && (query.status === 'unknown' ? entry.status !== null : entry.status !== query.status)) return false;
  if (query.attention && (needsAttention === null || !needsAttention(entry))) return false;
  if (query.search !== '' && !normalizeHandle(entry.learner.github_handle).toLowerCase().includes(query.search.toLowerCase())) return false;
  return true;
}

/** A sort value: null (no value) always sorts last, whatever the direction. */
type SortValue = string | number | null;

function timeValue(at: unknown): number | null {
  if (typeof at !== 'string') return null;
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? null : ms;
}

function sortValue(entry: TableEntry, key: SortKey): SortValue {
  switch (key) {
    case 'handle':
      return entry.order;
    case 'cohort':
      return entry.learner.cohort_id;
    case 'state':
      return PROVISION_STATES.indexOf(learnerProvisionState(entry.learner));
    case 'status':
      return entry.status === null ? null : STATUSES.indexOf(entry.status);
    case 'registered':
      return timeValue(entry.learner.registered_at);
    case 'activity':
      return timeValue(entry.progress?.lastActivity?.at ?? entry.learner.last_signal_at);
  }
}

const collator = new Intl.Collator();

function compare(va: SortValue, vb: SortValue, dir: Direction): number {
  if (va === null || vb === null) return va === vb ? 0 : va === null ? 1 : -1;
  if (va === vb) return 0;
  const order = typeof va === 'string' && typeof vb === 'string' ? collator.compare(va, vb) : (va as number) - (vb as number);
  return dir === 'asc' ? order : -order;
}

/**
 * The entries (given in canonical order) that pass the query's filters, in
 * its order: every page of them, what the CSV holds. Each entry's sort value
 * is worked out once, not at every comparison.
 */
export function matchingSorted(entries: ReadonlyArray<TableEntry>, query: TableQuery, needsAttention: NeedsAttention | null): ReadonlyArray<TableEntry> {
  const matching = entries.filter((e) => matches(e, query, needsAttention));
  if (query.sort === 'handle' && query.dir === 'asc') return matching;
  const keyed = matching.map((entry) => ({ entry, value: sortValue(entry, query.sort) }));
  keyed.sort((a, b) => compare(a.value, b.value, query.dir) || a.entry.order - b.entry.order);
  return keyed.map((k) => k.entry);
}

export interface TableView {
  /** Every entry that passes the filters, sorted: what the CSV holds. */
  readonly matching: ReadonlyArray<TableEntry>;
  /** The entries on the page asked for. */
  readonly page: ReadonlyArray<TableEntry>;
  readonly pageNumber: number;
  readonly pageCount: number;
}

/** The page asked for of sorted, filtered entries (the last page when it asks for more). */
export function pageOf(sorted: ReadonlyArray<TableEntry>, page: number): TableView {
  const pageCount = Math.max(1, Math.ceil(sorted.length / PAGE_SIZE));
  const pageNumber = Math.min(page, pageCount);
  return { matching: sorted, page: sorted.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE), pageNumber, pageCount };
}
