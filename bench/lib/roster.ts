/**
 * Roster files for the benchmark: valid under the roster contract, written in
 * its canonical form, with a realistic mix of states, and read back to check
 * that every acknowledged registration is in the file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import {
  PROVISION_STATES,
  STATUSES,
  learnerKey,
  parseRoster,
  serializeRoster,
  type Cohort,
  type Learner,
  type Roster,
} from '../../src/roster/contract.js';

export const COHORTS: Cohort[] = [
  { cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z' },
  { cohort_id: 'summer-2026', label: 'Summer 2026 cohort', opens_at: '2026-06-01T15:00:00.000Z' },
  { cohort_id: 'autumn-2026', label: 'Autumn 2026 cohort', opens_at: '2026-09-07T15:00:00.000Z' },
  { cohort_id: 'winter-2026', label: 'Winter 2026 cohort', opens_at: '2026-12-01T15:00:00.000Z' },
];

/**
 * The learners a generated roster holds: `mixed`, provisioning states,
 * statuses and enrollment issues spread evenly (a cohort under way);
 * `registering`, every learner registered and waiting to be provisioned (a
 * cohort still taking registrations), so GitHub mode's progress reader has no
 * Learning Room or enrollment issue to read.
 */
export type RosterStage = 'mixed' | 'registering';

/** Learner `i` of a generated roster: handles `learner-000001` and so on. */
function learner(i: number, stage: RosterStage): Learner {
  const cohort = COHORTS[i % COHORTS.length]!;
  const handle = `learner-${String(i + 1).padStart(6, '0')}`;
  const state = stage === 'registering' ? 'pending' : PROVISION_STATES[i % PROVISION_STATES.length]!;
  const provisioned = state === 'provisioned' || state === 'healed';
  const registered = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  const record: Learner = {
    github_handle: handle,
    cohort_id: cohort.cohort_id,
    path: i % 5 === 0 ? 'day2-only' : 'day1-day2',
    learning_room_repo: provisioned ? `Community-Access/learning-room-${cohort.cohort_id}-${handle}` : null,
    provision_state: state,
    status: stage === 'registering' ? 'awaiting-ack' : STATUSES[i % STATUSES.length]!,
    registered_at: registered,
    last_signal_at: provisioned ? new Date(Date.UTC(2026, 2, 2, 16) + i * 1000).toISOString() : null,
    notes: i % 7 === 0 ? 'Prefers NVDA; check the audio on day 1.' : '',
  };
  // The intake sync adds fields the companion must keep; some learners carry them.
  if (stage === 'mixed' && i % 3 === 0) Object.assign(record, { enrollment_repo: 'Community-Access/glow-enrollment', enrollment_issue_number: 1000 + i });
  return record;
}

export function generateRoster(learners: number, stage: RosterStage = 'mixed'): Roster {
  return {
    version: 1,
    generated_at: null,
    cohorts: COHORTS.map((c) => ({ ...c })),
    learners: Array.from({ length: learners }, (_, i) => learner(i, stage)),
  };
}

/** Writes a generated roster of `learners` learners, canonically serialised. Returns its size in bytes. */
export async function writeRoster(file: string, learners: number): Promise<number> {
  return writeRosterText(file, rosterText(learners));
}

/** A generated roster of `learners` learners, canonically serialised (GitHub mode seeds the roster of record with the same text). */
export function rosterText(learners: number, stage: RosterStage = 'mixed'): string {
  return serializeRoster(generateRoster(learners, stage), new Date());
}

/** Writes a roster's text as the roster file. Returns its size in bytes. */
export async function writeRosterText(file: string, text: string): Promise<number> {
  await writeFile(file, text, { encoding: 'utf8', mode: 0o600 });
  return Buffer.byteLength(text);
}

/** Reads and validates the file under the contract (throws if the companion left it invalid). */
export async function readRoster(file: string): Promise<{ text: string; roster: Roster; keys: Set<string> }> {
  const text = await readFile(file, 'utf8');
  const roster = parseRoster(text);
  return { text, roster, keys: new Set(roster.learners.map((l) => learnerKey(l.github_handle, l.cohort_id))) };
}

export { learnerKey };
