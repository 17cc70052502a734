/**
 * Configuration: the environment, read once into one typed, validated,
 * frozen object. This is the only module that reads environment variables,
 * and it reads them from the object it is given.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** The session encryption key material (from COMPANION_SECRET_KEY or random). */
  readonly secretKey: string;
  /** True when COMPANION_SECRET_KEY was not set: sessions end with the process. */
  readonly secretKeyIsRandom: boolean;
  readonly rosterPath: string;
  /** A roster file larger than this many bytes is refused, not read. */
  readonly rosterMaxBytes: number;
  readonly facilitatorToken: string;
  readonly secureCookies: boolean;
  readonly rateLimitMax: number;
  readonly rateLimitWindowSeconds: number;
  /** Facilitator operations' POSTs allowed per address per window (each form separately). */
  readonly operationsRateLimitMax: number;
  readonly port: number;
  readonly host: string;
  /** Proxy addresses whose X-Forwarded-For is believed; empty: none. */
  readonly trustProxy: readonly string[];
  readonly helpUrl: string | null;
  readonly logLevel: LogLevel;
  readonly sessionIdleMinutes: number;
  readonly sessionMaxHours: number;
  /** GitHub mode: where the roster of record is, and how to reach it; null in local mode. */
  readonly github: GitHubConfig | null;
  /** What an operator should know about this configuration; the server logs each at start. */
  readonly warnings: readonly string[];
}

/** Credentials for the GitHub API: a token, or a GitHub App installation. */
export type GitHubAuth =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'app'; readonly appId: string; readonly privateKey: string; readonly installationId: number };

export interface GitHubConfig {
  /** The admin repository holding the roster of record. */
  readonly owner: string;
  readonly repo: string;
  /** Path of the roster inside it. */
  readonly rosterFile: string;
  /** Branch to read and commit; null: the repository's default branch. */
  readonly branch: string | null;
  readonly auth: GitHubAuth;
  /** REST API base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** Seconds between pulls of the roster of record. */
  readonly syncIntervalSeconds: number;
  /** The repository whose workflow provisions Learning Rooms; null: never started by the companion. */
  readonly provisioning: { readonly owner: string; readonly repo: string; readonly workflow: string; readonly ref: string } | null;
  /** Seconds between background refreshes of derived progress. */
  readonly progressIntervalSeconds: number;
  /** A current challenge that has not moved for this long, while the cohort runs, is stuck. */
  readonly stuckMinutes: number;
}

/** Shortest facilitator token accepted with secure cookies on (a warning otherwise), counted after trimming. */
export const MIN_TOKEN_LENGTH = 24;
/** Shortest secret key accepted with secure cookies on (a warning otherwise), counted after trimming. */
export const MIN_SECRET_KEY_LENGTH = 32;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly variable: string, problem: string) {
    super(`${variable} ${problem}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function positiveInteger(env: Env, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from 1 to ${max} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (raw !== '0' && raw !== '1') throw new ConfigError(name, `must be 0 or 1 (got ${JSON.stringify(raw)})`);
  return raw === '1';
}

const PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrRange(entry: string): boolean {
  if (PROXY_PRESETS.has(entry)) return true;
  const [address, bits, ...extra] = entry.split('/');
  if (extra.length > 0 || address === undefined) return false;
  const family = net.isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function trustProxy(env: Env): string[] {
  const name = 'COMPANION_TRUST_PROXY';
  const raw = value(env, name);
  if (raw === undefined) return [];
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    if (!isAddressOrRange(entry)) {
      throw new ConfigError(name, `must be a comma-separated list of IP addresses, CIDR ranges, or loopback/linklocal/uniquelocal (got ${JSON.stringify(entry)})`);
    }
  }
  return entries;
}

function helpUrl(env: Env): string | null {
  const name = 'COMPANION_HELP_URL';
  const raw = value(env, name);
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute https URL (got ${JSON.stringify(raw)})`);
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') {
    throw new ConfigError(name, `must be an https URL without credentials (got ${JSON.stringify(raw)})`);
  }
  return url.href;
}

function host(env: Env): string {
  const name = 'COMPANION_HOST';
  const raw = value(env, name) ?? '127.0.0.1';
  if (net.isIP(raw) === 0 && raw !== 'localhost') {
    throw new ConfigError(name, `must be an IP address to listen on, such as 127.0.0.1 or 0.0.0.0 (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

function logLevel(env: Env): LogLevel {
  const name = 'COMPANION_LOG_LEVEL';
  const raw = value(env, name) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(raw)})`);
  }
  return raw as LogLevel;
}

// GitHub owner and repository names: `owner/name`.
const REPOSITORY_RE = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/;

function repository(env: Env, name: string): { owner: string; repo: string } | null {
  const raw = value(env, name);
  if (raw === undefined) return null;
  const match = REPOSITORY_RE.exec(raw);
  if (!match || match[2] === '.' || match[2] === '..') throw new ConfigError(name, `must be a repository as owner/name (got ${JSON.stringify(raw)})`);
  return { owner: match[1]!, repo: match[2]! };
}

/** A path inside a repository: relative, no empty, `.` or `..` segments. */
function repositoryPath(env: Env, name: string, fallback: string): string {
  const raw = value(env, name) ?? fallback;
  const segments = raw.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..') || /[\\\u0000-\u001f]/.test(raw)) {
    throw new ConfigError(name, `must be a relative path inside the repository, such as roster.json (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

/** A branch or other git ref name, as git allows them (a safe subset). */
function refName(env: Env, name: string, fallback: string | null): string | null {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(raw) || raw.includes('..') || raw.startsWith('/') || raw.endsWith('/') || raw.endsWith('.lock') || raw.startsWith('-')) {
    throw new ConfigError(name, `must be a branch name (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

/** Whether a host name is this machine (the only place plain HTTP is allowed, for tests and the demo). */
function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (net.isIPv4(bare) && bare.startsWith('127.'));
}

function apiUrl(env: Env): string {
  const name = 'COMPANION_GITHUB_API_URL';
  const raw = value(env, name) ?? 'https://api.github.com';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute URL (got ${JSON.stringify(raw)})`);
  }
  const plainLoopback = url.protocol === 'http:' && isLoopbackHost(url.hostname);
  if ((url.protocol !== 'https:' && !plainLoopback) || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(name, `must be an https URL without credentials or query (plain http only on a loopback address) (got ${JSON.stringify(raw)})`);
  }
  return url.href.replace(/\/+$/, '');
}

function githubAuth(env: Env, readFile: (file: string) => string): GitHubAuth {
  const token = value(env, 'COMPANION_GITHUB_TOKEN');
  const appId = value(env, 'COMPANION_GITHUB_APP_ID');
  const keyFile = value(env, 'COMPANION_GITHUB_APP_PRIVATE_KEY_FILE');
  const installation = value(env, 'COMPANION_GITHUB_APP_INSTALLATION_ID');
  const appGiven = appId !== undefined || keyFile !== undefined || installation !== undefined;
  if (token !== undefined && appGiven) {
    throw new ConfigError('COMPANION_GITHUB_TOKEN', 'and the COMPANION_GITHUB_APP_* variables cannot both be set: choose one way to authenticate');
  }
  if (token !== undefined) {
    if (/\s/.test(token)) throw new ConfigError('COMPANION_GITHUB_TOKEN', 'must not contain spaces');
    return { kind: 'token', token };
  }
  if (!appGiven) {
    throw new ConfigError('COMPANION_GITHUB_TOKEN', 'is required in GitHub mode (COMPANION_GITHUB_REPO is set), unless the COMPANION_GITHUB_APP_* variables are given');
  }
  if (appId === undefined || !/^\d+$/.test(appId)) throw new ConfigError('COMPANION_GITHUB_APP_ID', 'must be the GitHub App\'s numeric id');
  if (installation === undefined || !/^\d+$/.test(installation)) throw new ConfigError('COMPANION_GITHUB_APP_INSTALLATION_ID', 'must be the numeric id of the App\'s installation');
  if (keyFile === undefined) throw new ConfigError('COMPANION_GITHUB_APP_PRIVATE_KEY_FILE', 'must name the file holding the App\'s private key (PEM)');
  let privateKey: string;
  try {
    privateKey = readFile(keyFile);
  } catch (error) {
    throw new ConfigError('COMPANION_GITHUB_APP_PRIVATE_KEY_FILE', `could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey)) {
    throw new ConfigError('COMPANION_GITHUB_APP_PRIVATE_KEY_FILE', 'does not hold a PEM private key');
  }
  return { kind: 'app', appId, privateKey, installationId: Number(installation) };
}

function githubConfig(env: Env, readFile: (file: string) => string): GitHubConfig | null {
  const admin = repository(env, 'COMPANION_GITHUB_REPO');
  if (admin === null) return null;
  const provisioningRepo = repository(env, 'COMPANION_PROVISIONING_REPO');
  const workflow = value(env, 'COMPANION_PROVISIONING_WORKFLOW') ?? 'provision-learning-rooms.yml';
  if (!/^[A-Za-z0-9._-]{1,200}\.ya?ml$/.test(workflow)) {
    throw new ConfigError('COMPANION_PROVISIONING_WORKFLOW', `must be a workflow file name ending in .yml or .yaml (got ${JSON.stringify(workflow)})`);
  }
  return {
    ...admin,
    rosterFile: repositoryPath(env, 'COMPANION_GITHUB_ROSTER_FILE', 'roster.json'),
    branch: refName(env, 'COMPANION_GITHUB_BRANCH', null),
    auth: githubAuth(env, readFile),
    apiUrl: apiUrl(env),
    syncIntervalSeconds: positiveInteger(env, 'COMPANION_SYNC_INTERVAL', 60, 86_400),
    provisioning: provisioningRepo === null ? null : { ...provisioningRepo, workflow, ref: refName(env, 'COMPANION_PROVISIONING_REF', 'main')! },
    progressIntervalSeconds: positiveInteger(env, 'COMPANION_PROGRESS_INTERVAL', 300, 86_400),
    stuckMinutes: positiveInteger(env, 'COMPANION_STUCK_MINUTES', 20, 7 * 24 * 60),
  };
}

/**
 * The secrets' strength. With secure cookies on (production) a facilitator
 * token under MIN_TOKEN_LENGTH or a secret key under MIN_SECRET_KEY_LENGTH
 * characters stops the start; with them off (local testing) each is a
 * warning. An empty token is allowed (the dashboard stays locked), and so is
 * an unset secret key (a random one, with a warning).
 */
function secretWarnings(secret: string, rawToken: string, secureCookies: boolean): string[] {
  const warnings: string[] = [];
  const weak = (name: string, problem: string) => {
    if (secureCookies) throw new ConfigError(name, `${problem} (or set COMPANION_SECURE_COOKIES=0 for local testing only)`);
    warnings.push(`${name} ${problem}; this is accepted only because COMPANION_SECURE_COOKIES=0.`);
  };
  if (secret === '') {
    warnings.push('COMPANION_SECRET_KEY is not set: using a random key, so sessions will not survive a restart. Set it in production.');
  } else if (secret.trim().length < MIN_SECRET_KEY_LENGTH) {
    weak('COMPANION_SECRET_KEY', `must be at least ${MIN_SECRET_KEY_LENGTH} characters, not counting surrounding spaces; use a long random value such as the output of openssl rand -base64 48`);
  }
  // Only a token that is not set at all locks the dashboard; one of spaces only is a short token.
  if (rawToken === '') {
    warnings.push('COMPANION_FACILITATOR_TOKEN is not set: the facilitator dashboard is locked.');
  } else if (rawToken.trim().length < MIN_TOKEN_LENGTH) {
    weak('COMPANION_FACILITATOR_TOKEN', `must be at least ${MIN_TOKEN_LENGTH} characters, not counting surrounding spaces, or empty to keep the dashboard locked`);
  }
  if (!secureCookies) warnings.push('COMPANION_SECURE_COOKIES=0: cookies are sent over plain HTTP. Use this only for local testing.');
  return warnings;
}

/** Reads and checks the configuration; throws ConfigError naming the variable at fault. */
export function loadConfig(env: Env, cwd = process.cwd(), readFile: (file: string) => string = (file) => readFileSync(path.resolve(cwd, file), 'utf8')): Config {
  const secret = env.COMPANION_SECRET_KEY ?? '';
  const rawToken = env.COMPANION_FACILITATOR_TOKEN ?? '';
  const secureCookies = flag(env, 'COMPANION_SECURE_COOKIES', true);
  const config: Config = {
    secretKey: secret !== '' ? secret : randomBytes(32).toString('base64'),
    secretKeyIsRandom: secret === '',
    rosterPath: path.resolve(cwd, value(env, 'COMPANION_ROSTER_PATH') ?? 'roster.json'),
    rosterMaxBytes: positiveInteger(env, 'COMPANION_ROSTER_MAX_BYTES', 20 * 1024 * 1024, 1024 * 1024 * 1024),
    // Surrounding spaces (an env file's trailing blank) are never part of the token people type.
    facilitatorToken: rawToken.trim(),
    secureCookies,
    rateLimitMax: positiveInteger(env, 'COMPANION_RATE_LIMIT_MAX', 10),
    rateLimitWindowSeconds: positiveInteger(env, 'COMPANION_RATE_LIMIT_WINDOW', 300, 86_400 * 7),
    operationsRateLimitMax: positiveInteger(env, 'COMPANION_OPERATIONS_RATE_LIMIT_MAX', 60),
    port: positiveInteger(env, 'PORT', 5000, 65_535),
    host: host(env),
    trustProxy: trustProxy(env),
    helpUrl: helpUrl(env),
    logLevel: logLevel(env),
    sessionIdleMinutes: positiveInteger(env, 'COMPANION_SESSION_IDLE_MINUTES', 30, 24 * 60),
    sessionMaxHours: positiveInteger(env, 'COMPANION_SESSION_MAX_HOURS', 8, 24 * 7),
    github: githubConfig(env, readFile),
    warnings: secretWarnings(secret, rawToken, secureCookies),
  };
  return Object.freeze({ ...config, trustProxy: Object.freeze([...config.trustProxy]), warnings: Object.freeze([...config.warnings]) });
}

/** A short, non-reversible fingerprint of the facilitator token, to notice when it changes. */
export function tokenFingerprint(config: Config): string {
  return createHash('sha256').update(`glow-companion:facilitator:${config.facilitatorToken}`).digest('base64url').slice(0, 22);
}
