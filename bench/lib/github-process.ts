/**
 * The GitHub simulator as a process of its own, for the throughput
 * comparison of local and GitHub mode.
 *
 * GitHub does its work on its own machines. Run inside the harness, the
 * simulator's handling of each commit of a roster of several megabytes (tens
 * to hundreds of milliseconds of CPU: parsing the body, decoding it, hashing
 * the blob) stalls the load generator's event loop and takes its CPU, so
 * GitHub mode would be charged for work that is not the companion's. Here it
 * runs in its own process at the lowest CPU priority: it still answers, a
 * little later when the machine is saturated, and takes CPU only when the
 * companion and the load generator leave some.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ADMIN, ADMIN_REPO, ROSTER_FILE } from './github.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(ROOT, 'dev', 'github-simulator', 'main.ts');

export interface GitHubProcess {
  url: string;
  token: string;
  pid: number;
  /** Commits on the admin repository's default branch (the seed's included). */
  commits(): Promise<number>;
  /** Milliseconds added to every API answer from now on. */
  setLatency(ms: number): Promise<void>;
  stop(): Promise<void>;
}

async function control(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}/_simulator/${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw new Error(`simulator ${method} ${route}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited (${code}) before it listened`)));
  });
}

/** The simulator in its own lowest-priority process, seeded with the admin repository and a token that may write it. */
export async function startGitHubProcess(rosterText: string, latencyMs: number): Promise<GitHubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--latency', String(latencyMs)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const { url } = JSON.parse(await firstLine(child)) as { url: string };
    os.setPriority(child.pid!, 19);
    const seeded = (await control(url, 'POST', 'seed', {
      tokens: [{ login: 'glow-companion-bench', permissions: { contents: 'write', metadata: 'read' }, repositories: [ADMIN_REPO] }],
      repos: [{ ...ADMIN, private: true, defaultBranch: 'main', files: { [ROSTER_FILE]: { text: rosterText } } }],
    })) as { tokens: Array<{ token: string }> };
    return {
      url,
      token: seeded.tokens[0]!.token,
      pid: child.pid!,
      commits: async () => ((await control(url, 'GET', `commits?repo=${encodeURIComponent(ADMIN_REPO)}`)) as unknown[]).length,
      setLatency: async (ms) => void (await control(url, 'POST', 'config', { latencyMs: ms })),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
