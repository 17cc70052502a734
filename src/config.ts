/**
 * Configuration: the environment, read once into one typed, validated,
 * frozen object. This is the only module that reads environment variables,
 * and it reads them from the object it is given.
 */
import { createHash, randomBytes } from 'node:crypto';
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
  readonly facilitatorToken: string;
  readonly secureCookies: boolean;
  readonly rateLimitMax: number;
  readonly rateLimitWindowSeconds: number;
  readonly port: number;
  readonly host: string;
  /** Proxy addresses whose X-Forwarded-For is believed; empty: none. */
  readonly trustProxy: readonly string[];
  readonly helpUrl: string | null;
  readonly logLevel: LogLevel;
  readonly sessionIdleMinutes: number;
  readonly sessionMaxHours: number;
  /** What an operator should know about this configuration; the server logs each at start. */
  readonly warnings: readonly string[];
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
export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const secret = env.COMPANION_SECRET_KEY ?? '';
  const rawToken = env.COMPANION_FACILITATOR_TOKEN ?? '';
  const secureCookies = flag(env, 'COMPANION_SECURE_COOKIES', true);
  const config: Config = {
    secretKey: secret !== '' ? secret : randomBytes(32).toString('base64'),
    secretKeyIsRandom: secret === '',
    rosterPath: path.resolve(cwd, value(env, 'COMPANION_ROSTER_PATH') ?? 'roster.json'),
    // Surrounding spaces (an env file's trailing blank) are never part of the token people type.
    facilitatorToken: rawToken.trim(),
    secureCookies,
    rateLimitMax: positiveInteger(env, 'COMPANION_RATE_LIMIT_MAX', 10),
    rateLimitWindowSeconds: positiveInteger(env, 'COMPANION_RATE_LIMIT_WINDOW', 300, 86_400 * 7),
    port: positiveInteger(env, 'PORT', 5000, 65_535),
    host: host(env),
    trustProxy: trustProxy(env),
    helpUrl: helpUrl(env),
    logLevel: logLevel(env),
    sessionIdleMinutes: positiveInteger(env, 'COMPANION_SESSION_IDLE_MINUTES', 30, 24 * 60),
    sessionMaxHours: positiveInteger(env, 'COMPANION_SESSION_MAX_HOURS', 8, 24 * 7),
    warnings: secretWarnings(secret, rawToken, secureCookies),
  };
  return Object.freeze({ ...config, trustProxy: Object.freeze([...config.trustProxy]), warnings: Object.freeze([...config.warnings]) });
}

/** A short, non-reversible fingerprint of the facilitator token, to notice when it changes. */
export function tokenFingerprint(config: Config): string {
  return createHash('sha256').update(`glow-companion:facilitator:${config.facilitatorToken}`).digest('base64url').slice(0, 22);
}
