/**
 * Fault injection: what the next requests meet instead of (or besides) a
 * normal answer. Every fault can be set from code or, as JSON, through the
 * control API, so a test in another process can drive it too.
 *
 * A request pattern is a method (or any) and a path, either a glob where `*`
 * is one path segment and `**` any number of them
 * (`/repos/* /* /contents/**`, without the spaces), or a RegExp
 * (from JSON: `{ "regex": "..." }`).
 */
import type { AuthRegistry, RateLimiter } from './auth.js';
import { normalisePath, type SimulatorState } from './state.js';

export type PathPattern = string | RegExp;

export interface RequestPattern {
  method?: string;
  path?: PathPattern;
}

export interface ServerErrorFault extends RequestPattern {
  kind: 'server-error';
  status: 500 | 502 | 503 | 504;
  /** How many matching requests fail (default 1). */
  count?: number;
}

export interface SecondaryRateLimitFault extends RequestPattern {
  kind: 'secondary-rate-limit';
  status?: 403 | 429;
  /** Seconds in `retry-after`; omit it to send none (GitHub does not always). */
  retryAfter?: number | null;
  count?: number;
}

/** A refusal that is not about the request's sha: a rule on the branch ("Repository rule violations found"). */
export interface RefusalFault extends RequestPattern {
  kind: 'refusal';
  status: 409 | 422;
  message?: string;
  count?: number;
}

export interface NetworkFault extends RequestPattern {
  kind: 'network';
  /** Destroys the socket without an answer. */
  count?: number;
}

/** How the concurrent writer changes the file: code may pass a function. */
export type Transform =
  | ((current: string) => string)
  | { append: string }
  | { replace: string }
  /** Sets a value at a JSON pointer and writes the JSON back with 2-space indent and a trailing newline. */
  | { jsonSet: { pointer: string; value: unknown } };

export interface ConcurrentWriterFault {
  kind: 'concurrent-writer';
  repo: string;
  path: string;
  branch?: string;
  /** After a GET of the file has been answered, or just before the next PUT of it is processed. */
  when: 'after-get' | 'before-put';
  transform: Transform;
  message?: string;
  /** How many times it strikes (default 1). */
  count?: number;
}

export type FaultInput = ServerErrorFault | SecondaryRateLimitFault | RefusalFault | NetworkFault | ConcurrentWriterFault;

export interface ActiveFault {
  id: number;
  fault: FaultInput;
  remaining: number;
  hits: number;
}

export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else out += '[^/]*';
    } else out += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export function pathMatches(pattern: PathPattern | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  const re = typeof pattern === 'string' ? globToRegExp(pattern) : pattern;
  return re.test(path);
}

function requestMatches(fault: RequestPattern, method: string, path: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method.toUpperCase()) return false;
  return pathMatches(fault.path, path);
}

/** Reads a path pattern from JSON: a glob string or `{ "regex": "..." }`. */
export function patternFromJson(value: unknown): PathPattern | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { regex?: unknown }).regex === 'string') return new RegExp((value as { regex: string }).regex);
  throw new Error('path must be a glob string or { "regex": "..." }');
}

export function applyTransform(transform: Transform, current: string): string {
  if (typeof transform === 'function') return transform(current);
  if ('append' in transform) return current + transform.append;
  if ('replace' in transform) return transform.replace;
  const doc = JSON.parse(current) as unknown;
  setPointer(doc, transform.jsonSet.pointer, transform.jsonSet.value);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function setPointer(doc: unknown, pointer: string, value: unknown): void {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error('jsonSet needs a pointer below the root');
  let node = doc as Record<string, unknown> | unknown[];
  for (const part of parts) {
    const next = Array.isArray(node) ? node[Number(part)] : node[part];
    if (next === null || typeof next !== 'object') throw new Error(`jsonSet: nothing at ${part} in ${pointer}`);
    node = next as Record<string, unknown> | unknown[];
  }
  if (Array.isArray(node)) node[Number(last)] = value;
  else node[last] = value;
}

export class FaultController {
  private readonly active: ActiveFault[] = [];
  private nextId = 1;
  /** Milliseconds added before every GitHub API answer (not the control API). */
  latencyMs = 0;

  constructor(
    private readonly state: SimulatorState,
    private readonly auth: AuthRegistry,
    private readonly rateLimiter: RateLimiter,
  ) {}

  /** Arms a fault; returns its id (for `remove`). */
  add(fault: FaultInput): number {
    const id = this.nextId++;
    this.active.push({ id, fault, remaining: fault.count ?? 1, hits: 0 });
    return id;
  }

  /** The next `count` requests matching answer `status` (500, 502, 503, 504). */
  serverError(pattern: RequestPattern & { status?: 500 | 502 | 503 | 504; count?: number }): number {
    return this.add({ ...pattern, kind: 'server-error', status: pattern.status ?? 502 });
  }

  refusal(pattern: RequestPattern & { status?: 409 | 422; message?: string; count?: number }): number {
    return this.add({ ...pattern, kind: 'refusal', status: pattern.status ?? 409 });
  }

  secondaryRateLimit(pattern: RequestPattern & { status?: 403 | 429; retryAfter?: number | null; count?: number } = {}): number {
    return this.add({ ...pattern, kind: 'secondary-rate-limit' });
  }

  networkFailure(pattern: RequestPattern & { count?: number } = {}): number {
    return this.add({ ...pattern, kind: 'network' });
  }

  concurrentWriter(fault: Omit<ConcurrentWriterFault, 'kind'>): number {
    return this.add({ ...fault, kind: 'concurrent-writer' });
  }

  /** Uses up the primary budget of a token's identity (or of an identity key such as `installation:42`). */
  exhaustRateLimit(target: { token?: string; identity?: string; resetInSeconds?: number }): void {
    let key = target.identity;
    if (target.token) {
      const record = this.auth.tokens.get(target.token);
      if (!record) throw new Error('exhaustRateLimit: unknown token');
      key = this.auth.identityFor(record).key;
    }
    if (!key) throw new Error('exhaustRateLimit needs a token or an identity');
    this.rateLimiter.exhaust(key, target.resetInSeconds);
  }

  /** The token answers 401 Bad credentials from now on. */
  revokeToken(token: string): void {
    if (!this.auth.revoke(token)) throw new Error('revokeToken: unknown token');
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  remove(id: number): boolean {
    const index = this.active.findIndex((f) => f.id === id);
    if (index < 0) return false;
    this.active.splice(index, 1);
    return true;
  }

  clear(): void {
    this.active.length = 0;
    this.latencyMs = 0;
  }

  list(): Array<{ id: number; remaining: number; hits: number; fault: Record<string, unknown> }> {
    return this.active.map((a) => ({
      id: a.id,
      remaining: a.remaining,
      hits: a.hits,
      fault: describeFault(a.fault),
    }));
  }

  /** Takes (and uses up one strike of) the first armed fault of a kind matching the request. */
  take<K extends 'server-error' | 'secondary-rate-limit' | 'refusal' | 'network'>(kind: K, method: string, path: string): Extract<FaultInput, { kind: K }> | null {
    const found = this.active.find((a) => a.fault.kind === kind && requestMatches(a.fault as RequestPattern, method, path));
    if (!found) return null;
    this.strike(found);
    return found.fault as Extract<FaultInput, { kind: K }>;
  }

  /** Runs the concurrent writers armed for this file at this moment. */
  runWriters(when: 'after-get' | 'before-put', owner: string, name: string, path: string, ref: string | undefined): void {
    const fullName = `${owner}/${name}`.toLowerCase();
    for (const armed of [...this.active]) {
      const fault = armed.fault;
      if (fault.kind !== 'concurrent-writer' || fault.when !== when) continue;
      if (fault.repo.toLowerCase() !== fullName || normalisePath(fault.path) !== normalisePath(path)) continue;
      const repo = this.state.repo(fault.repo);
      const branch = fault.branch ?? repo.defaultBranch;
      if ((ref ?? repo.defaultBranch) !== branch) continue;
      const current = this.state.fileAt(repo, fault.path, branch);
      const next = applyTransform(fault.transform, current ? current.content.toString('utf8') : '');
      this.state.commitTo(repo, normalisePath(fault.path), Buffer.from(next, 'utf8'), {
        branch,
        message: fault.message ?? `Concurrent change to ${fault.path}`,
        author: { name: 'Concurrent Writer', email: 'writer@example.invalid' },
      });
      this.strike(armed);
    }
  }

  private strike(armed: ActiveFault): void {
    armed.hits++;
    armed.remaining--;
    if (armed.remaining <= 0) this.remove(armed.id);
  }
}

function describeFault(fault: FaultInput): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fault };
  if ('path' in fault && fault.path instanceof RegExp) out.path = { regex: fault.path.source };
  if (fault.kind === 'concurrent-writer' && typeof fault.transform === 'function') out.transform = '(function)';
  return out;
}

/** Parses a fault from the control API's JSON. */
export function faultFromJson(body: Record<string, unknown>): FaultInput {
  const count = body.count === undefined ? undefined : Number(body.count);
  const method = typeof body.method === 'string' ? body.method : undefined;
  const path = patternFromJson(body.path);
  switch (body.kind) {
    case 'server-error': {
      const status = Number(body.status ?? 502);
      if (![500, 502, 503, 504].includes(status)) throw new Error('status must be 500, 502, 503 or 504');
      return { kind: 'server-error', status: status as 500 | 502 | 503 | 504, method, path, count };
    }
    case 'secondary-rate-limit': {
      const status = Number(body.status ?? 403);
      if (status !== 403 && status !== 429) throw new Error('status must be 403 or 429');
      const retryAfter = body.retryAfter === null ? null : body.retryAfter === undefined ? undefined : Number(body.retryAfter);
      return { kind: 'secondary-rate-limit', status, retryAfter, method, path, count };
    }
    case 'refusal': {
      const status = Number(body.status ?? 409);
      if (status !== 409 && status !== 422) throw new Error('status must be 409 or 422');
      return { kind: 'refusal', status, message: typeof body.message === 'string' ? body.message : undefined, method, path, count };
    }
    case 'network':
      return { kind: 'network', method, path, count };
    case 'concurrent-writer': {
      if (typeof body.repo !== 'string' || typeof body.path !== 'string') throw new Error('concurrent-writer needs repo and path');
      if (body.when !== 'after-get' && body.when !== 'before-put') throw new Error('when must be after-get or before-put');
      const t = body.transform as Record<string, unknown> | undefined;
      let transform: Transform;
      if (t && typeof t.append === 'string') transform = { append: t.append };
      else if (t && typeof t.replace === 'string') transform = { replace: t.replace };
      else if (t && t.jsonSet && typeof (t.jsonSet as { pointer?: unknown }).pointer === 'string') transform = { jsonSet: t.jsonSet as { pointer: string; value: unknown } };
      else throw new Error('transform must be { append }, { replace } or { jsonSet: { pointer, value } }');
      return {
        kind: 'concurrent-writer',
        repo: body.repo,
        path: body.path,
        branch: typeof body.branch === 'string' ? body.branch : undefined,
        when: body.when,
        transform,
        message: typeof body.message === 'string' ? body.message : undefined,
        count,
      };
    }
    default:
      throw new Error('kind must be server-error, secondary-rate-limit, network, concurrent-writer (or use rate-limit, latency, revoke-token)');
  }
}
