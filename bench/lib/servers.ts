/**
 * Starting and stopping the servers under test, each as its own process:
 * the built companion (`node dist/server.js`, configured only through its
 * environment) and the bare node:http baseline. Both listen on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { HOST, request } from './http.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built server; BENCH_SERVER_JS may name another build of it (to compare two builds on the same machine). */
const SERVER_JS = process.env.BENCH_SERVER_JS?.trim() || fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const BASELINE_JS = fileURLToPath(new URL('../baseline-server.mjs', import.meta.url));

export const FACILITATOR_TOKEN = 'bench-facilitator-token-0123456789abcdef';
const SECRET_KEY = 'bench-secret-key-for-the-glow-companion-harness-0123456789';
/** Rate limits raised for the run, by configuration only. */
export const RATE_LIMIT_MAX = '100000000';

export interface RunningServer {
  name: string;
  port: number;
  pid: number;
  stop: () => Promise<number | null>;
}

/** A free loopback port (the kernel's choice, released at once for the child to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitReady(name: string, child: ChildProcess, port: number, path: string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown = null;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const response = await request(port, 'GET', path, { timeoutMs: 1_000 });
      if (response.status === 200) return;
      lastError = new Error(`status ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`${name} was not ready within ${deadlineMs} ms: ${(lastError as Error)?.message ?? lastError}`);
}

async function startProcess(name: string, args: string[], env: Record<string, string>, port: number, readyPath: string, logFile: string): Promise<RunningServer> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const done = exited(child).then((code) => {
    log.end();
    return code;
  });
  try {
    await waitReady(name, child, port, readyPath, 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    await done;
    throw error;
  }
  return {
    name,
    port,
    pid: child.pid!,
    // A graceful stop (the companion finishes in-flight writes, and writes its CPU profile when asked to),
    // forced after 20 s.
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await done;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface CompanionOptions {
  rosterPath: string;
  logFile: string;
  /** When set, the server runs under `--cpu-prof` and writes its profile to this folder on exit. */
  cpuProfileDir?: string | null;
}

export async function startCompanion(options: CompanionOptions): Promise<RunningServer> {
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    COMPANION_HOST: HOST,
    COMPANION_ROSTER_PATH: options.rosterPath,
    COMPANION_FACILITATOR_TOKEN: FACILITATOR_TOKEN,
    COMPANION_SECURE_COOKIES: '0',
    COMPANION_SECRET_KEY: SECRET_KEY,
    COMPANION_LOG_LEVEL: 'warn',
    COMPANION_RATE_LIMIT_MAX: RATE_LIMIT_MAX,
  };
  const args = [...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []), SERVER_JS];
  return startProcess('companion', args, env, port, '/healthz', options.logFile);
}

export async function startBaseline(logFile: string): Promise<RunningServer> {
  const port = await freePort();
  return startProcess('baseline', [BASELINE_JS], { PATH: process.env.PATH ?? '', PORT: String(port) }, port, '/', logFile);
}
