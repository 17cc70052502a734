/**
 * Property-based tests of the roster contract (roster-contract.md), with
 * fast-check. Each property is checked against rules written out again here,
 * plainly, rather than against the implementation's own helpers, so a change
 * to a rule in src/ that the contract does not allow makes a property fail.
 *
 * Runs per property are moderate; set FC_NUM_RUNS to run more (for example
 * FC_NUM_RUNS=2000 for a deeper local check). A failure prints the seed and
 * the shrunk counterexample; replay it with fc.assert's `seed` and `path`.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  isValidUsername,
  normalizeHandle,
  parseRoster,
  serializeRoster,
  canonicalRoster,
  upsertLearner,
  editLearner,
  PROVISION_STATES,
  type Cohort,
  type Learner,
  type LearnerPath,
  type Registration,
  type Roster,
} from '../src/roster/contract.js';
import { applyChanges, applyRegistrations, serializeCanonical, type RosterChange } from '../src/roster/incremental.js';
import { RosterStore } from '../src/roster/store.js';
import { tempDir } from './helpers/app.js';
import { alnum, validUsername } from './helpers/arbitraries.js';

const RUNS = Number(process.env.FC_NUM_RUNS ?? '') || 0;
const runs = (n: number) => ({ numRuns: RUNS > 0 ? RUNS : n });

// ---------------------------------------------------------------------------
// The rules, written out plainly (independent of src/roster/contract.ts).
// ---------------------------------------------------------------------------

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
function isAsciiDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/**
 * The GitHub username rule as roster-contract.md words it: 1 to 39
 * characters, ASCII letters, digits and single hyphens; no leading or
 * trailing hyphen; no two hyphens in a row.
 */
export function plainUsernameRule(s: string): boolean {
  if (s.length < 1 || s.length > 39) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '-') {
      if (i === 0 || i === s.length - 1) return false;
      if (s[i - 1] === '-') return false;
    } else if (!isAsciiLetter(c) && !isAsciiDigit(c)) {
      return false;
    }
  }
  return true;
}

/** What a person may type: surrounding whitespace is trimmed, then one leading `@` is dropped. */
export function plainTypedHandleRule(typed: string): boolean {
  let s = typed.trim();
  if (s.startsWith('@')) s = s.slice(1);
  return plainUsernameRule(s);
}

/** The identity key: lower-cased handle without `@`, and the cohort, both trimmed. */
function keyOf(handle: string, cohortId: string): string {
  let h = handle.trim();
  if (h.startsWith('@')) h = h.slice(1);
  return `${h.toLowerCase()}@@${cohortId.trim()}`;
}
const learnerKeyOf = (l: { github_handle: string; cohort_id: string }) => keyOf(l.github_handle, l.cohort_id);

/**
 * The cohort a registration is stored under, as roster-contract.md and the
 * companion's specification word it: when the roster lists cohorts, the
 * listed id that equals the submitted one, or else the first that equals it
 * ignoring case; null when none does. With no cohorts listed, as submitted.
 */
function plainCohortFor(roster: Roster, submitted: string): string | null {
  const ids = (roster.cohorts ?? []).map((c) => c.cohort_id);
  if (ids.length === 0) return submitted;
  return ids.find((id) => id === submitted) ?? ids.find((id) => id.toLowerCase() === submitted.toLowerCase()) ?? null;
}

const LEARNER_FIELDS_IN_TABLE_ORDER = [
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
];
const TOP_LEVEL_ORDER = ['version', 'generated_at', 'cohorts', 'learners'];
/** Integer-like keys always come first in a JavaScript object, whatever order they were written in. */
const isArrayIndexKey = (k: string) => /^(0|[1-9]\d{0,8})$/.test(k);

/** A value as it looks once read back from a JSON file (plain objects, no -0). */
function asRead<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

// ---------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------

const alnumOrHyphen = fc.oneof({ weight: 4, arbitrary: alnum }, { weight: 1, arbitrary: fc.constant('-') });

/** Characters that look like or sit near the allowed ones, or are otherwise awkward. */
const tricky = fc.constantFrom(
  '-', '_', '.', ' ', '@', '/', '+', '\t', '\n', '\r', '\0', '\u007f',
  '\u00e9', 'e\u0301', '\u0130', '\u0131', '\u212a', '\uff21', '\uff10', '\u0663', '\u00b2',
  '\u2010', '\u2011', '\u2212', '\u00ad', '\u200b', '\ufeff', '\u00a0', '\u2028',
  '\ud83d\ude00', '\ud800', '\udfff',
);


/** Strings of exactly 36 to 42 characters from the allowed alphabet: around the 39 limit. */
const nearTheLimit = fc
  .integer({ min: 36, max: 42 })
  .chain((n) => fc.string({ unit: alnumOrHyphen, minLength: n, maxLength: n }));

/** A valid username with one awkward character put in, or swapped for one. */
const almostValid = fc.tuple(validUsername, tricky, fc.nat(), fc.boolean()).map(([name, c, at, replace]) => {
  const i = at % (name.length + 1);
  return replace ? name.slice(0, i) + c + name.slice(i + 1) : name.slice(0, i) + c + name.slice(i);
});

const usernameCandidates = fc.oneof(
  validUsername,
  nearTheLimit,
  almostValid,
  fc.array(fc.string({ unit: alnum, minLength: 1, maxLength: 9 }), { minLength: 1, maxLength: 7 }).map((parts) => parts.join('-')),
  fc.string({ unit: fc.oneof({ weight: 6, arbitrary: alnum }, { weight: 3, arbitrary: fc.constant('-') }, { weight: 1, arbitrary: tricky }), maxLength: 45 }),
  fc.string({ unit: 'binary-ascii', maxLength: 45 }),
  fc.string({ unit: 'binary', maxLength: 45 }),
  fc.string({ unit: 'grapheme', maxLength: 45 }),
);

const typedHandles = fc
  .tuple(
    usernameCandidates,
    fc.constantFrom('', ' ', '  ', '\t', '\u00a0', '\n'),
    fc.constantFrom('', '@', '@@', ' @', '@ '),
    fc.constantFrom('', ' ', '\t', '\u3000', '\r\n', '@'),
  )
  .map(([name, lead, at, trail]) => `${lead}${at}${name}${trail}`);

const PATH_VALUES = ['day1-day2', 'day2-only'] as const;
const pathArb = fc.constantFrom<LearnerPath>(...PATH_VALUES);

/** ISO-8601 UTC times as toISOString writes them. */
const isoUtc = fc
  .date({ min: new Date('1990-01-01T00:00:00.000Z'), max: new Date('2099-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
/** ISO-8601 times, sometimes with an offset or without milliseconds (the progress signal may carry either). */
const isoAny = fc.tuple(isoUtc, fc.constantFrom('Z', '+00:00', '+02:00', '-05:30'), fc.boolean()).map(([iso, zone, dropMs]) => {
  const base = dropMs ? iso.slice(0, 19) : iso.slice(0, 23);
  return `${base}${zone}`;
});

const COHORT_POOL = ['spring-2026', 'autumn-2026', 'c1', 'Cohort A'];
const cohortId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...COHORT_POOL) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== '') },
  { weight: 1, arbitrary: fc.constantFrom(' spring-2026', 'c1 ', '<b>c</b>', 'ü-kurs', 'e\u0301', '\u00e9') },
);

/** Keys that no tool defines: kept as they are. Includes keys that are awkward in JavaScript. */
function unknownKey(known: readonly string[]): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.constantFrom('enrollment_repo', 'enrollment_issue_number', 'room', '__proto__', 'constructor', 'toString', '', '0', '10', 'x-y', 'Notes', 'PATH'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
    )
    .filter((k) => !known.includes(k));
}
const unknownValue = fc.jsonValue({ maxDepth: 2, stringUnit: 'grapheme' });
function unknownFields(known: readonly string[]): fc.Arbitrary<Array<[string, unknown]>> {
  return fc.uniqueArray(fc.tuple(unknownKey(known), unknownValue), { maxLength: 3, selector: ([k]) => k });
}

/** Builds an object from entries in a random order (other tools may order fields differently). */
function shuffledObject(entries: Array<[string, unknown]>, order: number[]): Record<string, unknown> {
  const sorted = entries.map((entry, i) => ({ entry, rank: order[i] ?? i })).sort((a, b) => a.rank - b.rank);
  return Object.fromEntries(sorted.map(({ entry }) => entry));
}

const learnerArb: fc.Arbitrary<Learner> = fc
  .tuple(
    fc.record(
      {
        github_handle: fc.oneof({ weight: 6, arbitrary: validUsername }, { weight: 1, arbitrary: validUsername.map((h) => `@${h}`) }),
        cohort_id: cohortId,
        path: pathArb,
        learning_room_repo: fc.option(fc.constantFrom('Community-Access/learning-room-a', 'org/repo.name', 'odd value', ''), { nil: null }),
        provision_state: fc.constantFrom('pending', 'provisioned', 'failed', 'healed'),
        status: fc.constantFrom('awaiting-ack', 'active-day1', 'day1-complete', 'day2-released', 'needs-info'),
        registered_at: fc.option(isoUtc, { nil: null }),
        last_signal_at: fc.option(isoAny, { nil: null }),
        enrollment_repo: fc.option(fc.constantFrom('Community-Access/glow-enrollment', 'org/x'), { nil: null }),
        enrollment_issue_number: fc.option(fc.integer({ min: 1, max: 99_999 }), { nil: null }),
        notes: fc.string({ unit: 'grapheme', maxLength: 20 }),
      },
      { requiredKeys: ['github_handle', 'cohort_id'] },
    ),
    unknownFields(LEARNER_FIELDS_IN_TABLE_ORDER),
    fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    fc.boolean(),
  )
  .map(([known, unknown, order, shuffle]) => {
    const entries: Array<[string, unknown]> = [...Object.entries(known), ...unknown];
    return (shuffle ? shuffledObject(entries, order) : Object.fromEntries(entries)) as Learner;
  });

const cohortArb = fc
  .tuple(
    fc.record({ cohort_id: cohortId, label: fc.string({ unit: 'grapheme', maxLength: 20 }), opens_at: isoUtc }, { requiredKeys: ['cohort_id'] }),
    unknownFields(['cohort_id', 'label', 'opens_at']),
  )
  .map(([known, unknown]) => Object.fromEntries([...Object.entries(known), ...unknown]) as Cohort);

/** A roster that satisfies the contract, with unknown fields at every level, as read from a file. */
const rosterArb: fc.Arbitrary<Roster> = fc
  .record(
    {
      generated_at: fc.option(isoUtc, { nil: null }),
      cohorts: fc.array(cohortArb, { maxLength: 4 }),
      learners: fc.uniqueArray(learnerArb, { maxLength: 8, selector: learnerKeyOf }),
      unknown: unknownFields(TOP_LEVEL_ORDER),
    },
    { requiredKeys: ['learners', 'unknown'] },
  )
  .map(({ unknown, ...known }) => asRead({ version: 1, ...known, ...Object.fromEntries(unknown) }) as Roster);

const nowArb = fc.date({ min: new Date('2020-01-01T00:00:00.000Z'), max: new Date('2040-01-01T00:00:00.000Z'), noInvalidDate: true });

/** Flips the case of some letters (the same learner typing their name differently). */
function recase(handle: string, flips: number[]): string {
  return handle
    .split('')
    .map((c, i) => ((flips[i % Math.max(1, flips.length)] ?? 0) % 2 === 1 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c))
    .join('');
}

/**
 * A roster and a registration as validation hands it over (handle without
 * `@`, cohort trimmed): half the time the registration is a learner already
 * there, typed in another case, possibly choosing another path.
 */
const rosterAndRegistration: fc.Arbitrary<{ roster: Roster; registration: Registration }> = fc
  .tuple(
    rosterArb,
    fc.record({ github_handle: validUsername, cohort_id: cohortId.map((c) => c.trim()).filter((c) => c !== ''), path: pathArb }),
    fc.nat(),
    fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
    pathArb,
    fc.boolean(),
  )
  .map(([roster, fresh, pick, flips, path, again]) => {
    const existing = roster.learners[pick % Math.max(1, roster.learners.length)];
    const listed = roster.cohorts?.[pick % Math.max(1, roster.cohorts.length)];
    if (!again && listed !== undefined && pick % 3 === 0) {
      // A listed cohort, typed in another case.
      return { roster, registration: { ...fresh, cohort_id: recase(listed.cohort_id.trim(), flips) } };
    }
    if (!again || existing === undefined) return { roster, registration: fresh };
    const handle = recase(normalizeHandle(existing.github_handle), flips);
    return { roster, registration: { github_handle: handle, cohort_id: existing.cohort_id.trim(), path } };
  });

// ---------------------------------------------------------------------------
// Shared checks.
// ---------------------------------------------------------------------------

/** Learners by identity key, as their JSON text (so field order counts). */
function learnersByKey(roster: Roster): Map<string, string> {
  return new Map(roster.learners.map((l) => [learnerKeyOf(l), JSON.stringify(l)]));
}

/** Everything in a roster except `generated_at` and `learners`, with `cohorts` defaulting to []. */
function theRest(roster: Roster): Record<string, unknown> {
  const { generated_at: _g, learners: _l, ...rest } = roster;
  return { ...rest, cohorts: rest.cohorts ?? [] };
}

/**
 * After registering `registration` into `before` (giving `after`): every
 * other learner and every field outside the learners is exactly as it was;
 * the registered learner has kept every field but `path`.
 */
function assertOnlyTheRegisteredLearnerChanged(before: Roster, after: Roster, registration: Registration, now: Date): void {
  const cohortId = plainCohortFor(before, registration.cohort_id);
  assert.ok(cohortId !== null, 'a registration for a cohort not listed was accepted');
  const key = keyOf(registration.github_handle, cohortId);
  assert.deepEqual(theRest(after), theRest(before), 'fields outside the learners changed');
  const was = learnersByKey(before);
  const is = learnersByKey(after);
  for (const [k, text] of was) {
    if (k !== key) assert.equal(is.get(k), text, `learner ${k} changed`);
  }
  const previous = before.learners.find((l) => learnerKeyOf(l) === key);
  const current = after.learners.find((l) => learnerKeyOf(l) === key);
  assert.ok(current, 'the registered learner is missing');
  if (previous) {
    assert.equal(after.learners.length, before.learners.length, 'a learner already there was added again');
    const { path: _p1, ...keptBefore } = previous;
    const { path: registeredPath, ...keptAfter } = current;
    assert.deepEqual(keptAfter, keptBefore, 'a field of the registered learner other than path changed');
    assert.equal(registeredPath, registration.path);
    // Fields keep their order (a path the record did not have yet is added at the end).
    const order = Object.keys(previous);
    if (!order.includes('path')) order.push('path');
    assert.deepEqual(Object.keys(current), order);
  } else {
    assert.equal(after.learners.length, before.learners.length + 1);
    assert.deepEqual(Object.keys(current), LEARNER_FIELDS_IN_TABLE_ORDER);
    assert.deepEqual(current, {
      github_handle: registration.github_handle,
      cohort_id: cohortId,
      path: registration.path,
      learning_room_repo: null,
      provision_state: 'pending',
      status: 'awaiting-ack',
      registered_at: now.toISOString(),
      last_signal_at: null,
      enrollment_repo: null,
      enrollment_issue_number: null,
      notes: '',
    });
  }
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

describe('property: the GitHub username rule', () => {
  test('isValidUsername accepts exactly the strings the written rule describes', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(usernameCandidates, (candidate) => {
        const expected = plainUsernameRule(candidate);
        assert.equal(isValidUsername(candidate), expected, `isValidUsername(${JSON.stringify(candidate)})`);
        if (expected) accepted++;
        else refused++;
      }),
      runs(3000),
    );
    // The candidates must exercise both answers, or the property proves little.
    assert.ok(accepted > 0 && refused > 0, `accepted ${accepted}, refused ${refused}`);
    assert.ok(Math.min(accepted, refused) / (accepted + refused) > 0.15, `lopsided candidates: accepted ${accepted}, refused ${refused}`);
  });

  test('every username built from the rule is accepted, and lengths 38 to 41 are judged by length alone', () => {
    fc.assert(
      fc.property(validUsername, (name) => {
        assert.equal(isValidUsername(name), true, JSON.stringify(name));
      }),
      runs(500),
    );
    fc.assert(
      fc.property(fc.integer({ min: 38, max: 41 }), fc.string({ unit: alnum, minLength: 41, maxLength: 41 }), (n, letters) => {
        assert.equal(isValidUsername(letters.slice(0, n)), n <= 39);
      }),
      runs(200),
    );
  });

  test('a typed handle is accepted exactly when, trimmed and without one leading @, it meets the rule', () => {
    fc.assert(
      fc.property(typedHandles, (typed) => {
        assert.equal(isValidUsername(normalizeHandle(typed)), plainTypedHandleRule(typed), `typed ${JSON.stringify(typed)}`);
      }),
      runs(2000),
    );
  });
});

describe('property: serialization', () => {
  test('serializing then parsing gives back the same roster, apart from generated_at', () => {
    fc.assert(
      fc.property(rosterArb, nowArb, (roster, now) => {
        const snapshot = JSON.stringify(roster);
        const text = serializeRoster(roster, now);
        assert.equal(JSON.stringify(roster), snapshot, 'serializing modified its input');
        const back = parseRoster(text);

        // The same roster: every field outside the learners, and the same learners, field for field and in field order.
        assert.equal(back.generated_at, now.toISOString());
        assert.deepEqual(theRest(back), theRest(roster));
        assert.deepEqual(learnersByKey(back), learnersByKey(roster));
        assert.equal(back.learners.length, roster.learners.length);

        // In canonical form: keys in contract order, then unknown keys in their order; learners sorted by key with localeCompare.
        const keys = Object.keys(back).filter((k) => !isArrayIndexKey(k));
        const unknownInOrder = Object.keys(roster).filter((k) => !TOP_LEVEL_ORDER.includes(k) && !isArrayIndexKey(k));
        assert.deepEqual(keys, [...TOP_LEVEL_ORDER, ...unknownInOrder]);
        for (let i = 1; i < back.learners.length; i++) {
          const a = learnerKeyOf(back.learners[i - 1]!);
          const b = learnerKeyOf(back.learners[i]!);
          assert.ok(a.localeCompare(b) <= 0, `learners out of order: ${JSON.stringify(a)} before ${JSON.stringify(b)}`);
        }
        assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);

        // A canonical file read and written again, at the same time, is the same bytes.
        assert.equal(serializeRoster(back, now), text);
      }),
      runs(300),
    );
  });
});

describe('property: registration', () => {
  test('registering is idempotent: registering twice is the same as registering once, even later', () => {
    fc.assert(
      fc.property(rosterAndRegistration, nowArb, nowArb, ({ roster, registration }, now, later) => {
        const first = upsertLearner(roster, registration, now);
        const once = first.roster;
        const twice = upsertLearner(once, registration, later);
        assert.equal(twice.outcome, first.outcome === 'unknown-cohort' ? 'unknown-cohort' : 'unchanged');
        assert.deepEqual(twice.roster, once);
        assert.equal(serializeRoster(twice.roster, later), serializeRoster(once, later));
      }),
      runs(300),
    );
  });

  test('registering one learner never changes another learner, the registered learner\'s other fields, or any unknown field', () => {
    fc.assert(
      fc.property(rosterAndRegistration, nowArb, ({ roster, registration }, now) => {
        const snapshot = JSON.stringify(roster);
        const { roster: after, outcome } = upsertLearner(roster, registration, now);
        assert.equal(JSON.stringify(roster), snapshot, 'the upsert modified its input');
        const cohortId = plainCohortFor(roster, registration.cohort_id);
        if (cohortId === null) {
          assert.equal(outcome, 'unknown-cohort');
          assert.equal(after, roster);
          return;
        }
        assertOnlyTheRegisteredLearnerChanged(roster, after, registration, now);
        const previous = roster.learners.find((l) => learnerKeyOf(l) === keyOf(registration.github_handle, cohortId));
        assert.equal(outcome, previous === undefined ? 'created' : previous.path === registration.path ? 'unchanged' : 'updated');
        // The same holds for what is written to the file.
        assertOnlyTheRegisteredLearnerChanged(roster, parseRoster(serializeRoster(after, now)), registration, now);
      }),
      runs(300),
    );
  });

  test('through the store and the file: only the registered learner changes, and a cohort not listed writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(rosterAndRegistration, nowArb, async ({ roster, registration }, now) => {
        const { dir, cleanup } = await tempDir('glow-prop-store-');
        try {
          const file = path.join(dir, 'roster.json');
          const text = serializeRoster(roster, new Date('2026-01-01T00:00:00.000Z'));
          await writeFile(file, text);
          const store = new RosterStore({ path: file, now: () => now, lockStaleMs: 2000, lockWaitMs: 2000 });
          const result = await store.register(registration);
          await store.close();
          const written = await readFile(file, 'utf8');
          if (plainCohortFor(roster, registration.cohort_id) === null) {
            assert.equal(result.outcome, 'unknown-cohort');
            assert.equal(written, text, 'a refused registration changed the file');
          } else if (result.outcome === 'unchanged') {
            assert.equal(written, text, 'a registration that changed nothing rewrote the file');
            assertOnlyTheRegisteredLearnerChanged(parseRoster(text), parseRoster(written), registration, now);
          } else {
            assertOnlyTheRegisteredLearnerChanged(parseRoster(text), parseRoster(written), registration, now);
          }
          // No lock or temporary file is left behind.
          assert.deepEqual(await readdir(dir), ['roster.json']);
        } finally {
          await cleanup();
        }
      }),
      runs(40),
    );
  });
});

/**
 * The canonical file text, written out plainly: top-level keys in order,
 * learners sorted by identity key with `localeCompare` (a stable sort),
 * `generated_at` now, two-space indentation and a trailing newline.
 */
function plainCanonicalText(roster: Roster, now: Date): string {
  const { version: _version, generated_at: _generatedAt, cohorts, learners, ...rest } = roster;
  const sorted = [...learners].sort((a, b) => learnerKeyOf(a).localeCompare(learnerKeyOf(b)));
  return `${JSON.stringify({ version: 1, generated_at: now.toISOString(), cohorts: cohorts ?? [], learners: sorted, ...rest }, null, 2)}\n`;
}

const otherPath = (p: LearnerPath): LearnerPath => (p === 'day1-day2' ? 'day2-only' : 'day1-day2');

describe('property: batches of registrations', () => {
  test('applyRegistrations, batch after batch, gives the same outcomes and file as one upsertLearner after another', () => {
    const chain = fc
      .tuple(
        fc.array(rosterAndRegistration, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.array(fc.array(fc.tuple(fc.nat(), fc.boolean()), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      )
      .map(([pairs, pick, picks]) => {
        // One roster, and batches drawn from registrations made for it and for the others
        // (so some repeat keys, some change a path, some miss the listed cohorts).
        const pool = pairs.map((p) => p.registration);
        const batches = picks.map((batch) =>
          batch.map(([i, flip]): Registration => {
            const registration = pool[i % pool.length]!;
            return flip ? { ...registration, path: otherPath(registration.path) } : registration;
          }),
        );
        return { roster: pairs[pick % pairs.length]!.roster, batches };
      });
    fc.assert(
      fc.property(chain, nowArb, ({ roster, batches }, start) => {
        let expected = roster;
        let actual = roster;
        batches.forEach((registrations, b) => {
          const now = new Date(start.getTime() + b * 1000);
          const expectedOutcomes = registrations.map((registration) => {
            const step = upsertLearner(expected, registration, now);
            expected = step.roster;
            return step.outcome;
          });
          const before = JSON.stringify(actual);
          const step = applyRegistrations(actual, registrations, now);
          assert.deepEqual(step.outcomes, expectedOutcomes);
          assert.equal(JSON.stringify(actual), before, 'the input roster was modified');
          if (expectedOutcomes.every((o) => o === 'unchanged' || o === 'unknown-cohort')) {
            assert.equal(step.roster, actual, 'a batch that changes nothing returns the roster it was given');
          } else {
            const text = serializeCanonical(step.roster);
            assert.equal(text, plainCanonicalText(expected, now));
            assert.equal(`${JSON.stringify(step.roster, null, 2)}\n`, text, 'the roster kept in memory is the one written');
          }
          actual = step.roster;
        });
      }),
      runs(200),
    );
  });
});

describe('property: batches of registrations and edits', () => {
  test('applyChanges, batch after batch, gives the same outcomes and file as upsertLearner and editLearner one after another', () => {
    const NOTES = ['', 'called twice', 'Needs large print'];
    const edit = fc.tuple(fc.nat(), fc.boolean(), fc.nat(), fc.nat(), fc.boolean());
    const chain = fc
      .tuple(fc.array(rosterAndRegistration, { minLength: 1, maxLength: 6 }), fc.nat(), fc.array(fc.array(fc.oneof(fc.tuple(fc.nat(), fc.boolean()), edit), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }))
      .map(([pairs, pick, picks]) => {
        const roster = pairs[pick % pairs.length]!.roster;
        const pool = pairs.map((p) => p.registration);
        // Edits aim at learners already there and at ones registered in the batches (some never are: missing).
        const targets = [...roster.learners.map((l) => ({ github_handle: l.github_handle, cohort_id: l.cohort_id })), ...pool];
        const batches = picks.map((batch) =>
          batch.map((choice): RosterChange => {
            if (choice.length === 2) {
              const registration = pool[choice[0] % pool.length]!;
              return { registration: choice[1] ? { ...registration, path: otherPath(registration.path) } : registration };
            }
            const [target, notes, from, to, upper] = choice;
            const { github_handle, cohort_id } = targets[target % targets.length]!;
            const who = { github_handle: upper ? github_handle.toUpperCase() : github_handle, cohort_id };
            return notes
              ? { edit: { ...who, field: 'notes', from: NOTES[from % NOTES.length]!, to: NOTES[to % NOTES.length]! } }
              : { edit: { ...who, field: 'provision_state', from: PROVISION_STATES[from % PROVISION_STATES.length]!, to: PROVISION_STATES[to % PROVISION_STATES.length]! } };
          }),
        );
        return { roster, batches };
      });
    fc.assert(
      fc.property(chain, nowArb, ({ roster, batches }, start) => {
        let expected = roster;
        let actual = roster;
        batches.forEach((changes, b) => {
          const now = new Date(start.getTime() + b * 1000);
          const expectedOutcomes = changes.map((change) => {
            const step = 'edit' in change ? editLearner(expected, change.edit) : upsertLearner(expected, change.registration, now);
            expected = step.roster;
            return step.outcome;
          });
          const step = applyChanges(actual, changes, now);
          assert.deepEqual(step.outcomes, expectedOutcomes);
          if (expectedOutcomes.every((o) => o !== 'created' && o !== 'updated' && o !== 'edited')) assert.equal(step.roster, actual, 'a batch that changes nothing returns the roster it was given');
          else assert.equal(serializeCanonical(step.roster), plainCanonicalText(expected, now));
          actual = step.roster;
        });
      }),
      runs(200),
    );
  });
});

describe('property: the serializer', () => {
  test('writes exactly JSON.stringify(roster, null, 2) plus a newline, also when reusing learners\' text from earlier writes', () => {
    fc.assert(
      fc.property(rosterAndRegistration, nowArb, ({ roster, registration }, now) => {
        const first = canonicalRoster(roster, now);
        assert.equal(serializeCanonical(first), `${JSON.stringify(first, null, 2)}\n`);
        // A second write shares most learner records with the first.
        const next = canonicalRoster(upsertLearner(first, registration, now).roster, now);
        assert.equal(serializeCanonical(next), `${JSON.stringify(next, null, 2)}\n`);
      }),
      runs(300),
    );
  });
});
