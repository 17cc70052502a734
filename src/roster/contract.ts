/**
 * The owned roster contract (version 1): types, rules, validation, the
 * registration upsert, canonical serialization and the redacted view.
 *
 * Pure: no I/O, no clock except through arguments. The provisioning subsystem
 * reads and writes the same file, so everything here follows
 * `roster-contract.md` exactly and keeps whatever it does not understand.
 */

export const PATHS = ['day1-day2', 'day2-only'] as const;
export type LearnerPath = (typeof PATHS)[number];

export const PROVISION_STATES = ['pending', 'provisioned', 'failed', 'healed'] as const;
export type ProvisionState = (typeof PROVISION_STATES)[number];

export const STATUSES = ['awaiting-ack', 'active-day1', 'day1-complete', 'day2-released', 'needs-info'] as const;
export type LearnerStatus = (typeof STATUSES)[number];

/** A learner record as stored. Unknown fields are kept as they are. */
export interface Learner {
  github_handle: string;
  cohort_id: string;
  path?: LearnerPath;
  learning_room_repo?: string | null;
  provision_state?: ProvisionState;
  status?: LearnerStatus;
  registered_at?: string | null;
  last_signal_at?: string | null;
  notes?: string;
  [unknown: string]: unknown;
}

export interface Cohort {
  cohort_id: string;
  label?: string;
  opens_at?: string;
  [unknown: string]: unknown;
}

export interface Roster {
  version: 1;
  generated_at?: string | null;
  cohorts?: Cohort[];
  learners: Learner[];
  [unknown: string]: unknown;
}

/** What a person submits to register, already validated. */
export interface Registration {
  github_handle: string;
  cohort_id: string;
  path: LearnerPath;
}

export interface RedactedLearner {
  github_handle: string;
  cohort_id: string;
  path: LearnerPath;
  provision_state: ProvisionState;
  status: LearnerStatus;
}

export interface RedactedRoster {
  version: 1;
  learners: RedactedLearner[];
}

export const USERNAME_MAX_LENGTH = 39;
export const COHORT_ID_MAX_LENGTH = 40;

// 1 to 39 characters; letters, digits and single hyphens; no hyphen at either end.
const USERNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const COHORT_ID_RE = /^[A-Za-z0-9._-]{1,40}$/;
const ISO_UTC_Z_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const ISO_DATE_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
// GitHub owner and repository names, used only to decide whether to link.
const REPO_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

export function isValidUsername(value: string): boolean {
  return USERNAME_RE.test(value);
}

/** A cohort id a person may type when the roster lists no cohorts. */
export function isValidCohortId(value: string): boolean {
  return COHORT_ID_RE.test(value);
}

export function isLinkableRepo(value: string): boolean {
  return REPO_RE.test(value) && !value.includes('..');
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

// Learner records are never modified in place (an update makes a new
// object), so what is derived from one record can be kept beside it.
const keys = new WeakMap<Learner, string>();

/** A stored learner's identity key, computed once per record. */
export function keyOfLearner(learner: Learner): string {
  let key = keys.get(learner);
  if (key === undefined) {
    key = learnerKey(learner.github_handle, learner.cohort_id);
    keys.set(learner, key);
  }
  return key;
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
  if ('learning_room_repo' in value && value.learning_room_repo !== null && typeof value.learning_room_repo !== 'string') {
    problems.push(`${where}.learning_room_repo must be a string or null`);
  }
  if ('provision_state' in value && !(PROVISION_STATES as readonly unknown[]).includes(value.provision_state)) {
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
  if ('generated_at' in value && value.generated_at !== null && typeof value.generated_at !== 'string') {
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

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

/** A new learner record, its fields in the contract's table order. */
export function newLearner(registration: Registration, now: Date): Learner {
  return {
    github_handle: registration.github_handle,
    cohort_id: registration.cohort_id,
    path: registration.path,
    learning_room_repo: null,
    provision_state: 'pending',
    status: 'awaiting-ack',
    registered_at: now.toISOString(),
    last_signal_at: null,
    notes: '',
  };
}

/**
 * The registration upsert. A new key appends a pending learner. A key already
 * there is the same learner registering again: only the learner's own choice
 * of `path` may change; everything the provisioning subsystem or a facilitator
 * wrote, and every unknown field, is kept. Returns a new roster; the input is
 * not modified.
 */
export function upsertLearner(roster: Roster, registration: Registration, now: Date): { roster: Roster; outcome: UpsertOutcome } {
  const key = learnerKey(registration.github_handle, registration.cohort_id);
  const index = roster.learners.findIndex((l) => keyOfLearner(l) === key);
  if (index === -1) {
    return { roster: { ...roster, learners: [...roster.learners, newLearner(registration, now)] }, outcome: 'created' };
  }
  const existing = roster.learners[index]!;
  if (existing.path === registration.path) {
    return { roster, outcome: 'unchanged' };
  }
  const learners = roster.learners.slice();
  learners[index] = { ...existing, path: registration.path };
  return { roster: { ...roster, learners }, outcome: 'updated' };
}

export type BatchOutcome = UpsertOutcome | 'unknown-cohort';

// ECMA-402 defines `a.localeCompare(b)` as comparing with a collator built
// from the same (default) locale and options, so this orders exactly as the
// provisioning tool's `localeCompare` does, without rebuilding one per call.
const collator = new Intl.Collator();

// The sorted version of each learners array sortLearners was given; an array
// already in canonical order maps to itself. Learner arrays are never modified
// in place (a change makes a new array), so an array in order stays in it.
const sortedVersions = new WeakMap<readonly Learner[], Learner[]>();

/**
 * Learners in identity-key order (a stable sort: each key computed once).
 * An array already sorted by this function is returned as it is, so callers
 * must treat the result as read-only.
 */
export function sortLearners(learners: readonly Learner[]): Learner[] {
  let sorted = sortedVersions.get(learners);
  if (sorted === undefined) {
    sorted = learners
      .map((learner) => ({ key: keyOfLearner(learner), learner }))
      .sort((a, b) => collator.compare(a.key, b.key))
      .map((entry) => entry.learner);
    sortedVersions.set(learners, sorted);
    sortedVersions.set(sorted, sorted);
  }
  return sorted;
}

/** The first position in sorted learners whose key orders after `key` (equal keys stay before it). */
function positionAfter(sorted: readonly Learner[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (collator.compare(keyOfLearner(sorted[middle]!), key) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The position of the learner whose key is exactly `key` in sorted learners (it must be there). */
function positionOf(sorted: readonly Learner[], key: string): number {
  // Distinct keys can compare equal (the collator ignores some characters), so look among the equal ones.
  for (let at = positionAfter(sorted, key) - 1; at >= 0 && collator.compare(keyOfLearner(sorted[at]!), key) === 0; at--) {
    if (keyOfLearner(sorted[at]!) === key) return at;
  }
  throw new Error(`learner ${key} is not in the roster`);
}

/**
 * Past this many pieces, a learners' text is joined into one buffer again
 * (about every ten batches of fifty; near the most a single writev takes).
 */
const MAX_PIECES = 1000;

/**
 * The learners' bytes as they stand in the file, each one's text followed by
 * `,\n`, held as a list of pieces (so a batch copies no unchanged bytes), with
 * each learner's length in bytes. Every piece ends where a learner's text ends.
 */
class LearnersText {
  readonly pieces: readonly Buffer[];
  private readonly pieceStarts: Float64Array;

  constructor(pieces: readonly Buffer[], readonly lengths: Uint32Array) {
    this.pieces = pieces.length > MAX_PIECES ? [Buffer.concat(pieces)] : pieces;
    this.pieceStarts = new Float64Array(this.pieces.length + 1);
    this.pieces.forEach((piece, i) => {
      this.pieceStarts[i + 1] = this.pieceStarts[i]! + piece.length;
    });
  }

  /** Appends to `into` the pieces that make up bytes `from` to `to`. */
  copyRange(from: number, to: number, into: Buffer[]): void {
    // The last piece starting at or before `from`.
    let low = 0;
    let high = this.pieces.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.pieceStarts[middle]! <= from) low = middle;
      else high = middle - 1;
    }
    for (let i = low; from < to; i++) {
      const start = this.pieceStarts[i]!;
      const end = Math.min(this.pieceStarts[i + 1]!, to);
      into.push(this.pieces[i]!.subarray(from - start, end - start));
      from = end;
    }
  }
}

const texts = new WeakMap<readonly Learner[], LearnersText>();
const LEARNER_SEPARATOR = ',\n';

/** A learner as it stands in the file (an element of `learners`, four spaces deep), then the separator. */
function learnerChunk(learner: Learner): Buffer {
  // Indent after each line feed only: a multiline regex would also break at
  // U+2028 and U+2029, which JSON.stringify leaves unescaped inside strings.
  return Buffer.from(`    ${JSON.stringify(learner, null, 2).replaceAll('\n', '\n    ')}${LEARNER_SEPARATOR}`);
}

function textOf(learners: readonly Learner[]): LearnersText {
  let text = texts.get(learners);
  if (text === undefined) {
    const chunks = learners.map(learnerChunk);
    text = new LearnersText([Buffer.concat(chunks)], Uint32Array.from(chunks, (chunk) => chunk.length));
    texts.set(learners, text);
  }
  return text;
}

// The key index of a sorted learners array. An index is updated in place and
// handed on to the array a batch makes, so each array's entry is taken, never shared.
const keyIndexes = new WeakMap<readonly Learner[], Map<string, Learner>>();

function keyIndexOf(learners: readonly Learner[]): Map<string, Learner> {
  return keyIndexes.get(learners) ?? new Map(learners.map((l) => [keyOfLearner(l), l]));
}

/**
 * Applies a batch of registrations in order, as one `upsertLearner` after
 * another would, and returns the roster in canonical form (`canonicalRoster`)
 * as of `now`. When the roster lists cohorts, a registration for any other
 * cohort is refused ('unknown-cohort') and changes nothing. When nothing
 * changes, the roster given is returned as it is.
 *
 * The work is in proportion to the batch, not the roster, when the roster came
 * from an earlier call: its sorted learners, their key index and their file
 * bytes are kept, the new learners are placed by binary search, and the
 * unchanged bytes are copied across in runs.
 */
export function applyRegistrations(roster: Roster, registrations: readonly Registration[], now: Date): { roster: Roster; outcomes: BatchOutcome[] } {
  const cohorts = new Set(listedCohorts(roster).map((c) => c.cohort_id));
  const sorted = sortLearners(roster.learners);
  const index = keyIndexOf(sorted);
  // New learners in the order they were first registered, and changed existing ones by key.
  const created = new Map<string, Learner>();
  const changed = new Map<string, Learner>();
  const outcomes = registrations.map((registration): BatchOutcome => {
    if (cohorts.size > 0 && !cohorts.has(registration.cohort_id)) return 'unknown-cohort';
    const key = learnerKey(registration.github_handle, registration.cohort_id);
    const existing = created.get(key) ?? changed.get(key) ?? index.get(key);
    if (existing === undefined) {
      const learner = newLearner(registration, now);
      keys.set(learner, key);
      created.set(key, learner);
      return 'created';
    }
    if (existing.path === registration.path) return 'unchanged';
    const updated: Learner = { ...existing, path: registration.path };
    keys.set(updated, key);
    (created.has(key) ? created : changed).set(key, updated);
    return 'updated';
  });
  if (created.size === 0 && changed.size === 0) return { roster, outcomes };

  // Edits by position in the sorted learners: a new learner goes in before
  // `at`, after any learner whose key orders the same (as a stable sort of the
  // old learners followed by the new would place it); a changed one replaces `at`.
  const edits: Array<{ at: number; learner: Learner; replaces: boolean }> = [];
  for (const learner of sortLearners([...created.values()])) {
    edits.push({ at: positionAfter(sorted, keyOfLearner(learner)), learner, replaces: false });
  }
  for (const [key, learner] of changed) edits.push({ at: positionOf(sorted, key), learner, replaces: true });
  edits.sort((a, b) => a.at - b.at || Number(a.replaces) - Number(b.replaces));

  const old = textOf(sorted);
  const runs: Learner[][] = [];
  const pieces: Buffer[] = [];
  const lengths = new Uint32Array(sorted.length + created.size);
  let placed = 0;
  // Old learners passed so far, and where the next one starts in the old text.
  let copied = 0;
  let copiedBytes = 0;
  const copyUntil = (end: number) => {
    if (end <= copied) return;
    let runBytes = 0;
    for (let i = copied; i < end; i++) runBytes += old.lengths[i]!;
    old.copyRange(copiedBytes, copiedBytes + runBytes, pieces);
    lengths.set(old.lengths.subarray(copied, end), placed);
    runs.push(sorted.slice(copied, end));
    placed += end - copied;
    copiedBytes += runBytes;
    copied = end;
  };
  for (const edit of edits) {
    copyUntil(edit.at);
    const chunk = learnerChunk(edit.learner);
    pieces.push(chunk);
    lengths[placed++] = chunk.length;
    runs.push([edit.learner]);
    if (edit.replaces) {
      copiedBytes += old.lengths[edit.at]!;
      copied = edit.at + 1;
    }
  }
  copyUntil(sorted.length);
  // Joined a bounded number of runs at a time: one spread argument per run could overflow the stack.
  let learners: Learner[] = [];
  for (let i = 0; i < runs.length; i += 4096) learners = learners.concat(...runs.slice(i, i + 4096));

  for (const [key, learner] of [...created, ...changed]) index.set(key, learner);
  keyIndexes.delete(sorted);
  keyIndexes.set(learners, index);
  texts.set(learners, new LearnersText(pieces, lengths));
  sortedVersions.set(learners, learners);
  return { roster: canonicalRoster({ ...roster, learners }, now), outcomes };
}

/**
 * Canonical text, byte for byte what the provisioning tool writes:
 * top-level keys `version`, `generated_at`, `cohorts`, `learners` (then any
 * others, in their order), learners sorted by identity key, two-space
 * indentation and a trailing newline.
 */
export function serializeRoster(roster: Roster, now: Date): string {
  return serializeCanonical(canonicalRoster(roster, now));
}

/** The roster as it will be written: keys in order, learners sorted, `generated_at` now. */
export function canonicalRoster(roster: Roster, now: Date): Roster {
  const { version: _version, generated_at: _generatedAt, cohorts, learners, ...rest } = roster;
  return {
    version: 1,
    generated_at: now.toISOString(),
    cohorts: cohorts ?? [],
    learners: sortLearners(learners),
    ...rest,
  };
}

/** The text of a roster already in canonical form. */
export function serializeCanonical(roster: Roster): string {
  return Buffer.concat(serializeCanonicalChunks(roster)).toString('utf8');
}

/**
 * The file's bytes as chunks whose concatenation is exactly
 * `JSON.stringify(roster, null, 2) + "\n"`: the text before the learners, the
 * learners' pieces (kept beside their array and carried forward by
 * `applyRegistrations`, so a write stringifies only new or changed learners
 * and copies nothing else), and the text after them.
 */
export function serializeCanonicalChunks(roster: Roster): Buffer[] {
  if (roster.learners.length === 0) return [Buffer.from(`${JSON.stringify(roster, null, 2)}\n`)];
  const shell = JSON.stringify({ ...roster, learners: [] }, null, 2);
  // Keys after `learners` are nested deeper than two spaces, so the first match is the top-level key.
  const slot = '\n  "learners": []';
  const at = shell.indexOf(slot);
  // The last learner has no separator after it; every piece ends with a learner's, so the last piece ends with it.
  const { pieces } = textOf(roster.learners);
  const last = pieces[pieces.length - 1]!;
  return [
    Buffer.from(`${shell.slice(0, at)}\n  "learners": [\n`),
    ...pieces.slice(0, -1),
    last.subarray(0, last.length - LEARNER_SEPARATOR.length),
    Buffer.from(`\n  ]${shell.slice(at + slot.length)}\n`),
  ];
}

/** The stored value, or the contract's default where a liberal reader met none. */
export function learnerPath(l: Learner): LearnerPath {
  return l.path ?? 'day1-day2';
}
export function learnerProvisionState(l: Learner): ProvisionState {
  return l.provision_state ?? 'pending';
}
export function learnerStatus(l: Learner): LearnerStatus {
  return l.status ?? 'awaiting-ack';
}

/** The redacted view for tooling surfaces: never notes, never anything else. */
export function redactRoster(roster: Roster): RedactedRoster {
  return {
    version: 1,
    learners: sortLearners(roster.learners).map((l) => ({
      github_handle: normalizeHandle(l.github_handle),
      cohort_id: l.cohort_id,
      path: learnerPath(l),
      provision_state: learnerProvisionState(l),
      status: learnerStatus(l),
    })),
  };
}

/** The cohorts a person may choose from, in roster order, without duplicates. */
export function listedCohorts(roster: Roster): Cohort[] {
  const seen = new Set<string>();
  return (roster.cohorts ?? []).filter((c) => {
    if (seen.has(c.cohort_id)) return false;
    seen.add(c.cohort_id);
    return true;
  });
}

/** How a cohort is named to people: its label when it has one (trimmed), else its id. */
export function cohortLabel(cohort: Pick<Cohort, 'cohort_id' | 'label'>): string {
  return cohort.label?.trim() || cohort.cohort_id;
}
