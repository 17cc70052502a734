/** The words the pages use for the roster's values: one table, so every page says the same. */

export const PATH_LABELS = { 'day1-day2': 'Both days', 'day2-only': 'Day 2 only' } as const;
export const PROVISION_LABELS = { pending: 'Pending', provisioned: 'Provisioned', failed: 'Failed', healed: 'Healed' } as const;
export const STATUS_LABELS = {
  'awaiting-ack': 'Awaiting acknowledgement',
  'active-day1': 'Active on day 1',
  'day1-complete': 'Day 1 complete',
  'day2-released': 'Day 2 released',
  'needs-info': 'Needs information',
} as const;
