/**
 * The learners as the dashboard and its CSV export see them, worked out once
 * per roster, progress snapshot and settings rather than on every page view:
 * each learner's progress and status in canonical order, the learners of each
 * cohort, the counts by provisioning state and by status, and the filtered,
 * sorted views asked for lately. A page then costs its 50 rows, whatever the
 * size of the roster; a filter or sort not asked for yet costs one pass.
 *
 * Reasons for attention depend on the time of the view as well. Their words
 * ("stuck for 35 minutes") are worked out only for what a page shows; which
 * learners need attention, and for how many reasons, is kept in a layer that
 * holds until the first time any learner could gain or lose a reason (a
 * threshold reached, a cohort opening or closing), then is made again.
 */
import type { Cohort, Learner, Learners, LearnerStatus, ProvisionState } from '../roster/contract.js';
import { PROVISION_STATES, STATUSES, learnerProvisionState, learnerStatus } from '../roster/contract.js';
import { keyOfLearner, sortedLearners } from '../roster/incremental.js';
import { derivedFrom } from '../lib/derived.js';
import type { ProgressSnapshot } from '../github/progress.js';
import { deriveProgress, needsAttentionUntil, type AttentionAt, type AttentionReason, type LearnerProgress } from '../github/progress-rules.js';
import { matchingSorted, pageOf, type TableEntry, type TableQuery, type TableView } from './learner-table.js';

/** What the table is worked out for: the roster's learners and cohorts, the snapshot (null: none) and the stuck threshold. */
export interface TableBasis {
  readonly learners: Learners;
  readonly cohorts: ReadonlyArray<Cohort>;
  readonly snapshot: ProgressSnapshot | null;
  readonly stuckMinutes: number | undefined;
}

/** Learners of one scope (a cohort, or everyone) by provisioning state and by status. */
export interface ScopeCounts {
  learners: number;
  /** Learners whose progress has not been read yet (GitHub mode). */
  unread: number;
  readonly states: Record<ProvisionState, number>;
  readonly statuses: Record<LearnerStatus, number>;
}

function emptyCounts(): ScopeCounts {
  return {
    learners: 0,
    unread: 0,
    states: Object.fromEntries(PROVISION_STATES.map((s) => [s, 0])) as Record<ProvisionState, number>,
    statuses: Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<LearnerStatus, number>,
  };
}

function count(counts: ScopeCounts, entry: TableEntry): void {
  counts.learners += 1;
  counts.states[learnerProvisionState(entry.learner)] += 1;
  if (entry.status === null) counts.unread += 1;
  else counts.statuses[entry.status] += 1;
}

/**
 * Each learner's derived progress, as of the snapshot it was read in: derived
 * once per learner record and snapshot (a learner's record can change while
 * the snapshot does not, so the record is the inner key), and again if the
 * cohorts or the stuck threshold it was derived with are not the basis's.
 */
const derivations = derivedFrom<ProgressSnapshot, WeakMap<Learner, { cohorts: ReadonlyArray<Cohort>; stuckMinutes: number | undefined; progress: LearnerProgress }>>(() => new WeakMap());

function progressOf(snapshot: ProgressSnapshot, learner: Learner, basis: TableBasis): LearnerProgress | null {
  const signals = snapshot.signals.get(keyOfLearner(learner));
  if (signals === undefined) return null;
  const known = derivations.get(snapshot);
  const kept = known.get(learner);
  if (kept !== undefined && kept.cohorts === basis.cohorts && kept.stuckMinutes === basis.stuckMinutes) return kept.progress;
  const progress = deriveProgress(learner, signals, { now: snapshot.takenAt, cohorts: basis.cohorts, stuckMinutes: basis.stuckMinutes });
  known.set(learner, { cohorts: basis.cohorts, stuckMinutes: basis.stuckMinutes, progress });
  return progress;
}

/** A learner's reasons for attention as last worked out, for which progress and settings, and from when they hold. */
interface KeptAttention extends AttentionAt {
  readonly progress: LearnerProgress | null;
  readonly cohorts: ReadonlyArray<Cohort>;
  readonly stuckMinutes: number | undefined;
  readonly from: number;
}

/**
 * Per learner record, its reasons for attention as last worked out: the
 * rules say until when their answer holds, so a view within that time, for
 * the same progress and settings, takes them as they are.
 */
const attentionSlots = derivedFrom<Learner, { kept: KeptAttention | null }>(() => ({ kept: null }));

function attentionAt(learner: Learner, progress: LearnerProgress | null, basis: TableBasis, now: number): KeptAttention {
  const slot = attentionSlots.get(learner);
  const kept = slot.kept;
  if (kept !== null && kept.progress === progress && kept.cohorts === basis.cohorts && kept.stuckMinutes === basis.stuckMinutes && kept.from <= now && now < kept.until) {
    return kept;
  }
  const found = needsAttentionUntil(learner, progress, { now: new Date(now), cohorts: basis.cohorts, stuckMinutes: basis.stuckMinutes });
  slot.kept = { ...found, progress, cohorts: basis.cohorts, stuckMinutes: basis.stuckMinutes, from: now };
  return slot.kept;
}

/** A learner's reasons for attention at `now`, word for word. */
export function attentionOf(entry: TableEntry, basis: TableBasis, now: Date): ReadonlyArray<AttentionReason> {
  return attentionAt(entry.learner, entry.progress, basis, now.getTime()).reasons;
}

/** How many filtered, sorted views are kept per table (and per attention layer). */
const VIEWS_KEPT = 32;

/** A few views by their query (without the page), the least recently used dropped first. */
class ViewCache {
  private readonly views = new Map<string, ReadonlyArray<TableEntry>>();

  get(key: string, make: () => ReadonlyArray<TableEntry>): ReadonlyArray<TableEntry> {
    const known = this.views.get(key);
    if (known !== undefined) {
      this.views.delete(key);
      this.views.set(key, known);
      return known;
    }
    const made = make();
    if (this.views.size >= VIEWS_KEPT) this.views.delete(this.views.keys().next().value!);
    this.views.set(key, made);
    return made;
  }
}

function viewKey(scope: string, query: TableQuery): string {
  return JSON.stringify([scope, query.state, query.status, query.search, query.sort, query.dir]);
}

/** Which learners need attention, and for how many reasons, from `from` until `until`. */
class AttentionLayer {
  /** Per scope (a cohort id, or '' for everyone): its learners needing attention in canonical order, and their reasons' number. */
  private readonly scopes = new Map<string, { entries: TableEntry[]; reasons: number }>();
  readonly needing = new Set<TableEntry>();
  readonly views = new ViewCache();
  readonly until: number;

  constructor(
    table: CohortTable,
    readonly from: number,
  ) {
    let until = Number.POSITIVE_INFINITY;
    for (const entry of table.everyone) {
      const found = attentionAt(entry.learner, entry.progress, table.basis, from);
      if (found.kindsUntil < until) until = found.kindsUntil;
      if (found.reasons.length === 0) continue;
      this.needing.add(entry);
      for (const scope of ['', entry.learner.cohort_id]) {
        let s = this.scopes.get(scope);
        if (s === undefined) this.scopes.set(scope, (s = { entries: [], reasons: 0 }));
        s.entries.push(entry);
        s.reasons += found.reasons.length;
      }
    }
    this.until = until;
  }

  scope(cohort: string): { entries: ReadonlyArray<TableEntry>; reasons: number } {
    return this.scopes.get(cohort) ?? { entries: [], reasons: 0 };
  }
}

/** The learners for one basis: everything about them that does not depend on the time of the view. */
export class CohortTable {
  /** Every learner in canonical order, with its progress and status. */
  readonly everyone: ReadonlyArray<TableEntry>;
  private readonly byCohort = new Map<string, TableEntry[]>();
  /** Cohort ids in the order the roster first names them. */
  readonly cohortIds: ReadonlyArray<string>;
  readonly counts: ScopeCounts = emptyCounts();
  private readonly countsByCohort = new Map<string, ScopeCounts>();
  private readonly views = new ViewCache();
  private layer: AttentionLayer | null = null;

  constructor(readonly basis: TableBasis) {
    const { snapshot } = basis;
    this.everyone = sortedLearners(basis.learners).map((learner, order) => {
      const progress = snapshot === null ? null : progressOf(snapshot, learner, basis);
      const status = progress !== null ? progress.status : snapshot === null ? learnerStatus(learner) : null;
      return { learner, order, progress, status };
    });
    for (const entry of this.everyone) {
      const id = entry.learner.cohort_id;
      let members = this.byCohort.get(id);
      let counts = this.countsByCohort.get(id);
      if (members === undefined || counts === undefined) {
        this.byCohort.set(id, (members = []));
        this.countsByCohort.set(id, (counts = emptyCounts()));
      }
      members.push(entry);
      count(counts, entry);
      count(this.counts, entry);
    }
    const ids = new Set<string>();
    for (const learner of basis.learners) ids.add(learner.cohort_id);
    this.cohortIds = [...ids];
  }

  /** A cohort's learners in canonical order ('' for everyone). */
  members(cohort: string): ReadonlyArray<TableEntry> {
    return cohort === '' ? this.everyone : (this.byCohort.get(cohort) ?? []);
  }

  /** A cohort's counts ('' for everyone). */
  countsOf(cohort: string): ScopeCounts {
    return cohort === '' ? this.counts : (this.countsByCohort.get(cohort) ?? emptyCounts());
  }

  /** Who needs attention at `now`. */
  attention(now: Date): AttentionLayer {
    const t = now.getTime();
    if (this.layer === null || t < this.layer.from || t >= this.layer.until) this.layer = new AttentionLayer(this, t);
    return this.layer;
  }

  /** The learners of the query's cohort that pass its filters, in its order, and the page asked for. */
  view(query: TableQuery, now: Date): TableView {
    const members = this.members(query.cohort ?? '');
    const key = viewKey(query.cohort ?? '', query);
    let sorted: ReadonlyArray<TableEntry>;
    if (query.attention) {
      const layer = this.attention(now);
      sorted = layer.views.get(key, () => matchingSorted(members, query, (e) => layer.needing.has(e)));
    } else {
      sorted = this.views.get(key, () => matchingSorted(members, query, null));
    }
    return pageOf(sorted, query.page);
  }
}

/** The table last worked out for a roster's learners; a new snapshot or setting replaces it. */
const tables = derivedFrom<Learners, { table: CohortTable | null }>(() => ({ table: null }));

/** The table for a basis, worked out once and kept while the basis stays the same. */
export function cohortTable(basis: TableBasis): CohortTable {
  const slot = tables.get(basis.learners);
  const known = slot.table;
  if (known !== null && known.basis.snapshot === basis.snapshot && known.basis.cohorts === basis.cohorts && known.basis.stuckMinutes === basis.stuckMinutes) return known;
  slot.table = new CohortTable(basis);
  return slot.table;
}
