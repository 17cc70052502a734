/**
 * The owned roster contract (version 1): types, rules, validation, the
 * registration upsert, canonical serialization, the redacted view and the
 * cohort label. This module is the specification, written plainly.
 *
 * Pure: no I/O, no clock except through arguments, no caches. The
 * provisioning subsystem reads and writes the same file, so everything here
 * follows `roster-contract.md` exactly and keeps whatever it does not
 * understand. Roster data is read-only in its types: an edit makes a new
 * object. The faster, incremental form of the same operations is in
 * `incremental.ts`, proven equal to this one by the property tests.
 */

export const PATHS = ['day1-day2', 'day2-only'] as const;
export type LearnerPath = (typeof PATHS)[number];

export const PROVISION_STATES = ['pending', 'provisioned', 'failed', 'healed'] as const;
export type ProvisionState = (typeof PROVISION_STATES)[number];

export const STATUSES = ['awaiting-ack', 'active-day1', 'day1-complete', 'day2-released', 'needs-info'] as const;
export type LearnerStatus = (typeof STATUSES)[number];

/** The learner fields the contract defines, in its table's order (the order a new record has). */
export const LEARNER_FIELDS = [
  'github_handle',
  'cohort_id',
  'path',
  'learning_room_repo',
  'provision_state',
  'status',
  'registered_at',
  'last_signal_at',
  'enrollment_repo',
  'enrollment_issue_number',
  'notes',
] as const;

/** A learner record as stored. Unknown fields are kept as they are; a change makes a new record. */
export type Learner = Readonly<{
  github_handle: string;
  cohort_id: string;
  path?: LearnerPath;
  learning_room_repo?: string | null;
  provision_state?: ProvisionState;
  status?: LearnerStatus;
  registered_at?: string | null;
  last_signal_at?: string | null;
  enrollment_repo?: string | null;
  enrollment_issue_number?: number | null;
  notes?: string;
  [unknown: string]: unknown;
}>;

export type Cohort = Readonly<{
  cohort_id: string;
  label?: string;
  opens_at?: string;
  [unknown: string]: unknown;
}>;

export type Learners = ReadonlyArray<Learner>;

export type Roster = Readonly<{
  version: 1;
  generated_at?: string | null;
  cohorts?: ReadonlyArray<Cohort>;
  learners: Learners;
  [unknown: string]: unknown;
}>;

/** What a person submits to register, already validated. */
export type Registration = Readonly<{
  github_handle: string;
  cohort_id: string;
  path: LearnerPath;
  /** When it was received (ISO-8601 UTC), when that was before it is applied; otherwise it is "now". */
  registered_at?: string;
}>;

export type RedactedLearner = Readonly<{
  github_handle: string;
  cohort_id: string;
  path: LearnerPath;
  provision_state: ProvisionState;
  status: LearnerStatus;
}>;

export type RedactedRoster = Readonly<{
  version: 1;
  learners: ReadonlyArray<RedactedLearner>;
}>;

export const USERNAME_MAX_LENGTH = 39;
export const COHORT_ID_MAX_LENGTH = 40;

// 1 to 39 characters; letters, digits and single hyphens; no hyphen at either end.
const USERNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
// A typed cohort id becomes part of a repository name: a letter or digit first.
const COHORT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const ISO_UTC_Z_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const ISO_DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
// GitHub owner and repository names, used only to decide whether to link.
const REPO_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export function isValidUsername(value: string): boolean {
  return USERNAME_RE.test(value);
}

/** A cohort id a person may type when the roster lists no cohorts (before it is lower-cased). */
export function isValidCohortId(value: string): boolean {
  return COHORT_ID_RE.test(value);
}

export function isLinkableRepo(value: string): boolean {
  return REPO_RE.test(value) && !value.includes('..');
}

export function isProvisionState(value: unknown): value is ProvisionState {
  return (PROVISION_STATES as readonly unknown[]).includes(value);
}

export function isPath(value: unknown): value is LearnerPath {
  return typeof value === 'string' && (PATHS as readonly string[]).includes(value);
}

/** Trims, then strips one leading `@` typed by a person. */
export function normalizeHandle(raw: string): string {
  const trimmed = raw.trim();
  return trimmed.startsWith('@') ? trimmed.slice(1) : trimmed;
}

/** The identity key string: `lower(handle) + "@@" + cohort_id`, both trimmed, `@` stripped. */
export function learnerKey(handle: string, cohortId: string): string {
  return `${normalizeHandle(handle).toLowerCase()}@@${cohortId.trim()}`;
}

/** A stored learner's identity key. */
export function keyOfLearner(learner: Learner): string {
  return learnerKey(learner.github_handle, learner.cohort_id);
}

export function emptyRoster(): Roster {
  return { version: 1, generated_at: null, cohorts: [], learners: [] };
}

/** A roster file that breaks the contract: the companion reports it and writes nothing. */
export class RosterInvalidError extends Error {
  override readonly name = 'RosterInvalidError';
  constructor(readonly problems: readonly string[]) {
    super(`The roster file breaks the roster contract: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

function checkLearner(value: unknown, where: string, problems: string[]): value is Learner {
  if (!isPlainObject(value)) {
    problems.push(`${where} is not an object`);
    return false;
  }
  const before = problems.length;
  const handle = value.github_handle;
  if (typeof handle !== 'string' || !isValidUsername(normalizeHandle(handle))) {
    problems.push(`${where}.github_handle is not a valid GitHub username`);
  }
  if (typeof value.cohort_id !== 'string' || value.cohort_id.trim() === '') {
    problems.push(`${where}.cohort_id must be a non-empty string`);
  }
  if ('path' in value && !isPath(value.path)) {
    problems.push(`${where}.path must be one of ${PATHS.join(', ')}`);
  }
  if ('learning_room_repo' in value && !isStringOrNull(value.learning_room_repo)) {
    problems.push(`${where}.learning_room_repo must be a string or null`);
  }
  if ('provision_state' in value && !isProvisionState(value.provision_state)) {
    problems.push(`${where}.provision_state must be one of ${PROVISION_STATES.join(', ')}`);
  }
  if ('status' in value && !(STATUSES as readonly unknown[]).includes(value.status)) {
    problems.push(`${where}.status must be one of ${STATUSES.join(', ')}`);
  }
  if ('registered_at' in value && value.registered_at !== null && !isIsoUtc(value.registered_at)) {
    problems.push(`${where}.registered_at must be an ISO-8601 UTC time ending in Z, or null`);
  }
  if ('last_signal_at' in value && value.last_signal_at !== null && !isIsoDateTime(value.last_signal_at)) {
    problems.push(`${where}.last_signal_at must be an ISO-8601 time, or null`);
  }
  if ('enrollment_repo' in value && !isStringOrNull(value.enrollment_repo)) {
    problems.push(`${where}.enrollment_repo must be a string or null`);
  }
  if ('enrollment_issue_number' in value && value.enrollment_issue_number !== null && !isIssueNumber(value.enrollment_issue_number)) {
    problems.push(`${where}.enrollment_issue_number must be a positive whole number, or null`);
  }
  if ('notes' in value && typeof value.notes !== 'string') {
    problems.push(`${where}.notes must be a string`);
  }
  return problems.length === before;
}

function isIsoUtc(value: unknown): boolean {
  return typeof value === 'string' && ISO_UTC_Z_RE.test(value) && !Number.isNaN(Date.parse(value));
}

function isIsoDateTime(value: unknown): boolean {
  return typeof value === 'string' && ISO_DATE_TIME_RE.test(value) && !Number.isNaN(Date.parse(value));
}

function isIssueNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Checks a parsed JSON value against the contract and returns it typed.
 * Throws RosterInvalidError listing every problem found.
 */
export function validateRoster(value: unknown): Roster {
  const problems: string[] = [];
  if (!isPlainObject(value)) {
    throw new RosterInvalidError(['the top level is not a JSON object']);
  }
  if (value.version !== 1) {
    problems.push('version must be 1');
  }
  if ('generated_at' in value && !isStringOrNull(value.generated_at)) {
    problems.push('generated_at must be a string or null');
  }
  if ('cohorts' in value) {
    if (!Array.isArray(value.cohorts)) {
      problems.push('cohorts must be an array');
    } else {
      value.cohorts.forEach((cohort: unknown, i: number) => {
        if (!isPlainObject(cohort) || typeof cohort.cohort_id !== 'string' || cohort.cohort_id.trim() === '') {
          problems.push(`cohorts[${i}] must be an object with a non-empty cohort_id`);
        } else if ('label' in cohort && typeof cohort.label !== 'string') {
          problems.push(`cohorts[${i}].label must be a string`);
        }
      });
    }
  }
  if (!Array.isArray(value.learners)) {
    problems.push('learners must be an array');
  } else {
    const seen = new Map<string, number>();
    value.learners.forEach((learner: unknown, i: number) => {
      const where = `learners[${i}]`;
      if (!checkLearner(learner, where, problems)) return;
      const key = keyOfLearner(learner);
      const first = seen.get(key);
      if (first !== undefined) {
        problems.push(`${where} has the same username and cohort as learners[${first}]`);
      } else {
        seen.set(key, i);
      }
    });
  }
  if (problems.length > 0) throw new RosterInvalidError(problems);
  return value as Roster;
}

/** Parses the file's text. An empty (or all-whitespace) file is an empty roster. */
export function parseRoster(text: string): Roster {
  if (text.trim() === '') return emptyRoster();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RosterInvalidError([`the file is not valid JSON (${(error as Error).message})`]);
  }
  return validateRoster(value);
}

/** The cohorts a person may choose from, in roster order, without duplicates. */
export function listedCohorts(roster: Roster): ReadonlyArray<Cohort> {
  const seen = new Set<string>();
  return (roster.cohorts ?? []).filter((c) => {
    if (seen.has(c.cohort_id)) return false;
    seen.add(c.cohort_id);
    return true;
  });
}

/** How a cohort is named to people: its label, or its id when it has none. */
export function cohortLabel(cohort: Cohort): string {
  return cohort.label?.trim() || cohort.cohort_id;
}

/**
 * The cohort id a registration is stored with, or null when it names no
 * cohort it may join. Repository names ignore case, so cohort ids that differ
 * only by case must not become two learners:
 * - when cohorts are listed, the submitted id matches one of them without
 *   regard to case (an exact match first) and the listed id is stored;
 * - otherwise the typed id must start with a letter or digit, and is stored
 *   lower-case.
 */
export function cohortIdFor(submitted: string, cohorts: ReadonlyArray<Cohort>): string | null {
  const typed = submitted.trim();
  if (cohorts.length > 0) {
    const lower = typed.toLowerCase();
    const match = cohorts.find((c) => c.cohort_id === typed) ?? cohorts.find((c) => c.cohort_id.toLowerCase() === lower);
    return match?.cohort_id ?? null;
  }
  return isValidCohortId(typed) ? typed.toLowerCase() : null;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged' | 'unknown-cohort';

/**
 * A new learner record: all eleven fields in the contract's table order,
 * exactly as the provisioning tool's `upsertLearner` creates one.
 */
export function newLearner(registration: Registration, now: Date): Learner {
  return {
    github_handle: registration.github_handle,
    cohort_id: registration.cohort_id,
    path: registration.path,
    learning_room_repo: null,
    provision_state: 'pending',
    status: 'awaiting-ack',
    registered_at: registration.registered_at ?? now.toISOString(),
    last_signal_at: null,
    enrollment_repo: null,
    enrollment_issue_number: null,
    notes: '',
  };
}

/**
 * The registration upsert. When the roster lists cohorts, a registration for
 * a cohort not among them changes nothing ('unknown-cohort'); one that names a
 * listed cohort in another case is stored under the listed id. A new key
 * appends a pending learner. A key already there is the same learner
 * registering again: only the learner's own choice of `path` may change;
 * everything the provisioning subsystem or a facilitator wrote, and every
 * unknown field, is kept. Returns a new roster; the input is not modified.
 */
export function upsertLearner(roster: Roster, registration: Registration, now: Date): { roster: Roster; outcome: UpsertOutcome } {
  const listed = listedCohorts(roster);
  const cohortId = listed.length > 0 ? cohortIdFor(registration.cohort_id, listed) : registration.cohort_id;
  if (cohortId === null) return { roster, outcome: 'unknown-cohort' };
  const key = learnerKey(registration.github_handle, cohortId);
  const index = roster.learners.findIndex((l) => keyOfLearner(l) === key);
  if (index === -1) {
    const learner = newLearner({ ...registration, cohort_id: cohortId }, now);
    return { roster: { ...roster, learners: [...roster.learners, learner] }, outcome: 'created' };
  }
  const existing = roster.learners[index]!;
  if (existing.path === registration.path) {
    return { roster, outcome: 'unchanged' };
  }
  const learners = roster.learners.with(index, { ...existing, path: registration.path });
  return { roster: { ...roster, learners }, outcome: 'updated' };
}

/** The longest notes a facilitator can save, in characters. */
export const NOTES_MAX_LENGTH = 2000;

/**
 * A facilitator's change to one field of one learner. `from` is the value
 * the facilitator saw when deciding (`learnerNotes`, `learnerProvisionState`),
 * so a change someone else made meanwhile is noticed rather than overwritten.
 */
export type LearnerEdit = Readonly<
  | { github_handle: string; cohort_id: string; field: 'notes'; from: string; to: string }
  | { github_handle: string; cohort_id: string; field: 'provision_state'; from: ProvisionState; to: ProvisionState }
>;

export type EditOutcome = 'edited' | 'unchanged' | 'conflict' | 'missing';

/** The value of the field an edit is about, with the contract's default where the record has none. */
export function editedValue(learner: Learner, field: LearnerEdit['field']): string {
  return field === 'notes' ? learnerNotes(learner) : learnerProvisionState(learner);
}

/**
 * The edit rule for one record: already the new value, unchanged; some
 * other value than the one the facilitator saw, a conflict (kept as it is);
 * otherwise the record with that one field changed and nothing else.
 */
export function editedLearner(learner: Learner, edit: LearnerEdit): { learner: Learner; outcome: Exclude<EditOutcome, 'missing'> } {
  const current = editedValue(learner, edit.field);
  if (current === edit.to) return { learner, outcome: 'unchanged' };
  if (current !== edit.from) return { learner, outcome: 'conflict' };
  return { learner: { ...learner, [edit.field]: edit.to }, outcome: 'edited' };
}

/** The plain rule for a roster: the learner with the edit's key, edited (`editedLearner`). */
export function editLearner(roster: Roster, edit: LearnerEdit): { roster: Roster; outcome: EditOutcome } {
  const key = learnerKey(edit.github_handle, edit.cohort_id);
  const index = roster.learners.findIndex((l) => keyOfLearner(l) === key);
  if (index === -1) return { roster, outcome: 'missing' };
  const { learner, outcome } = editedLearner(roster.learners[index]!, edit);
  if (outcome !== 'edited') return { roster, outcome };
  return { roster: { ...roster, learners: roster.learners.with(index, learner) }, outcome };
}

// ECMA-402 defines `a.localeCompare(b)` as comparing with a collator built
// from the same (default) locale and options, so this orders exactly as the
// provisioning tool's `localeCompare` does, without rebuilding one per call.
const collator = new Intl.Collator();

/** Compares two identity keys as the provisioning tool's `localeCompare` does. */
export const compareKeys: (a: string, b: string) => number = collator.compare;

/** Learners in identity-key order: a new array, by a stable sort. */
export function sortLearners(learners: Learners): Learners {
  return learners
    .map((learner) => ({ key: keyOfLearner(learner), learner }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map((entry) => entry.learner);
}

/** The roster as it will be written: keys in order, learners sorted, `generated_at` now. */
export function canonicalRoster(roster: Roster, now: Date, sort: (learners: Learners) => Learners = sortLearners): Roster {
  const { version: _version, generated_at: _generatedAt, cohorts, learners, ...rest } = roster;
  return {
    version: 1,
    generated_at: now.toISOString(),
    cohorts: cohorts ?? [],
    learners: sort(learners),
    ...rest,
  };
}

/**
 * Canonical text, byte for byte what the provisioning tool writes:
 * top-level keys `version`, `generated_at`, `cohorts`, `learners` (then any
 * others, in their order), learners sorted by identity key, two-space
 * indentation and a trailing newline.
 */
export function serializeRoster(roster: Roster, now: Date): string {
  return `${JSON.stringify(canonicalRoster(roster, now), null, 2)}\n`;
}

/** The stored value, or the contract's default where a liberal reader met none. */
export function learnerPath(l: Learner): LearnerPath {
  return l.path ?? 'day1-day2';
}
export function learnerProvisionState(l: Learner): ProvisionState {
  return l.provision_state ?? 'pending';
}
export function learnerNotes(l: Learner): string {
  return typeof l.notes === 'string' ? l.notes : '';
}
export function learnerStatus(l: Learner): LearnerStatus {
  return l.status ?? 'awaiting-ack';
}

/** The learner's enrollment issue, when the roster records one. */
export function enrollmentIssue(l: Learner): { repo: string; number: number } | null {
  const repo = l.enrollment_repo;
  const number = l.enrollment_issue_number;
  return typeof repo === 'string' && repo !== '' && typeof number === 'number' ? { repo, number } : null;
}

/**
 * The redacted view for tooling surfaces, learners in the order given: never
 * notes, never anything else.
 */
export function redactRoster(learners: Learners): RedactedRoster {
  return {
    version: 1,
    learners: learners.map((l) => ({
      github_handle: normalizeHandle(l.github_handle),
      cohort_id: l.cohort_id,
      path: learnerPath(l),
      provision_state: learnerProvisionState(l),
      status: learnerStatus(l),
    })),
  };
}
