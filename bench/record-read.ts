/**
 * Whether the companion's GitHub client can read a roster of record of a given
 * size, and how long one full read takes: the progress benchmark's cohort
 * (bench/lib/progress-cohort.ts) at each size as the roster of record in the
 * simulator (in this process, no added latency), read once with the client
 * the sync uses (`createGitHubApi(...).readFile`, no ETag). Over 1 MiB the
 * contents answer carries no content and the client reads the blob, whose
 * JSON answer is about 4/3 of the file.
 *
 *   node --import tsx bench/record-read.ts
 *   BENCH_SIZES=15000,18000,20000,50000 node --import tsx bench/record-read.ts
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { connectGitHub, createGitHubApi } from '../src/github/client.js';
import { silentLog } from '../src/roster/errors.js';
import { PROGRESS_ADMIN } from './lib/progress-cohort.js';
import { progressEnv, startProgressGitHub } from './lib/progress.js';

const sizes = (process.env.BENCH_SIZES?.trim() || '1000,10000,15000,18000,20000,50000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 200_000)) throw new Error('BENCH_SIZES must list whole numbers from 1 to 200000');

for (const learners of sizes) {
  const github = await startProgressGitHub({ learners, withProgress: 0, latencyMs: 0, rateLimit: 100_000_000 });
  try {
    const config = loadConfig({ COMPANION_SECURE_COOKIES: '0', ...progressEnv(github, 60) });
    const api = createGitHubApi(connectGitHub(config.github!, silentLog));
    const bytes = Buffer.byteLength(github.cohort.rosterText);
    const started = performance.now();
    let outcome: string;
    try {
      const read = await api.readFile({ owner: PROGRESS_ADMIN.owner, repo: PROGRESS_ADMIN.name }, 'roster.json', 'main', null);
      outcome = read.kind === 'file' && read.file.text === github.cohort.rosterText ? 'read' : `not read whole (${read.kind})`;
    } catch (error) {
      outcome = `failed: ${(error as Error).message}`;
    }
    const ms = performance.now() - started;
    process.stdout.write(`${learners} learners, roster of record ${(bytes / 1024 / 1024).toFixed(2)} MiB: ${outcome} in ${ms.toFixed(0)} ms\n`);
  } finally {
    await github.stop();
  }
}
