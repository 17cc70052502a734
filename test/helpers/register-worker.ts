/**
 * A separate process registering learners into one roster file, for the
 * cross-process tests: `node --import tsx register-worker.ts <roster> <prefix> <count> [cohort]`.
 * With count 0 it keeps registering until killed. Prints one line per
 * registration it was told is on disk.
 */
import { RosterStore } from '../../src/roster/store.js';

const [rosterPath, prefix, countText, cohort = 'spring-2026'] = process.argv.slice(2);
const count = Number(countText);
const store = new RosterStore({ path: rosterPath!, lockStaleMs: 2000 });

async function one(i: number): Promise<void> {
  const handle = `${prefix}-${i}`;
  await store.register({ github_handle: handle, cohort_id: cohort, path: 'day1-day2' });
  process.stdout.write(`saved ${handle}\n`);
}

if (count > 0) {
  // All at once: the store batches them and serializes with the other processes.
  await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
} else {
  for (let i = 0; i < 100_000; i++) await one(i);
}
