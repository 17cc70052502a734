/**
 * Test helpers: an app built with a test configuration (a temporary roster,
 * low limits, a known token; every control left on), and a small client
 * that keeps cookies and reads CSRF tokens the way a browser's form would.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { csrfFrom } from './http.js';

export const TEST_TOKEN = 'test-facilitator-token-0123456789';

export async function tempDir(prefix = 'glow-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function testConfig(rosterPath: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    COMPANION_SECRET_KEY: 'test-secret-key-for-the-glow-companion-suite',
    COMPANION_ROSTER_PATH: rosterPath,
    COMPANION_FACILITATOR_TOKEN: TEST_TOKEN,
    COMPANION_SECURE_COOKIES: '0',
    COMPANION_RATE_LIMIT_MAX: '1000',
    COMPANION_RATE_LIMIT_WINDOW: '60',
    COMPANION_LOG_LEVEL: 'silent',
    ...env,
  });
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  rosterPath: string;
  dir: string;
  close: () => Promise<void>;
}

export async function startApp(env: Record<string, string> = {}, deps: AppDeps = {}, rosterName = 'roster.json'): Promise<TestApp> {
  const { dir, cleanup } = await tempDir();
  const rosterPath = path.join(dir, rosterName);
  let config: Config;
  let app: FastifyInstance;
  try {
    config = testConfig(rosterPath, env);
    app = await buildApp(config, deps);
  } catch (error) {
    await cleanup();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    config,
    rosterPath,
    dir,
    // Once only, however often it is called (a file-wide afterEach may close an app its test already closed).
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await cleanup();
      })()),
  };
}

/** startApp with the roster file already holding `roster`; closed again if it cannot be written. */
export async function startAppWithRoster(roster: string, env: Record<string, string> = {}, deps: AppDeps = {}): Promise<TestApp> {
  const t = await startApp(env, deps);
  try {
    await writeFile(t.rosterPath, roster);
  } catch (error) {
    await t.close();
    throw error;
  }
  return t;
}

type Headers = Record<string, string>;

/** A browser-like client over app.inject: keeps its cookies, reads form tokens. */
export class Client {
  private cookies = new Map<string, string>();

  constructor(private readonly app: FastifyInstance, readonly ip = '127.0.0.1') {}

  private cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
  }

  private remember(response: LightMyRequestResponse): void {
    for (const cookie of response.cookies as Array<{ name: string; value: string; maxAge?: number; expires?: Date }>) {
      const expired = cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  /** The raw cookie values, to replay an old cookie later. */
  snapshot(): Map<string, string> {
    return new Map(this.cookies);
  }

  restore(cookies: Map<string, string>): void {
    this.cookies = new Map(cookies);
  }

  async get(url: string, headers: Headers = {}): Promise<LightMyRequestResponse> {
    const cookie = this.cookieHeader();
    const response = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { ...headers, ...(cookie ? { cookie } : {}) } });
    this.remember(response);
    return response;
  }

  async post(url: string, form: Record<string, string | string[]>, headers: Headers = {}): Promise<LightMyRequestResponse> {
    const cookie = this.cookieHeader();
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    const response = await this.app.inject({
      method: 'POST',
      url,
      remoteAddress: this.ip,
      payload: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers, ...(cookie ? { cookie } : {}) },
    });
    this.remember(response);
    return response;
  }

  /** GETs a page and returns the CSRF token of its (first) form. */
  async csrf(url = '/register'): Promise<string> {
    const response = await this.get(url);
    return csrfFrom(response.body);
  }

  async register(fields: Record<string, string | string[]>, headers: Headers = {}): Promise<LightMyRequestResponse> {
    const csrf_token = await this.csrf('/register');
    return this.post('/register', { csrf_token, ...fields }, headers);
  }

  async signIn(token = TEST_TOKEN, next?: string): Promise<LightMyRequestResponse> {
    const csrf_token = await this.csrf('/login');
    return this.post('/login', { csrf_token, token, ...(next ? { next } : {}) });
  }

  async signOut(): Promise<LightMyRequestResponse> {
    const page = await this.get('/dashboard');
    return this.post('/logout', { csrf_token: csrfFrom(page.body) });
  }
}
