/**
 * Who is asking and what they may do: fine-grained tokens (personal and
 * GitHub App installation tokens), the App's JWT, repository visibility,
 * permission checks, and primary rate-limit buckets.
 *
 * A token's value is only ever used as a map key here. Everything that leaves
 * this module for logs or state snapshots carries a fingerprint instead.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { isoSeconds, repoKey, type Repo } from './state.js';

export type PermissionName = 'contents' | 'issues' | 'pull_requests' | 'actions' | 'administration' | 'metadata' | 'workflows';
export type PermissionLevel = 'read' | 'write';
export type Permissions = Partial<Record<PermissionName, PermissionLevel>>;

export const PERMISSION_NAMES: readonly PermissionName[] = ['contents', 'issues', 'pull_requests', 'actions', 'administration', 'metadata', 'workflows'];

/** Every permission at write: for a simulator token that may do anything. */
export const ALL_PERMISSIONS: Permissions = {
  contents: 'write',
  issues: 'write',
  pull_requests: 'write',
  actions: 'write',
  administration: 'write',
  metadata: 'read',
  workflows: 'write',
};

export interface TokenRecord {
  token: string;
  kind: 'pat' | 'installation';
  /** The user behind a personal token, or the App's bot login. */
  login: string;
  installationId: number | null;
  permissions: Permissions;
  /** Lower-case owner/name of the repositories the token may use, or all. */
  repositories: 'all' | Set<string>;
  /** Epoch ms, or null for a token that never expires. */
  expiresAt: number | null;
  revoked: boolean;
  /** Primary rate-limit budget for this token's identity, when not the default. */
  rateLimit: number | null;
}

export interface TokenInput {
  token?: string;
  login?: string;
  permissions?: Permissions;
  repositories?: 'all' | string[];
  /** Seconds from now, or an ISO date. */
  expiresIn?: number;
  expiresAt?: string;
  rateLimit?: number;
}

export interface Installation {
  id: number;
  account: string;
  permissions: Permissions;
  repositorySelection: 'all' | 'selected';
  repositories: Set<string>;
}

export interface InstallationInput {
  id: number;
  account: string;
  permissions?: Permissions;
  repositories?: 'all' | string[];
}

export interface AppInfo {
  id: number;
  clientId: string;
  slug: string;
  /** PEM (PKCS#1, as GitHub hands App keys out) when the simulator made the key pair; null when given only a public key. */
  privateKeyPem: string | null;
  publicKeyPem: string;
}

export interface AppInput {
  id?: number;
  clientId?: string;
  slug?: string;
  publicKeyPem?: string;
  privateKeyPem?: string;
}

/** Who a request is charged to and shown as in the log. */
export interface Identity {
  /** Rate-limit bucket and log identity: user:<login>, installation:<id>, app:<id>, anonymous:<ip>. */
  key: string;
  kind: 'pat' | 'installation' | 'app' | 'anonymous';
  login: string | null;
  fingerprint: string | null;
  record: TokenRecord | null;
}

export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

const LEVEL: Record<PermissionLevel, number> = { read: 1, write: 2 };

function isLevel(value: unknown): value is PermissionLevel {
  return value === 'read' || value === 'write';
}

export function parsePermissions(input: unknown): Permissions {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object') throw new Error('permissions must be an object');
  const out: Permissions = {};
  for (const [name, level] of Object.entries(input as Record<string, unknown>)) {
    if (!(PERMISSION_NAMES as readonly string[]).includes(name)) throw new Error(`unknown permission ${name}`);
    if (!isLevel(level)) throw new Error(`permission ${name} must be read or write`);
    out[name as PermissionName] = level;
  }
  return out;
}

export class AuthRegistry {
  readonly tokens = new Map<string, TokenRecord>();
  readonly installations = new Map<number, Installation>();
  private app: (AppInfo & { key: KeyObject }) | null = null;
  installationTokenLifetimeSeconds = 3600;

  constructor(private readonly clock: () => number) {}

  clear(): void {
    this.tokens.clear();
    this.installations.clear();
  }

  addToken(input: TokenInput): TokenRecord {
    const token = input.token ?? `github_pat_sim_${randomBytes(20).toString('hex')}`;
    let expiresAt: number | null = null;
    if (input.expiresIn !== undefined) expiresAt = this.clock() + input.expiresIn * 1000;
    if (input.expiresAt !== undefined) expiresAt = Date.parse(input.expiresAt);
    const record: TokenRecord = {
      token,
      kind: 'pat',
      login: input.login ?? 'simulated-user',
      installationId: null,
      permissions: { metadata: 'read', ...(input.permissions ?? ALL_PERMISSIONS) },
      repositories: input.repositories === undefined || input.repositories === 'all' ? 'all' : new Set(input.repositories.map((r) => r.toLowerCase())),
      expiresAt,
      revoked: false,
      rateLimit: input.rateLimit ?? null,
    };
    this.tokens.set(token, record);
    return record;
  }

  revoke(token: string): boolean {
    const record = this.tokens.get(token);
    if (!record) return false;
    record.revoked = true;
    return true;
  }

  /** The App, made (with a fresh RSA key pair) on first use unless configured. */
  getApp(): AppInfo & { key: KeyObject } {
    if (!this.app) this.configureApp({});
    return this.app!;
  }

  hasApp(): boolean {
    return this.app !== null;
  }

  configureApp(input: AppInput): AppInfo {
    let publicKeyPem = input.publicKeyPem ?? null;
    let privateKeyPem = input.privateKeyPem ?? null;
    if (!publicKeyPem && privateKeyPem) publicKeyPem = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
    if (!publicKeyPem) {
      const pair = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      });
      publicKeyPem = pair.publicKey;
      privateKeyPem = pair.privateKey;
    }
    const id = input.id ?? 1;
    this.app = {
      id,
      clientId: input.clientId ?? `Iv1.sim${String(id).padStart(9, '0')}`,
      slug: input.slug ?? 'glow-companion-simulated',
      privateKeyPem,
      publicKeyPem,
      key: createPublicKey(publicKeyPem),
    };
    return this.app;
  }

  addInstallation(input: InstallationInput): Installation {
    const installation: Installation = {
      id: input.id,
      account: input.account,
      permissions: { metadata: 'read', ...(input.permissions ?? ALL_PERMISSIONS) },
      repositorySelection: input.repositories === undefined || input.repositories === 'all' ? 'all' : 'selected',
      repositories: new Set(input.repositories === undefined || input.repositories === 'all' ? [] : input.repositories.map((r) => r.toLowerCase())),
    };
    this.installations.set(installation.id, installation);
    this.getApp();
    return installation;
  }

  /** Mints an installation access token, as POST /app/installations/{id}/access_tokens does. */
  mintInstallationToken(installation: Installation, permissions: Permissions, repositories: string[] | null): TokenRecord {
    const app = this.getApp();
    const token = `ghs_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
    let scope: 'all' | Set<string>;
    if (repositories) scope = new Set(repositories.map((r) => r.toLowerCase()));
    else if (installation.repositorySelection === 'all') scope = 'all';
    else scope = new Set(installation.repositories);
    const record: TokenRecord = {
      token,
      kind: 'installation',
      login: `${app.slug}[bot]`,
      installationId: installation.id,
      permissions,
      repositories: scope,
      expiresAt: this.clock() + this.installationTokenLifetimeSeconds * 1000,
      revoked: false,
      rateLimit: null,
    };
    this.tokens.set(token, record);
    return record;
  }

  /** Reads `Authorization: token X` or `Bearer X`. */
  static credential(header: string | undefined): string | null {
    if (!header) return null;
    const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  }

  /** Resolves a token: null when unknown, expired or revoked (all answer 401 Bad credentials). */
  lookup(token: string): TokenRecord | null {
    const record = this.tokens.get(token);
    if (!record || record.revoked) return null;
    if (record.expiresAt !== null && this.clock() >= record.expiresAt) return null;
    return record;
  }

  identityFor(record: TokenRecord): Identity {
    const key = record.kind === 'installation' ? `installation:${record.installationId}` : `user:${record.login.toLowerCase()}`;
    return { key, kind: record.kind, login: record.login, fingerprint: fingerprint(record.token), record };
  }

  /**
   * Verifies an App JWT (RS256, signed by the App's private key, `iss` the App
   * id or client id, `exp` in the future and at most 10 minutes ahead, `iat`
   * not in the future). Returns an error message, or null when valid.
   */
  verifyJwt(jwt: string): string | null {
    const app = this.getApp();
    const undecodable = 'A JSON web token could not be decoded';
    const parts = jwt.split('.');
    if (parts.length !== 3) return undecodable;
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<string, unknown>;
      payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undecodable;
    }
    if (header.alg !== 'RS256') return undecodable;
    const signed = verify('RSA-SHA256', Buffer.from(`${headerPart}.${payloadPart}`), app.key, Buffer.from(signaturePart, 'base64url'));
    if (!signed) return undecodable;
    if (String(payload.iss) !== String(app.id) && payload.iss !== app.clientId) return undecodable;
    const now = Math.floor(this.clock() / 1000);
    const { iat, exp } = payload;
    if (typeof iat !== 'number' || !Number.isInteger(iat) || iat > now + 60) {
      return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    }
    if (typeof exp !== 'number' || exp <= now) {
      return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    }
    if (exp > now + 600) return "'Expiration time' claim ('exp') is too far in the future";
    return null;
  }

  appIdentity(): Identity {
    const app = this.getApp();
    return { key: `app:${app.id}`, kind: 'app', login: app.slug, fingerprint: null, record: null };
  }

  /** The public part of a token record, for snapshots. */
  static describe(record: TokenRecord): Record<string, unknown> {
    return {
      fingerprint: fingerprint(record.token),
      kind: record.kind,
      login: record.login,
      installationId: record.installationId,
      permissions: record.permissions,
      repositories: record.repositories === 'all' ? 'all' : [...record.repositories],
      expiresAt: record.expiresAt === null ? null : isoSeconds(record.expiresAt),
      revoked: record.revoked,
    };
  }
}

// ---- access decisions ---------------------------------------------------

/** One acceptable permission; an endpoint lists one or more (any one suffices). */
export interface Need {
  name: PermissionName;
  level: PermissionLevel;
}

export type AccessDecision =
  | { ok: true }
  | { ok: false; status: 401; message: string }
  | { ok: false; status: 404 }
  | { ok: false; status: 403; message: string; accepted: string };

function tokenReachesRepo(record: TokenRecord, repo: Repo): boolean {
  return record.repositories === 'all' || record.repositories.has(repoKey(repo.owner, repo.name));
}

/**
 * Decides a repository request. A private repository the caller cannot reach
 * is 404 (GitHub hides it). Reads of a public repository need no permission
 * ("can be used without authentication or the aforementioned permissions if
 * only public resources are requested"). Otherwise the token must reach the
 * repository and hold one of the needed permissions, or it gets 403 with the
 * permission GitHub would have accepted in `x-accepted-github-permissions`.
 */
export function decide(identity: Identity, repo: Repo, needs: Need[]): AccessDecision {
  const record = identity.record;
  const visible = !repo.private || (record !== null && tokenReachesRepo(record, repo));
  if (!visible) return { ok: false, status: 404 };
  const readOnly = needs.every((n) => n.level === 'read');
  if (!repo.private && readOnly) return { ok: true };
  if (!record) return { ok: false, status: 401, message: 'Requires authentication' };
  const granted =
    tokenReachesRepo(record, repo) &&
    needs.some((need) => {
      const level = record.permissions[need.name];
      return level !== undefined && LEVEL[level] >= LEVEL[need.level];
    });
  if (granted) return { ok: true };
  const who = record.kind === 'installation' ? 'integration' : 'personal access token';
  return {
    ok: false,
    status: 403,
    message: `Resource not accessible by ${who}`,
    accepted: needs.map((n) => `${n.name}=${n.level}`).join('; '),
  };
}

// ---- primary rate limit -------------------------------------------------

export interface Bucket {
  limit: number;
  used: number;
  /** Epoch seconds. */
  reset: number;
  resource: 'core';
}

export interface RateLimitOptions {
  /** Requests per window for an authenticated identity (GitHub: 5,000 an hour). */
  limit: number;
  /** Requests per window without a token (GitHub: 60 an hour). */
  anonymousLimit: number;
  windowSeconds: number;
  /** Status of the exhausted answer: GitHub documents 403 or 429. */
  exhaustedStatus: 403 | 429;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { limit: 5000, anonymousLimit: 60, windowSeconds: 3600, exhaustedStatus: 403 };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    public options: RateLimitOptions,
    private readonly clock: () => number,
  ) {}

  clear(): void {
    this.buckets.clear();
  }

  bucket(identity: Identity): Bucket {
    const now = Math.floor(this.clock() / 1000);
    let bucket = this.buckets.get(identity.key);
    if (!bucket || now >= bucket.reset) {
      const limit = identity.kind === 'anonymous' ? this.options.anonymousLimit : identity.record?.rateLimit ?? this.options.limit;
      bucket = { limit, used: 0, reset: now + this.options.windowSeconds, resource: 'core' };
      this.buckets.set(identity.key, bucket);
    }
    return bucket;
  }

  exhausted(identity: Identity): boolean {
    const bucket = this.bucket(identity);
    return bucket.used >= bucket.limit;
  }

  charge(identity: Identity): void {
    const bucket = this.bucket(identity);
    bucket.used = Math.min(bucket.limit, bucket.used + 1);
  }

  /** Uses up a bucket now (a fault); it refills at its reset time, or `resetInSeconds` from now. */
  exhaust(key: string, resetInSeconds?: number): void {
    const now = Math.floor(this.clock() / 1000);
    const existing = this.buckets.get(key);
    const limit = existing?.limit ?? (key.startsWith('anonymous:') ? this.options.anonymousLimit : this.options.limit);
    const reset = resetInSeconds !== undefined ? now + resetInSeconds : existing && existing.reset > now ? existing.reset : now + this.options.windowSeconds;
    this.buckets.set(key, { limit, used: limit, reset, resource: 'core' });
  }

  headers(identity: Identity): Record<string, string> {
    const bucket = this.bucket(identity);
    return {
      'x-ratelimit-limit': String(bucket.limit),
      'x-ratelimit-remaining': String(Math.max(0, bucket.limit - bucket.used)),
      'x-ratelimit-used': String(bucket.used),
      'x-ratelimit-reset': String(bucket.reset),
      'x-ratelimit-resource': bucket.resource,
    };
  }

  snapshot(): Record<string, Bucket> {
    return Object.fromEntries(this.buckets);
  }
}
