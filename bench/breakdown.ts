/**
 * Where one group-committed registration write spends its time, step by step,
 * at each roster size: the steps the roster store runs for a batch (see
 * `applyBatch` and `writeAtomically` in src/roster/store.ts), timed in
 * isolation (no server, no lock), median of several rounds.
 *
 * As in the running service, the roster is parsed once, and each round applies
 * a batch of new registrations to the roster the round before produced, so the
 * sorted learners, their key index and their file bytes are carried from batch
 * to batch (the first, untimed round builds them from the parsed file). The
 * roster grows by one batch per round. The lock and the sweep for stale
 * temporary files are not timed.
 *
 *   node --import tsx bench/breakdown.ts
 *   BENCH_SIZES=1000,10000 BENCH_BATCH=50 BENCH_ROUNDS=15 node --import tsx bench/breakdown.ts
 */
import { open, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseRoster, type Roster } from '../src/roster/contract.js';
import { applyRegistrations, serializeCanonicalChunks } from '../src/roster/incremental.js';
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
  const header = ['learners', 'stat', `apply x${batch}`, 'chunks', 'writev+fsync', 'rename+folder fsync', 'total'];
  const lines: string[][] = [];
  for (const learners of sizes) {
    const file = path.join(dir, `roster-${learners}.json`);
    await writeRoster(file, learners);
    // The store's cached roster: parsed once, then each batch's result is the next batch's starting point.
    let cached: Roster = parseRoster(await readFile(file, 'utf8'));
    const steps: Record<string, number[]> = Object.fromEntries(header.slice(1).map((h) => [h, []]));
    for (let round = 0; round <= rounds; round++) {
      const start = performance.now();
      const sample = (name: string) => (round === 0 ? [] : steps[name]!);
      await time(sample('stat'), () => stat(file, { bigint: true }));
      const now = new Date();
      const registrations = Array.from({ length: batch }, (_, i) => ({ github_handle: `breakdown-${round}-${i}`, cohort_id: COHORTS[i % COHORTS.length]!.cohort_id, path: 'day1-day2' as const }));
      const { roster } = await time(sample(`apply x${batch}`), () => applyRegistrations(cached, registrations, now));
      cached = roster;
      const chunks = await time(sample('chunks'), () => serializeCanonicalChunks(roster));
      const temporary = `${file}.tmp`;
      await time(sample('writev+fsync'), async () => {
        const handle = await open(temporary, 'wx', 0o600);
        try {
          const { bytesWritten } = await handle.writev(chunks);
          const expected = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`);
          await handle.chmod(0o600);
          await handle.sync();
        } finally {
          await handle.close();
        }
      });
      await time(sample('rename+folder fsync'), async () => {
        // Rename over a copy, so every round starts from the same roster file.
        await rename(temporary, `${file}.out`);
        const folder = await open(dir, 'r');
        await folder.sync().finally(() => folder.close());
        await stat(`${file}.out`, { bigint: true });
      });
      if (round > 0) steps.total!.push(performance.now() - start);
    }
    lines.push([String(learners), ...header.slice(1).map((h) => median(steps[h]!).toFixed(2))]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`One batch of ${batch} new registrations on the cached roster, median ms of ${rounds} rounds (Node ${process.version}):\n`);
  process.stdout.write(`${[row(header), `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`, ...lines.map(row)].join('\n')}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
