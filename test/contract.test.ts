import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  RosterInvalidError,
  canonicalRoster,
  cohortIdFor,
  isValidUsername,
  learnerKey,
  normalizeHandle,
  parseRoster,
  redactRoster,
  serializeRoster,
  upsertLearner,
  validateRoster,
  type Registration,
  type Roster,
} from '../src/roster/contract.js';
import { applyRegistrations, serializeCanonical } from '../src/roster/incremental.js';
import { provisionedLearner } from './helpers/fixtures.js';

const NOW = new Date('2026-02-01T10:00:00.000Z');

function example(): Roster {
  return {
    version: 1,
    generated_at: '2026-01-15T09:00:00.000Z',
    cohorts: [{ cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z', room: 'A' }],
    learners: [provisionedLearner({ notes: 'private note', enrollment_repo: 'Community-Access/enrol' })],
  };
}

describe('GitHub username rule', () => {
  const valid = ['a', 'A', '0', 'ada-lovelace', 'Ada-Lovelace', 'a-b-c', 'a1-2b', 'x'.repeat(39), `${'a-'.repeat(19)}a`];
  const invalid = ['', 'x'.repeat(40), '-ada', 'ada-', 'ada--lovelace', 'ada_lovelace', 'ada.lovelace', 'ada lovelace', '@ada', 'ädä', 'ada\n', '-', '--'];
  for (const name of valid) test(`accepts ${JSON.stringify(name)} (${name.length} chars)`, () => assert.equal(isValidUsername(name), true));
  for (const name of invalid) test(`rejects ${JSON.stringify(name)}`, () => assert.equal(isValidUsername(name), false));

  test('a typed handle is trimmed and loses one leading @', () => {
    assert.equal(normalizeHandle('  @Ada-Lovelace  '), 'Ada-Lovelace');
    assert.equal(normalizeHandle('@@ada'), '@ada');
    assert.equal(isValidUsername(normalizeHandle('@@ada')), false);
  });
});

describe('identity key', () => {
  test('compares handles without case, with spaces and @ removed', () => {
    assert.equal(learnerKey('Ada-Lovelace', 'spring-2026'), learnerKey(' @ada-lovelace ', ' spring-2026 '));
    assert.equal(learnerKey('ada', 'spring-2026'), 'ada@@spring-2026');
  });
  test('keeps cohorts apart', () => {
    assert.notEqual(learnerKey('ada', 'spring-2026'), learnerKey('ada', 'autumn-2026'));
  });
});

describe('validation on read', () => {
  test('accepts the example roster', () => {
    assert.equal(validateRoster(example()).learners.length, 1);
  });
  test('an empty file is an empty roster', () => {
    assert.deepEqual(parseRoster('  \n').learners, []);
  });
  const broken: Array<[string, unknown]> = [
    ['a version other than 1', { ...example(), version: 2 }],
    ['a missing version', { learners: [] }],
    ['learners that are not an array', { version: 1, learners: {} }],
    ['cohorts that are not an array', { version: 1, cohorts: 'spring', learners: [] }],
    ['a top level that is an array', [1, 2]],
    ['a learner with an invalid handle', { version: 1, learners: [{ ...example().learners[0], github_handle: 'bad--name' }] }],
    ['a learner with no cohort', { version: 1, learners: [{ ...example().learners[0], cohort_id: '' }] }],
    ['an unknown path', { version: 1, learners: [{ ...example().learners[0], path: 'day3' }] }],
    ['an unknown provision state', { version: 1, learners: [{ ...example().learners[0], provision_state: 'done' }] }],
    ['an unknown status', { version: 1, learners: [{ ...example().learners[0], status: 'finished' }] }],
    ['a registered_at not in UTC', { version: 1, learners: [{ ...example().learners[0], registered_at: '2026-01-14T18:22:00+01:00' }] }],
    ['notes that are not text', { version: 1, learners: [{ ...example().learners[0], notes: 3 }] }],
    ['a repo that is a number', { version: 1, learners: [{ ...example().learners[0], learning_room_repo: 5 }] }],
    ['an enrollment repo that is a number', { version: 1, learners: [{ ...example().learners[0], enrollment_repo: 5 }] }],
    ['an enrollment issue number of 0', { version: 1, learners: [{ ...example().learners[0], enrollment_issue_number: 0 }] }],
    ['an enrollment issue number with a fraction', { version: 1, learners: [{ ...example().learners[0], enrollment_issue_number: 1.5 }] }],
    ['an enrollment issue number given as text', { version: 1, learners: [{ ...example().learners[0], enrollment_issue_number: '7' }] }],
    [
      'two learners with the same key in different case',
      { version: 1, learners: [example().learners[0], { ...example().learners[0], github_handle: 'ADA-LOVELACE' }] },
    ],
  ];
  for (const [what, value] of broken) {
    test(`rejects ${what}`, () => assert.throws(() => validateRoster(value), RosterInvalidError));
  }
  test('rejects text that is not JSON, naming the problem', () => {
    assert.throws(() => parseRoster('{"version": 1,'), (error: unknown) => error instanceof RosterInvalidError && /not valid JSON/.test(error.message));
  });
  test('reads a stored handle that still carries @ and matches it by key', () => {
    const roster = validateRoster({ version: 1, learners: [{ ...example().learners[0], github_handle: '@ada-lovelace' }] });
    const { outcome } = upsertLearner(roster, { github_handle: 'Ada-Lovelace', cohort_id: 'spring-2026', path: 'day1-day2' }, NOW);
    assert.equal(outcome, 'unchanged');
  });
});

describe('registration upsert', () => {
  test('a new key appends a pending learner with the contract defaults, in table order', () => {
    const { roster, outcome } = upsertLearner(example(), { github_handle: 'grace', cohort_id: 'spring-2026', path: 'day2-only' }, NOW);
    assert.equal(outcome, 'created');
    const added = roster.learners.at(-1)!;
    // Field for field and in order, the record the provisioning tool's upsertLearner creates.
    assert.equal(
      JSON.stringify(added),
      JSON.stringify({
        github_handle: 'grace',
        cohort_id: 'spring-2026',
        path: 'day2-only',
        learning_room_repo: null,
        provision_state: 'pending',
        status: 'awaiting-ack',
        registered_at: '2026-02-01T10:00:00.000Z',
        last_signal_at: null,
        enrollment_repo: null,
        enrollment_issue_number: null,
        notes: '',
      }),
    );
  });

  test('registration with a taken username keeps the learner\'s provisioning state, notes and unknown fields', () => {
    const before = example();
    const { roster, outcome } = upsertLearner(before, { github_handle: 'ADA-lovelace', cohort_id: 'spring-2026', path: 'day1-day2' }, NOW);
    assert.equal(outcome, 'unchanged');
    assert.deepEqual(roster, example());
  });

  test('registering again with another path changes only the path', () => {
    const { roster, outcome } = upsertLearner(example(), { github_handle: 'ada-lovelace', cohort_id: 'spring-2026', path: 'day2-only' }, NOW);
    assert.equal(outcome, 'updated');
    assert.deepEqual(roster.learners[0], { ...example().learners[0], path: 'day2-only' });
    assert.deepEqual(Object.keys(roster.learners[0]!), Object.keys(example().learners[0]!));
  });

  test('the same person in another cohort is a new learner', () => {
    const twoCohorts: Roster = { ...example(), cohorts: [...example().cohorts!, { cohort_id: 'autumn-2026', label: 'Autumn' }] };
    const { roster, outcome } = upsertLearner(twoCohorts, { github_handle: 'ada-lovelace', cohort_id: 'autumn-2026', path: 'day1-day2' }, NOW);
    assert.equal(outcome, 'created');
    assert.equal(roster.learners.length, 2);
  });

  test('a cohort the roster does not list is refused and changes nothing', () => {
    const before = example();
    const { roster, outcome } = upsertLearner(before, { github_handle: 'grace', cohort_id: 'autumn-2026', path: 'day1-day2' }, NOW);
    assert.equal(outcome, 'unknown-cohort');
    assert.equal(roster, before);
  });

  test('a listed cohort named in another case is the listed cohort: Spring-2026 and spring-2026 are one learner', () => {
    const created = upsertLearner(example(), { github_handle: 'grace', cohort_id: 'SPRING-2026', path: 'day1-day2' }, NOW);
    assert.equal(created.outcome, 'created');
    assert.equal(created.roster.learners.at(-1)!.cohort_id, 'spring-2026');
    const again = upsertLearner(created.roster, { github_handle: 'Ada-Lovelace', cohort_id: 'Spring-2026', path: 'day1-day2' }, NOW);
    assert.equal(again.outcome, 'unchanged');
    assert.equal(again.roster.learners.length, 2);
  });

  test('a record without the enrollment fields keeps not having them when its path changes', () => {
    const { enrollment_repo: _r, enrollment_issue_number: _n, ...older } = provisionedLearner();
    const before: Roster = { ...example(), learners: [older] };
    const { roster } = upsertLearner(before, { github_handle: 'ada-lovelace', cohort_id: 'spring-2026', path: 'day2-only' }, NOW);
    assert.deepEqual(Object.keys(roster.learners[0]!), Object.keys(older));
    assert.equal('enrollment_repo' in roster.learners[0]!, false);
  });

  test('does not modify the roster it is given', () => {
    const before = example();
    upsertLearner(before, { github_handle: 'ada-lovelace', cohort_id: 'spring-2026', path: 'day2-only' }, NOW);
    upsertLearner(before, { github_handle: 'zed', cohort_id: 'spring-2026', path: 'day2-only' }, NOW);
    assert.deepEqual(before, example());
  });
});

describe('typed cohort ids', () => {
  test('are stored lower-case, so Spring and spring are one cohort', () => {
    assert.equal(cohortIdFor(' Spring ', []), 'spring');
    assert.equal(cohortIdFor('spring', []), 'spring');
  });

  test('must start with a letter or digit and hold only letters, digits, -, _ and .', () => {
    for (const bad of ['.hidden', '-x', '_x', '', 'a b', 'a/b', 'x'.repeat(41)]) assert.equal(cohortIdFor(bad, []), null, JSON.stringify(bad));
    for (const good of ['a', '9', 'a.b_c-d', 'x'.repeat(40)]) assert.equal(cohortIdFor(good, []), good, JSON.stringify(good));
  });

  test('when cohorts are listed, the exact listed id wins over one that differs only by case', () => {
    const cohorts = [{ cohort_id: 'Spring' }, { cohort_id: 'spring' }];
    assert.equal(cohortIdFor('spring', cohorts), 'spring');
    assert.equal(cohortIdFor('SPRING', cohorts), 'Spring');
    assert.equal(cohortIdFor('summer', cohorts), null);
  });
});

describe('serialization', () => {
  test('writes JSON.stringify with two spaces and a trailing newline, keys in contract order', () => {
    const roster = { learners: [], extra: { kept: true }, cohorts: [], version: 1 } as unknown as Roster;
    const text = serializeRoster(roster, NOW);
    assert.ok(text.endsWith('}\n'));
    const parsed = JSON.parse(text);
    assert.deepEqual(Object.keys(parsed), ['version', 'generated_at', 'cohorts', 'learners', 'extra']);
    assert.equal(parsed.generated_at, '2026-02-01T10:00:00.000Z');
    assert.equal(text, `${JSON.stringify(parsed, null, 2)}\n`);
  });

  test('sorts learners by lower(handle)@@cohort with localeCompare', () => {
    let roster: Roster = { version: 1, cohorts: [], learners: [] };
    for (const [handle, cohort] of [['zed', 'a'], ['Bob', 'b'], ['bob', 'a'], ['alice', 'z'], ['Émile', 'a'], ['emily', 'a']] as const) {
      roster = upsertLearner(roster, { github_handle: handle === 'Émile' ? 'emile' : handle, cohort_id: cohort, path: 'day1-day2' }, NOW).roster;
    }
    const written = JSON.parse(serializeRoster(roster, NOW)).learners.map((l: { github_handle: string; cohort_id: string }) => `${l.github_handle.toLowerCase()}@@${l.cohort_id}`);
    const expected = [...written].sort((a: string, b: string) => a.localeCompare(b));
    assert.deepEqual(written, expected);
    assert.deepEqual(written, ['alice@@z', 'bob@@a', 'bob@@b', 'emile@@a', 'emily@@a', 'zed@@a']);
  });

  test('a note holding U+2028 or U+2029 is written exactly as JSON.stringify writes it', () => {
    const roster = { ...example(), learners: [provisionedLearner({ notes: 'line\u2028separator\u2029paragraph\nnewline' })] };
    const canonical = canonicalRoster(roster, NOW);
    assert.equal(serializeRoster(roster, NOW), `${JSON.stringify(canonical, null, 2)}\n`);
    assert.equal(serializeRoster(roster, NOW), serializeRoster(roster, NOW));
  });

  test('batch after batch, the kept file text matches JSON.stringify of the same registrations made one at a time', () => {
    // Enough batches that the kept text is split into many pieces and joined again more than once.
    let actual = example();
    let expected = actual;
    for (let b = 0; b < 150; b++) {
      const now = new Date(NOW.getTime() + b * 1000);
      const registrations: Registration[] = Array.from({ length: 6 }, (_, i) => {
        const n = (b * 6 + i) * 7919;
        // Mostly new learners spread through the sort order; every third one someone already registered, some changing path.
        const handle = i % 3 === 2 ? `learner-${(n % (b * 6 + 1)) % 997}` : `learner-${n % 997}-${b}`;
        return { github_handle: i % 2 ? handle.toUpperCase() : handle, cohort_id: 'spring-2026', path: n % 5 === 0 ? 'day2-only' : 'day1-day2' };
      });
      const outcomes = registrations.map((registration) => {
        const step = upsertLearner(expected, registration, now);
        expected = step.roster;
        return step.outcome;
      });
      const step = applyRegistrations(actual, registrations, now);
      assert.deepEqual(step.outcomes, outcomes, `batch ${b}`);
      assert.equal(serializeCanonical(step.roster), `${JSON.stringify(canonicalRoster(expected, now), null, 2)}\n`, `batch ${b}`);
      actual = step.roster;
    }
    assert.ok(actual.learners.length > 500, `only ${actual.learners.length} learners`);
  });

  test('one very large batch spread through a large roster is applied in one piece', () => {
    // Thousands of separate runs of old learners between new ones.
    const registrations = (prefix: string, n: number): Registration[] =>
      Array.from({ length: n }, (_, i) => ({ github_handle: `${prefix}${String(i).padStart(5, '0')}`, cohort_id: 'spring-2026', path: 'day1-day2' }));
    const first = applyRegistrations(example(), registrations('m', 5000), NOW);
    const { roster, outcomes } = applyRegistrations(first.roster, registrations('m', 5000).map((r) => ({ ...r, github_handle: `${r.github_handle}a` })), NOW);
    assert.ok(outcomes.every((o) => o === 'created'));
    assert.equal(roster.learners.length, 10_001);
    const keys = roster.learners.map((l) => `${l.github_handle.toLowerCase()}@@${l.cohort_id}`);
    keys.slice(1).forEach((key, i) => assert.ok(keys[i]!.localeCompare(key) < 0, `${keys[i]} before ${key}`));
    assert.equal(serializeCanonical(roster), `${JSON.stringify(roster, null, 2)}\n`);
  });

  test('a parse and re-serialize of a canonical file gives the same bytes', () => {
    const text = serializeRoster(example(), NOW);
    assert.equal(serializeRoster(parseRoster(text), NOW), text);
  });

  test('keeps cohorts in their order and every unknown field', () => {
    const roster = { ...example(), cohorts: [{ cohort_id: 'zz-first', label: 'Z' }, ...example().cohorts!] };
    const parsed = JSON.parse(serializeRoster(roster, NOW));
    assert.deepEqual(parsed.cohorts.map((c: { cohort_id: string }) => c.cohort_id), ['zz-first', 'spring-2026']);
    assert.equal(parsed.cohorts[1].room, 'A');
    assert.equal(parsed.learners[0].enrollment_issue_number, 7);
  });
});

describe('redacted view', () => {
  test('holds only version and five fields per learner, never notes', () => {
    const redacted = redactRoster(example().learners);
    assert.deepEqual(Object.keys(redacted), ['version', 'learners']);
    assert.deepEqual(redacted.learners[0], {
      github_handle: 'ada-lovelace',
      cohort_id: 'spring-2026',
      path: 'day1-day2',
      provision_state: 'provisioned',
      status: 'active-day1',
    });
    assert.equal(JSON.stringify(redacted).includes('private note'), false);
    assert.equal(JSON.stringify(redacted).includes('enrollment'), false);
  });
});
