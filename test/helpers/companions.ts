/**
 * Companion processes in GitHub mode, for the process-level tests: each a
 * real `node --import tsx src/server.ts` with its own working copy, against
 * one GitHub simulator; registrations over real HTTP form posts; a
 * forwarding proxy that can hold or drop a request on its way to the
 * simulator; and small waiting helpers. Everything started here can be
 * closed from `t.after`, whatever the test did.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TEST_TOKEN, tempDir } from './app.js';
import { HttpClient } from './http.js';
import { startServer, type RunningServer } from './server.js';
import { githubEnv, type SimulatedAdmin } from './github.js';


/**
 * Starts `node --import tsx src/server.ts` through the shared support, with a
 * longer deadline than its default: three companions starting at once on a
 * busy two-core machine compile slowly.
 */
export function spawnServer(env: Record<string, string>, deadlineMs = 60_000): Promise<RunningServer> {
  return startServer({ entry: 'src', env: { COMPANION_LOG_LEVEL: 'info', ...env }, readyWithinMs: deadlineMs, name: 'a companion' });
}

/** The environment every companion process in these tests shares. */
export function baseEnv(rosterPath: string): Record<string, string> {
  return {
    COMPANION_ROSTER_PATH: rosterPath,
    COMPANION_SECRET_KEY: 'test-secret-key-for-the-glow-companion-suite',
    COMPANION_FACILITATOR_TOKEN: TEST_TOKEN,
    COMPANION_SECURE_COOKIES: '0',
    COMPANION_RATE_LIMIT_MAX: '100000',
    COMPANION_RATE_LIMIT_WINDOW: '60',
    COMPANION_SYNC_INTERVAL: '2',
  };
}

/** GitHub mode against the simulator with its token; `extra` overrides (the API URL of a proxy, App credentials...). */
export function companionEnv(admin: SimulatedAdmin, rosterPath: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...baseEnv(rosterPath), ...githubEnv(admin), ...extra };
}

/**
 * One companion: a working copy in its own temporary folder, and the server
 * process, which may be killed and started again on the same working copy.
 * The output of every run is kept.
 */
export class Companion {
  private server: RunningServer | null = null;
  private readonly runs: RunningServer[] = [];

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly rosterPath: string,
    private env: Record<string, string>,
    private readonly cleanup: () => Promise<void>,
  ) {}

  /** Makes the working folder; `env(rosterPath)` gives the process environment. */
  static async create(name: string, env: (rosterPath: string) => Record<string, string>): Promise<Companion> {
    const { dir, cleanup } = await tempDir(`glow-proc-${name}-`);
    const rosterPath = path.join(dir, 'roster.json');
    return new Companion(name, dir, rosterPath, env(rosterPath), cleanup);
  }

  get base(): string {
    if (!this.server) throw new Error(`${this.name} is not running`);
    return this.server.base;
  }

  get running(): boolean {
    return this.server !== null && this.server.child.exitCode === null && this.server.child.signalCode === null;
  }

  /** Changes the environment of the next start. */
  setEnv(change: Record<string, string>): void {
    this.env = { ...this.env, ...change };
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.server = await spawnServer(this.env);
    this.runs.push(this.server);
  }

  /** SIGKILL, then waits for the process to be gone. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await server.exited;
  }

  /**
   * SIGTERM (a graceful stop); resolves with how it exited and how long it
   * took. After `graceMs` it is killed, and `timedOut` says so.
   */
  async terminate(graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; timedOut: boolean }> {
    const server = this.server;
    if (!server) throw new Error(`${this.name} is not running`);
    const started = Date.now();
    server.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const result = await Promise.race([server.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.kill();
      const exit = await server.exited;
      return { ...exit, ms: Date.now() - started, timedOut: true };
    }
    return { ...result, ms: Date.now() - started, timedOut: false };
  }

  /** Everything every run of the process wrote on stdout and stderr. */
  output(): string {
    return this.runs.map((r) => r.output()).join('\n');
  }

  /** Registrations recorded here and not yet carried by a commit (the outbox's lines). */
  async pending(): Promise<number> {
    return outboxLines(this.rosterPath);
  }

  async readyStatus(): Promise<number> {
    const response = await fetch(`${this.base}/readyz`);
    await response.arrayBuffer();
    return response.status;
  }

  /** Kills the process (if any) and removes the working folder. */
  async close(): Promise<void> {
    await this.kill();
    await this.cleanup();
  }
}

/** How many entries wait in a working copy's outbox. */
export async function outboxLines(rosterPath: string): Promise<number> {
  try {
    return (await readFile(`${rosterPath}.outbox.jsonl`, 'utf8')).split('\n').filter((line) => line.trim() !== '').length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export interface Registration {
  github_handle: string;
  cohort_id: string;
  path: string;
}

/** A person registering through the form: GET /register for the token and cookie, then the POST. Resolves with the POST's status. */
export async function registerOverHttp(base: string, registration: Registration): Promise<number> {
  const client = new HttpClient(base);
  const csrf_token = await client.csrf('/register');
  const response = await client.post('/register', { csrf_token, ...registration });
  await response.arrayBuffer();
  return response.status;
}

/** Runs `fn` over `items`, at most `limit` at a time; resolves with the results in order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, looking every `everyMs`; throws naming `what` after `ms`, with `detail()` if given. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms: number, everyMs = 50, detail?: () => string | Promise<string>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}${detail ? `\n${await detail()}` : ''}`);
    await sleep(everyMs);
  }
}

/** What the proxy does with a request: pass it on now, or drop the connection without an answer. */
export type ProxyDecision = 'forward' | 'drop';

export interface ForwardingProxy {
  url: string;
  /** Set the hook that decides for each request (it may wait before deciding). */
  intercept(hook: ((method: string, path: string) => ProxyDecision | Promise<ProxyDecision>) | null): void;
  /** Resolves once every forwarded request has had its answer from the simulator. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of the simulator. A request is read
 * whole, shown to the hook, then forwarded (even if the client has died
 * meanwhile: the simulator still gets it, as GitHub would) or dropped.
 */
export async function startProxy(target: string): Promise<ForwardingProxy> {
  let hook: ((method: string, path: string) => ProxyDecision | Promise<ProxyDecision>) | null = null;
  const inFlight = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      const work = (async () => {
        const decision = hook ? await hook(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!) : 'forward';
        if (decision === 'drop') {
          req.socket.destroy();
          return;
        }
        await new Promise<void>((resolve) => {
          const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host }, agent: false }, (answer) => {
            if (!res.destroyed) res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.on('data', (chunk: Buffer) => {
              if (!res.destroyed) res.write(chunk);
            });
            answer.on('end', () => {
              if (!res.destroyed) res.end();
              resolve();
            });
            answer.on('error', () => resolve());
          });
          upstream.on('error', () => {
            res.destroy();
            resolve();
          });
          upstream.end(Buffer.concat(chunks));
        });
      })();
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    intercept: (next) => {
      hook = next;
    },
    settled: async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        hook = null;
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
