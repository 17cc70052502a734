/**
 * Running the companion (or another node script) in a child process on a
 * free loopback port, shared by the unit, browser and benchmark suites: the
 * source through tsx or the build, configured only through the environment
 * given; readiness awaited over HTTP; everything it writes captured (and
 * appended to a log file when asked); stopped with SIGTERM, then SIGKILL
 * after a grace period, and its exit always awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HOST = '127.0.0.1';

/** How much of a process's output is kept in memory (the end of it). */
const OUTPUT_LIMIT = 1 << 20;

/** A free loopback port (the kernel's choice, released at once for the child to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * What node runs: the TypeScript source (`--import tsx src/server.ts`), the
 * build (`dist/server.js`), or another script.
 */
export type Entry = 'src' | 'dist' | { script: string };

function entryArgs(entry: Entry): string[] {
  if (entry === 'src') return ['--import', 'tsx', 'src/server.ts'];
  const script = entry === 'dist' ? path.join(ROOT, 'dist', 'server.js') : path.resolve(ROOT, entry.script);
  if (!existsSync(script)) throw new Error(`${path.relative(ROOT, script)} is missing${entry === 'dist' ? ': run `npm run build` first' : ''}`);
  return [script];
}

export interface ProcessOptions {
  entry: Entry;
  /** Node's own options, before the script (for example `--cpu-prof`). */
  nodeArgs?: string[];
  /** The child's environment besides PATH: nothing else is inherited. */
  env?: Record<string, string>;
  /** Also append everything the process writes to this file. */
  logFile?: string;
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 5 s). */
  graceMs?: number;
  /** The process's name in error messages. */
  name?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildServer {
  child: ChildProcess;
  pid: number;
  /** Everything it has written to stdout and stderr so far (the last MiB). */
  output: () => string;
  /** Settles once it has exited and its output is all read (and written to the log file). */
  exited: Promise<Exit>;
  running: () => boolean;
  /** SIGTERM, SIGKILL once `graceMs` has passed; resolves when it has exited. Safe to call again. */
  stop: (graceMs?: number) => Promise<Exit>;
}

/** Starts node on `entry` in the project folder; the PID is the script's. */
export function launch(options: ProcessOptions): ChildServer {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entryArgs(options.entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.length > OUTPUT_LIMIT) text = text.slice(-OUTPUT_LIMIT);
      log?.write(chunk);
    });
  }
  let done = false;
  const exited = new Promise<Exit>((resolve) => {
    // 'close' rather than 'exit': by then every byte it wrote has been read.
    child.once('close', (code, signal) => {
      done = true;
      if (log) log.end(() => resolve({ code, signal }));
      else resolve({ code, signal });
    });
  });
  const stop = async (graceMs = options.graceMs ?? 5_000): Promise<Exit> => {
    if (!done && child.exitCode === null && child.signalCode === null) {
      child.kill(graceMs <= 0 ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(graceMs, 0));
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };
  return { child, pid: child.pid!, output: () => text, exited, running: () => !done, stop };
}

/** Runs a process that is expected to end by itself (SIGKILL after `timeoutMs`); resolves with its exit code and output. */
export async function runUntilExit(options: ProcessOptions & { timeoutMs?: number }): Promise<{ code: number | null; output: string }> {
  const proc = launch(options);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output() };
}

export interface ServerOptions extends ProcessOptions {
  /** The path that answers 200 once it is ready (default /healthz). */
  readyPath?: string;
  /** How long it may take to become ready (default 20 s). */
  readyWithinMs?: number;
}

export interface RunningServer extends ChildServer {
  port: number;
  base: string;
}

/**
 * Starts a server on a free loopback port (given to it as PORT, with
 * COMPANION_HOST=127.0.0.1) and waits until `readyPath` answers 200. A server
 * that exits or is not ready in time is killed, awaited, and reported with
 * the end of its output.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const name = options.name ?? 'the server';
  const port = await freePort();
  const proc = launch({ ...options, env: { COMPANION_HOST: HOST, ...options.env, PORT: String(port) } });
  const base = `http://${HOST}:${port}`;
  const readyUrl = `${base}${options.readyPath ?? '/healthz'}`;
  const within = options.readyWithinMs ?? 20_000;
  const deadline = Date.now() + within;
  let last = 'no answer';
  for (;;) {
    if (!proc.running() || proc.child.exitCode !== null) {
      const { code, signal } = await proc.exited;
      throw new Error(`${name} exited before it was ready (code ${code}, signal ${signal}):\n${proc.output().slice(-4000)}`);
    }
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message; // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop(0);
      throw new Error(`${name} was not ready within ${within} ms (${last}):\n${proc.output().slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ...proc, port, base };
}
