/** Shared roster fixtures: a provisioned learner with data the companion must never touch. */
import type { Learner } from '../../src/roster/contract.js';

/** Ada, provisioned and active, with a facilitator note and a field the contract does not define. */
export function provisionedLearner(overrides: Partial<Learner> = {}): Learner {
  return {
    github_handle: 'ada-lovelace',
    cohort_id: 'spring-2026',
    path: 'day1-day2',
    learning_room_repo: 'Community-Access/learning-room-spring-2026-ada-lovelace',
    provision_state: 'provisioned',
    status: 'active-day1',
    registered_at: '2026-01-14T18:22:00.000Z',
    last_signal_at: '2026-03-02T16:05:00.000Z',
    notes: 'private facilitator note',
    enrollment_issue_number: 7,
    ...overrides,
  };
}
