/**
 * The simulator's HTTP server: GitHub's REST paths plus a control API under
 * /_simulator/ (GitHub has no path starting with an underscore, so the two
 * cannot be confused). One request goes through, in order: added latency,
 * network-failure faults, identity, secondary-rate-limit and 5xx faults,
 * credentials (401), the primary rate limit, the route, conditional-request
 * handling (ETag / If-None-Match -> 304, not counted), accounting, the log.
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AuthRegistry, DEFAULT_RATE_LIMIT, fingerprint, RateLimiter, type AppInfo, type Identity, type RateLimitOptions, type TokenInput } from './auth.js';
import { handleControl } from './control.js';
import { FaultController } from './faults.js';
import { ApiError, DOCS, etagMatches, readBody, strongEtag, type ApiResponse } from './http.js';
import { RequestLog } from './log.js';
import { ACCESS_TOKEN_ROUTE, route } from './routes.js';
import { applySeed, seedAdminRepo, type AdminRepoInput, type SeedFile, type SeedResult } from './seed.js';
import { SimulatorState } from './state.js';

export interface SimulatorOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  rateLimit?: Partial<RateLimitOptions>;
  /** Milliseconds added to every GitHub API answer. */
  latencyMs?: number;
  /** Files above this size come back from the contents API with `encoding: "none"` (default 1 MiB). */
  largeFileBytes?: number;
  /** Seconds an installation token lives (GitHub: 3600). */
  installationTokenLifetimeSeconds?: number;
  seed?: SeedFile;
  /** Folder that `fromFile` paths in `seed` are relative to. */
  seedBaseDir?: string;
  /** Clock (epoch ms), for tests that move time. */
  now?: () => number;
}

export interface GitHubSimulator {
  /** http://127.0.0.1:PORT once started. */
  readonly url: string;
  start(): Promise<string>;
  stop(): Promise<void>;
  readonly state: SimulatorState;
  readonly faults: FaultController;
  readonly requests: RequestLog;
  readonly auth: AuthRegistry;
  readonly rateLimiter: RateLimiter;
  /** The GitHub App (a key pair is made on first use); `privateKeyPem` signs JWTs in tests. */
  readonly app: AppInfo;
  seed(seed: SeedFile, baseDir?: string): SeedResult;
  seedAdminRepo(input: AdminRepoInput): { fullName: string; commitSha: string; blobSha: string };
  /** Adds a fine-grained personal token; returns its value. */
  addToken(input?: TokenInput): string;
  /** Forgets state, tokens, installations, faults, the log and rate-limit buckets. */
  reset(): void;
}

const COMMON_HEADERS = {
  'x-github-media-type': 'github.v3; format=json',
  'x-github-api-version-selected': '2022-11-28',
  'access-control-expose-headers':
    'ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset',
  vary: 'Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding',
  'x-content-type-options': 'nosniff',
};

const RATE_DOCS = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createGitHubSimulator(options: SimulatorOptions = {}): GitHubSimulator {
  const clock = options.now ?? Date.now;
  const state = new SimulatorState(clock);
  const auth = new AuthRegistry(clock);
  const rateLimiter = new RateLimiter({ ...DEFAULT_RATE_LIMIT, ...options.rateLimit }, clock);
  const faults = new FaultController(state, auth, rateLimiter);
  const requests = new RequestLog();
  let largeFileBytes = options.largeFileBytes ?? 1024 * 1024;
  if (options.installationTokenLifetimeSeconds !== undefined) auth.installationTokenLifetimeSeconds = options.installationTokenLifetimeSeconds;
  faults.setLatency(options.latencyMs ?? 0);

  const sockets = new Set<Socket>();
  let url: string | null = null;

  const configure = (o: { rateLimit?: Partial<RateLimitOptions>; latencyMs?: number; largeFileBytes?: number }): void => {
    if (o.rateLimit) rateLimiter.options = { ...rateLimiter.options, ...o.rateLimit };
    if (o.latencyMs !== undefined) faults.setLatency(o.latencyMs);
    if (o.largeFileBytes !== undefined) largeFileBytes = o.largeFileBytes;
  };

  const sim: GitHubSimulator = {
    get url() {
      if (!url) throw new Error('the GitHub simulator is not started');
      return url;
    },
    start,
    stop,
    state,
    faults,
    requests,
    auth,
    rateLimiter,
    get app() {
      return auth.getApp();
    },
    seed: (seed, baseDir) => applySeed({ state, auth, configure }, seed, baseDir),
    seedAdminRepo: (input) => seedAdminRepo(state, input),
    addToken: (input = {}) => {
      const record = auth.addToken(input);
      state.addUser(record.login);
      return record.token;
    },
    reset: () => {
      state.clear();
      auth.clear();
      faults.clear();
      requests.clear();
      rateLimiter.clear();
      rateLimiter.options = { ...DEFAULT_RATE_LIMIT, ...options.rateLimit };
      largeFileBytes = options.largeFileBytes ?? 1024 * 1024;
      auth.installationTokenLifetimeSeconds = options.installationTokenLifetimeSeconds ?? 3600;
      faults.setLatency(options.latencyMs ?? 0);
    },
  };

  if (options.seed) sim.seed(options.seed, options.seedBaseDir);

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ message: `Simulator error: ${(error as Error).message}`, documentation_url: DOCS, status: '500' }));
      } else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = url ?? 'http://127.0.0.1';
    const parsed = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    if (parsed.pathname === '/_simulator' || parsed.pathname.startsWith('/_simulator/')) {
      const body = await readBody(req);
      const answer = await handleControl({ sim, configure, method, url: parsed, body });
      send(res, method, answer, {});
      return;
    }
    await handleApi(req, res, method, parsed, origin);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string, parsed: URL, origin: string): Promise<void> {
    const started = Date.now();
    const seq = requests.nextSeq();
    const at = new Date(clock()).toISOString();
    const query = Object.fromEntries([...parsed.searchParams.entries()].filter(([k]) => k !== 'access_token'));
    const path = parsed.pathname.replace(/\/+$/, '') || '/';
    const body = await readBody(req);
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);

    const credential = AuthRegistry.credential(req.headers.authorization);
    const ip = req.socket.remoteAddress ?? 'unknown';
    const anonymous: Identity = { key: `anonymous:${ip}`, kind: 'anonymous', login: null, fingerprint: null, record: null };

    const log = (status: number, counted: boolean, identity: Identity, fault: string | null): void =>
      requests.add({
        seq,
        at,
        method,
        path,
        query,
        status,
        counted,
        identity: identity.key,
        tokenFingerprint: identity.fingerprint ?? (credential ? fingerprint(credential) : null),
        fault,
        durationMs: Date.now() - started,
      });

    if (faults.take('network', method, path)) {
      log(0, false, anonymous, 'network');
      req.socket.destroy();
      return;
    }

    // Who is asking. The App's JWT is only good for its own endpoint.
    let identity: Identity = anonymous;
    let credentialError: string | null = null;
    const appRoute = method === 'POST' && ACCESS_TOKEN_ROUTE.test(path);
    if (appRoute) {
      if (!credential) credentialError = 'A JSON web token could not be decoded';
      else {
        credentialError = auth.verifyJwt(credential);
        if (!credentialError) identity = auth.appIdentity();
      }
    } else if (credential) {
      const record = auth.lookup(credential);
      if (record) identity = auth.identityFor(record);
      else credentialError = 'Bad credentials';
    }
    const requestId = `${randomBytes(4).toString('hex').toUpperCase()}:${randomBytes(3).toString('hex').toUpperCase()}`;
    const base = (): Record<string, string> => ({ ...COMMON_HEADERS, 'x-github-request-id': requestId, ...rateLimiter.headers(identity) });

    const secondary = faults.take('secondary-rate-limit', method, path);
    if (secondary) {
      const headers = base();
      if (secondary.retryAfter !== null) headers['retry-after'] = String(secondary.retryAfter ?? 60);
      const answer = new ApiError(
        secondary.status ?? 403,
        `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
        `${RATE_DOCS}#about-secondary-rate-limits`,
      ).toResponse();
      send(res, method, answer, headers);
      log(answer.status, false, identity, 'secondary-rate-limit');
      return;
    }

    const serverError = faults.take('server-error', method, path);
    if (serverError) {
      const messages: Record<number, string> = { 500: 'Server Error', 502: 'Server Error', 503: 'Service Unavailable', 504: 'We couldn\'t respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.' };
      send(res, method, { status: serverError.status, body: { message: messages[serverError.status] ?? 'Server Error', documentation_url: DOCS, status: String(serverError.status) } }, base());
      log(serverError.status, false, identity, 'server-error');
      return;
    }

    const refusal = faults.take('refusal', method, path);
    if (refusal) {
      send(res, method, { status: refusal.status, body: { message: refusal.message ?? 'Repository rule violations found', documentation_url: DOCS, status: String(refusal.status) } }, base());
      log(refusal.status, false, identity, 'refusal');
      return;
    }

    if (credentialError) {
      const answer = new ApiError(401, credentialError, DOCS).toResponse();
      send(res, method, answer, base());
      log(401, false, identity, null);
      return;
    }

    if (rateLimiter.exhausted(identity)) {
      const who = identity.kind === 'installation' ? `installation ID ${identity.record?.installationId}` : identity.kind === 'anonymous' ? ip : `user ID ${identity.login}`;
      const answer = new ApiError(
        rateLimiter.options.exhaustedStatus,
        `API rate limit exceeded for ${who}. If you reach out to GitHub Support for help, please include the request ID ${requestId} and timestamp ${at}.`,
        `${RATE_DOCS}#exceeding-the-rate-limit`,
      ).toResponse();
      send(res, method, answer, base());
      log(answer.status, false, identity, null);
      return;
    }

    const found = route(method, path);
    let answer: ApiResponse;
    try {
      if (!found) throw new ApiError(404, 'Not Found', DOCS);
      answer = await found.handler({
        method,
        url: parsed,
        params: found.params,
        body,
        headers: req.headers,
        identity,
        origin,
        state,
        auth,
        faults,
        largeFileBytes,
      });
    } catch (error) {
      if (error instanceof ApiError) answer = error.toResponse();
      else if (error instanceof Error && error.name === 'StateError') answer = new ApiError(422, error.message, DOCS).toResponse();
      else throw error;
    }

    // Conditional requests: an ETag on every successful GET, and 304 (free) when it matches.
    let etag: string | null = null;
    if ((method === 'GET' || method === 'HEAD') && answer.status === 200) {
      etag = strongEtag(answer.raw ?? JSON.stringify(answer.body ?? null));
      if (etagMatches(req.headers['if-none-match'], etag)) answer = { status: 304, headers: answer.headers?.link ? { link: answer.headers.link } : {} };
    }
    const counted = answer.status !== 304;
    if (counted) rateLimiter.charge(identity);
    const headers = base();
    if (etag) headers.etag = etag;
    send(res, method, answer, headers);
    log(answer.status, counted, identity, null);

    // The concurrent writer strikes right after the reader got its answer.
    if (method === 'GET' && found && /\/contents\//.test(path) && answer.status !== 404) {
      const [owner, name] = found.params as [string, string];
      const filePath = decodeURIComponent(found.params[2] ?? '');
      try {
        faults.runWriters('after-get', decodeURIComponent(owner), decodeURIComponent(name), filePath, parsed.searchParams.get('ref') ?? undefined);
      } catch {
        // A writer aimed at a repository that is gone does nothing.
      }
    }
  }

  function send(res: ServerResponse, method: string, answer: ApiResponse, headers: Record<string, string>): void {
    const all: Record<string, string> = { ...headers, ...(answer.headers ?? {}) };
    let payload: Buffer | null = null;
    if (answer.status !== 204 && answer.status !== 304) {
      if (answer.raw) {
        payload = answer.raw;
        all['content-type'] = answer.contentType ?? 'application/octet-stream';
      } else if (answer.body !== undefined) {
        payload = Buffer.from(JSON.stringify(answer.body));
        all['content-type'] = 'application/json; charset=utf-8';
      }
    }
    if (payload) all['content-length'] = String(payload.byteLength);
    res.writeHead(answer.status, all);
    res.end(method === 'HEAD' ? undefined : payload ?? undefined);
  }

  function start(): Promise<string> {
    if (url) return Promise.resolve(url);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        url = `http://${address.address}:${address.port}`;
        resolve(url);
      });
    });
  }

  function stop(): Promise<void> {
    state.cancelTimers();
    if (!url) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => {
        url = null;
        resolve();
      });
      for (const socket of sockets) socket.destroy();
    });
  }

  return sim;
}
