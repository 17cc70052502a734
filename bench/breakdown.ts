/**
 * Where one group-committed registration write spends its time, step by step,
 * at each roster size: the same contract functions the roster store runs for
 * a batch, timed in isolation (no server, no lock), median of several rounds.
 *
 *   node --import tsx bench/breakdown.ts
 *   BENCH_SIZES=1000,10000 BENCH_BATCH=50 BENCH_ROUNDS=15 node --import tsx bench/breakdown.ts
 */
import { open, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { canonicalRoster, serializeCanonical, upsertLearner, validateRoster, type Roster } from '../src/roster/contract.js';
import { COHORTS, writeRoster } from './lib/roster.js';

function setting(name: string, fallback: number, max: number): number {
  const raw = process.env[name]?.trim();
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be a whole number from 1 to ${max}`);
  return value;
}

const sizes = (process.env.BENCH_SIZES?.trim() || '100,1000,10000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 0 || n > 200_000)) throw new Error('BENCH_SIZES must list whole numbers from 0 to 200000');
const batch = setting('BENCH_BATCH', 50, 10_000);
const rounds = setting('BENCH_ROUNDS', 15, 1_000);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function time<T>(samples: number[], fn: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  const value = await fn();
  samples.push(performance.now() - start);
  return value;
}

const dir = await mkdtemp(path.join(process.env.BENCH_DIR?.trim() || os.tmpdir(), 'glow-breakdown-'));
try {
  const header = ['learners', 'read', 'JSON.parse', 'validate', `upsert x${batch}`, 'sort', 'stringify', 'write+fsync+rename', 'total'];
  const lines: string[][] = [];
  for (const learners of sizes) {
    const file = path.join(dir, `roster-${learners}.json`);
    await writeRoster(file, learners);
    const steps: Record<string, number[]> = Object.fromEntries(header.slice(1).map((h) => [h, []]));
    for (let round = 0; round < rounds; round++) {
      const start = performance.now();
      const text = await time(steps.read!, () => readFile(file, 'utf8'));
      const value = await time(steps['JSON.parse']!, () => JSON.parse(text) as unknown);
      let roster: Roster = await time(steps.validate!, () => validateRoster(value));
      const now = new Date();
      await time(steps[`upsert x${batch}`]!, () => {
        for (let i = 0; i < batch; i++) {
          roster = upsertLearner(roster, { github_handle: `breakdown-${round}-${i}`, cohort_id: COHORTS[i % COHORTS.length]!.cohort_id, path: 'day1-day2' }, now).roster;
        }
      });
      const canonical = await time(steps.sort!, () => canonicalRoster(roster, now));
      const out = await time(steps.stringify!, () => serializeCanonical(canonical));
      await time(steps['write+fsync+rename']!, async () => {
        const temporary = `${file}.tmp`;
        const handle = await open(temporary, 'wx', 0o600);
        try {
          await handle.writeFile(out, 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
        // Rename over a copy, so every round starts from the same roster.
        await rename(temporary, `${file}.out`);
        const folder = await open(dir, 'r');
        await folder.sync().finally(() => folder.close());
      });
      steps.total!.push(performance.now() - start);
    }
    lines.push([String(learners), ...header.slice(1).map((h) => median(steps[h]!).toFixed(2))]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`One batch of ${batch} new registrations, median ms of ${rounds} rounds (Node ${process.version}):\n`);
  process.stdout.write(`${[row(header), `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`, ...lines.map(row)].join('\n')}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
