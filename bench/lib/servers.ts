/**
 * The servers under test, each as its own process through the suites' shared
 * support (test/helpers/server.ts): the built companion (`node dist/server.js`,
 * configured only through its environment) and the bare node:http baseline.
 * Both listen on 127.0.0.1 and append what they write to the run's log file.
 */
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../test/helpers/server.js';

export type { RunningServer };

/** The built server; BENCH_SERVER_JS may name another build of it (to compare two builds on the same machine). */
const SERVER_JS = process.env.BENCH_SERVER_JS?.trim() || fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const BASELINE_JS = fileURLToPath(new URL('../baseline-server.mjs', import.meta.url));

export const FACILITATOR_TOKEN = 'bench-facilitator-token-0123456789abcdef';
const SECRET_KEY = 'bench-secret-key-for-the-glow-companion-harness-0123456789';
/** Rate limits raised for the run, by configuration only. */
export const RATE_LIMIT_MAX = '100000000';
/** More Node.js flags for the companion (BENCH_NODE_ARGS, space-separated), such as a heap setting to measure. */
const EXTRA_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');

/** A graceful stop (the companion finishes in-flight writes, and writes its CPU profile when asked to), forced after 20 s. */
const GRACE_MS = 20_000;

export interface CompanionOptions {
  rosterPath: string;
  logFile: string;
  /** When set, the server runs under `--cpu-prof` and writes its profile to this folder on exit. */
  cpuProfileDir?: string | null;
  /** More settings (GitHub mode's); they may not replace the harness's own. */
  env?: Record<string, string>;
  /** The path that must answer 200 before the run starts (default /healthz; /readyz waits for GitHub mode's first sync). */
  readyPath?: string;
}

export function startCompanion(options: CompanionOptions): Promise<RunningServer> {
  return startServer({
    name: 'companion',
    entry: { script: SERVER_JS },
    nodeArgs: [...EXTRA_NODE_ARGS, ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [])],
    env: {
      ...options.env,
      COMPANION_ROSTER_PATH: options.rosterPath,
      COMPANION_FACILITATOR_TOKEN: FACILITATOR_TOKEN,
      COMPANION_SECURE_COOKIES: '0',
      COMPANION_SECRET_KEY: SECRET_KEY,
      COMPANION_LOG_LEVEL: 'warn',
      COMPANION_RATE_LIMIT_MAX: RATE_LIMIT_MAX,
    },
    logFile: options.logFile,
    graceMs: GRACE_MS,
    ...(options.readyPath ? { readyPath: options.readyPath } : {}),
  });
}

export function startBaseline(logFile: string): Promise<RunningServer> {
  return startServer({ name: 'baseline', entry: { script: BASELINE_JS }, readyPath: '/', logFile, graceMs: GRACE_MS });
}
