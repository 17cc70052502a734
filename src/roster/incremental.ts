/**
 * The contract's operations done incrementally, for the store's write path
 * and the pages: the same results as the plain rules in `contract.ts`
 * (`upsertLearner` one after another, `sortLearners`, `serializeRoster`),
 * proven equal byte for byte by the property tests, with work in proportion
 * to a batch of registrations rather than to the roster.
 *
 * Beside each canonical learners array it keeps (through `derivedFrom`, which
 * states the rules such caches rely on) its sorted order, its key index and
 * its file bytes, and hands them on to the array the next batch makes.
 */
import { derivedFrom } from '../lib/derived.js';
import {
  canonicalRoster,
  cohortIdFor,
  compareKeys,
  editedLearner,
  learnerKey,
  listedCohorts,
  newLearner,
  sortLearners,
  keyOfLearner as plainKeyOf,
  type EditOutcome,
  type Learner,
  type LearnerEdit,
  type Learners,
  type Registration,
  type Roster,
  type UpsertOutcome,
} from './contract.js';

const keys = derivedFrom<Learner, string>(plainKeyOf);

/** A stored learner's identity key, computed once per record. */
export function keyOfLearner(learner: Learner): string {
  return keys.get(learner);
}

// An array sorted here maps to itself, so sorting it again costs nothing.
const sortedVersions = derivedFrom<Learners, Learners>((learners) => {
  const sorted = learners
    .map((learner) => ({ key: keyOfLearner(learner), learner }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map((entry) => entry.learner);
  sortedVersions.remember(sorted, sorted);
  return sorted;
});

/** Learners in identity-key order (`sortLearners`), computed once per learners array. */
export function sortedLearners(learners: Learners): Learners {
  return sortedVersions.get(learners);
}

/** The first position in sorted learners whose key orders after `key` (equal keys stay before it). */
function positionAfter(sorted: Learners, key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(keyOfLearner(sorted[middle]!), key) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The position of the learner whose key is exactly `key` in sorted learners (it must be there). */
function positionOf(sorted: Learners, key: string): number {
  // Distinct keys can compare equal (the collator ignores some characters), so look among the equal ones.
  for (let at = positionAfter(sorted, key) - 1; at >= 0 && compareKeys(keyOfLearner(sorted[at]!), key) === 0; at--) {
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

const LEARNER_SEPARATOR = ',\n';

/** A learner as it stands in the file (an element of `learners`, four spaces deep), then the separator. */
function learnerChunk(learner: Learner): Buffer {
  // Indent after each line feed only: a multiline regex would also break at
  // U+2028 and U+2029, which JSON.stringify leaves unescaped inside strings.
  return Buffer.from(`    ${JSON.stringify(learner, null, 2).replaceAll('\n', '\n    ')}${LEARNER_SEPARATOR}`);
}

const texts = derivedFrom<Learners, LearnersText>((learners) => {
  const chunks = learners.map(learnerChunk);
  return new LearnersText([Buffer.concat(chunks)], Uint32Array.from(chunks, (chunk) => chunk.length));
});

// The key index of a sorted learners array. A batch updates the index in
// place and hands it on to the array it makes, so an index belongs to one
// array at a time: it is taken from the old array, never shared.
const keyIndexes = derivedFrom<Learners, Map<string, Learner>>((learners) => new Map(learners.map((l) => [keyOfLearner(l), l])));

/**
 * Applies a batch of registrations in order, as one `upsertLearner` after
 * another would, and returns the roster in canonical form (`canonicalRoster`)
 * as of `now`. When nothing changes, the roster given is returned as it is.
 *
 * The work is in proportion to the batch, not the roster, when the roster came
 * from an earlier call: its sorted learners, their key index and their file
 * bytes are kept, the new learners are placed by binary search, and the
 * unchanged bytes are copied across in runs.
 */
export function applyRegistrations(roster: Roster, registrations: readonly Registration[], now: Date): { roster: Roster; outcomes: UpsertOutcome[] } {
  const applied = applyChanges(
    roster,
    registrations.map((registration) => ({ registration })),
    now,
  );
  // A registration's outcome is always an upsert outcome.
  return { roster: applied.roster, outcomes: applied.outcomes as UpsertOutcome[] };
}

/** A change to the roster: a registration, or a facilitator's edit of one field. */
export type RosterChange = Readonly<{ registration: Registration } | { edit: LearnerEdit }>;
export type ChangeOutcome = UpsertOutcome | EditOutcome;

/**
 * Registrations and edits in order, as `upsertLearner` and `editLearner` one
 * after another would apply them; otherwise as `applyRegistrations`.
 */
export function applyChanges(roster: Roster, changes: readonly RosterChange[], now: Date): { roster: Roster; outcomes: ChangeOutcome[] } {
  const listed = listedCohorts(roster);
  const sorted = sortedLearners(roster.learners);
  const index = keyIndexes.get(sorted);
  // New learners in the order they were first registered, and changed existing ones by key.
  const created = new Map<string, Learner>();
  const changed = new Map<string, Learner>();
  const outcomes = changes.map((change): ChangeOutcome => {
    if ('edit' in change) {
      const key = learnerKey(change.edit.github_handle, change.edit.cohort_id);
      const existing = created.get(key) ?? changed.get(key) ?? index.get(key);
      if (existing === undefined) return 'missing';
      const { learner, outcome } = editedLearner(existing, change.edit);
      if (outcome !== 'edited') return outcome;
      keys.remember(learner, key);
      (created.has(key) ? created : changed).set(key, learner);
      return outcome;
    }
    const { registration } = change;
    const cohortId = listed.length > 0 ? cohortIdFor(registration.cohort_id, listed) : registration.cohort_id;
    if (cohortId === null) return 'unknown-cohort';
    const key = learnerKey(registration.github_handle, cohortId);
    const existing = created.get(key) ?? changed.get(key) ?? index.get(key);
    if (existing === undefined) {
      const learner = newLearner({ ...registration, cohort_id: cohortId }, now);
      keys.remember(learner, key);
      created.set(key, learner);
      return 'created';
    }
    if (existing.path === registration.path) return 'unchanged';
    const updated: Learner = { ...existing, path: registration.path };
    keys.remember(updated, key);
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

  const old = texts.get(sorted);
  const runs: Learners[] = [];
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
  let learners: Learners = [];
  for (let i = 0; i < runs.length; i += 4096) learners = learners.concat(...runs.slice(i, i + 4096));

  for (const [key, learner] of [...created, ...changed]) index.set(key, learner);
  keyIndexes.forget(sorted);
  keyIndexes.remember(learners, index);
  texts.remember(learners, new LearnersText(pieces, lengths));
  sortedVersions.remember(learners, learners);
  return { roster: canonicalRoster({ ...roster, learners }, now, sortedLearners), outcomes };
}

/** The learner with an identity key, through the key index kept beside the sorted learners. */
export function learnerWithKey(roster: Roster, key: string): Learner | undefined {
  return keyIndexes.get(sortedLearners(roster.learners)).get(key);
}

/** The roster as it will be written (`canonicalRoster`), sorting each learners array only once. */
export function canonicalForm(roster: Roster, now: Date): Roster {
  return canonicalRoster(roster, now, sortedLearners);
}

/**
 * The file's bytes for a roster already in canonical form, as chunks whose
 * concatenation is exactly `JSON.stringify(roster, null, 2) + "\n"`: the text
 * before the learners, the learners' pieces (kept beside their array and
 * carried forward by `applyRegistrations`, so a write stringifies only new or
 * changed learners and copies nothing else), and the text after them.
 */
export function serializeCanonicalChunks(roster: Roster): Buffer[] {
  if (roster.learners.length === 0) return [Buffer.from(`${JSON.stringify(roster, null, 2)}\n`)];
  const shell = JSON.stringify({ ...roster, learners: [] }, null, 2);
  // Keys after `learners` are nested deeper than two spaces, so the first match is the top-level key.
  const slot = '\n  "learners": []';
  const at = shell.indexOf(slot);
  // The last learner has no separator after it; every piece ends with a learner's, so the last piece ends with it.
  const { pieces } = texts.get(roster.learners);
  const last = pieces[pieces.length - 1]!;
  return [
    Buffer.from(`${shell.slice(0, at)}\n  "learners": [\n`),
    ...pieces.slice(0, -1),
    last.subarray(0, last.length - LEARNER_SEPARATOR.length),
    Buffer.from(`\n  ]${shell.slice(at + slot.length)}\n`),
  ];
}

/** The text of a roster already in canonical form (`serializeCanonicalChunks`, joined). */
export function serializeCanonical(roster: Roster): string {
  return Buffer.concat(serializeCanonicalChunks(roster)).toString('utf8');
}
