/**
 * buildApp(config, deps?) -> a ready Fastify app, not listening.
 *
 * Cross-cutting concerns are registered in this order, each from its own file:
 *   1. security headers (every response, errors included)
 *   2. session (encrypted cookie) and the facilitator state, both resolved
 *      in onRequest, so that every later refusal knows who is signed in
 *   3. cross-site guard on unsafe methods (Sec-Fetch-Site / Origin)
 *   4. body parsing (url-encoded forms only, size-limited)
 *   5. CSRF tokens (checked per POST route, after the body is parsed)
 *   6. rate limits (per POST route)
 *   7. views, static files, routes (then 405 for the other methods of each route's path)
 *   8. not-found and error handlers (one accessible error page)
 */
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyFormbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { Config } from './config.js';
import { RosterStore, type RosterStoreOptions } from './roster/store.js';
import { STATIC_PREFIX, registerSecurityHeaders } from './http/security-headers.js';
import { registerCrossSiteGuard, registerCsrf } from './http/csrf.js';
import { FacilitatorSessions, decorateFacilitator, registerSession } from './http/session.js';
import { registerRateLimit } from './http/rate-limit.js';
import { registerViews } from './http/views.js';
import { HttpError, registerErrorHandlers } from './http/errors.js';
import { trackMethods } from './http/methods.js';
import { registerRoutes } from './routes/register.js';
import { authRoutes } from './routes/auth.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { healthRoutes } from './routes/health.js';
import { learnerRoutes } from './routes/learners.js';
import type { AppContext } from './routes/context.js';
import { connectGitHub, createGitHubApi, type ClientOptions, type GitHubApi } from './github/client.js';
import { RosterSync, type SyncOptions } from './github/sync.js';
import { createProgressApi, type ProgressApi } from './github/progress-api.js';
import { ProgressReader, type ProgressOptions } from './github/progress.js';
import { createOperationsApi, type OperationsApi } from './github/operations-api.js';
import { FacilitatorOperations } from './github/operations.js';
import { OperationResults } from './http/operation-results.js';
import { operationRoutes } from './routes/operations.js';
import './http/fastify-types.js';

/** Every route module, each given the same context. */
const ROUTE_MODULES: ReadonlyArray<(app: FastifyInstance, context: AppContext) => void> = [registerRoutes, authRoutes, dashboardRoutes, learnerRoutes, operationRoutes, healthRoutes];

export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/** Largest request body accepted (the forms are a few hundred bytes). */
export const BODY_LIMIT = 16 * 1024;

/** Server timeouts (milliseconds), so slow or idle clients cannot hold connections forever. */
export const TIMEOUTS = {
  /** Time allowed to receive a request's headers. */
  headers: 10_000,
  /** Time allowed to receive a whole request. */
  request: 30_000,
  /** Time an idle keep-alive connection stays open. */
  keepAlive: 5_000,
  /** Time a socket may sit with no activity at all. */
  connection: 60_000,
} as const;


/**
 * Where a request whose path is not valid percent-encoding is routed, so it
 * gets the site's 400 page (with every header) instead of the router's own
 * JSON error.
 */
const BAD_URL_PATH = '/_companion/bad-url';

function rewriteBadUrl(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  try {
    decodeURIComponent(query === -1 ? raw : raw.slice(0, query));
    return raw;
  } catch {
    return BAD_URL_PATH;
  }
}

export interface AppDeps {
  store?: RosterStore;
  storeOptions?: Partial<RosterStoreOptions>;
  /** The clock for facilitator sessions (ms), for tests of idle and absolute timeouts. */
  now?: () => number;
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /** GitHub mode: another API seam, client or sync settings (tests, benchmarks). */
  github?: { api?: GitHubApi; progressApi?: ProgressApi; operationsApi?: OperationsApi; client?: ClientOptions; sync?: SyncOptions; progress?: ProgressOptions };
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: { level: config.logLevel } }),
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    bodyLimit: BODY_LIMIT,
    requestTimeout: TIMEOUTS.request,
    keepAliveTimeout: TIMEOUTS.keepAlive,
    connectionTimeout: TIMEOUTS.connection,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    rewriteUrl: (request) => rewriteBadUrl(request.url),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = TIMEOUTS.headers;

  // In GitHub mode the roster file is a working copy, and registrations also wait in its outbox until a commit carries them.
  let sync: RosterSync | null = null;
  const store =
    deps.store ??
    new RosterStore({
      path: config.rosterPath,
      maxBytes: config.rosterMaxBytes,
      log: app.log,
      outbox: config.github !== null,
      onRecorded: () => sync?.nudge(),
      ...deps.storeOptions,
    });
  let progress: ProgressReader | null = null;
  let operationsApi: OperationsApi | null = null;
  if (config.github !== null) {
    // One connection, so the sync, the progress reader and the facilitator operations share its throttling.
    const connection = connectGitHub(config.github, app.log, deps.github?.client);
    sync = new RosterSync(config.github, deps.github?.api ?? createGitHubApi(connection), store, app.log, deps.github?.sync);
    progress = new ProgressReader(config.github, deps.github?.progressApi ?? createProgressApi(connection.octokit), store, app.log, deps.github?.progress);
    operationsApi = deps.github?.operationsApi ?? createOperationsApi(connection);
  }
  const sessions = new FacilitatorSessions(config, deps.now);
  const operations = new FacilitatorOperations({ config, api: operationsApi, edit: (edit) => store.edit(edit), log: app.log });
  const results = OperationResults.besideRoster(config.rosterPath);
  const context: AppContext = { config, store, sessions, sync, progress, operations, results };

  await registerSecurityHeaders(app, config);
  await registerSession(app, config);
  decorateFacilitator(app, sessions);
  registerCrossSiteGuard(app);
  app.removeAllContentTypeParsers();
  await app.register(fastifyFormbody, { bodyLimit: BODY_LIMIT });
  await registerCsrf(app);
  await registerRateLimit(app, config);
  await registerViews(app);
  // Dotfiles are ignored (a 404, like any file that is not there), and a path the plugin refuses (`..`) gets the 404 page too (errors.ts).
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: STATIC_PREFIX, index: false, list: false, dotfiles: 'ignore', maxAge: 3_600_000 });

  const methods = trackMethods(app);
  for (const routes of ROUTE_MODULES) routes(app, context);
  app.all(BAD_URL_PATH, async () => {
    throw new HttpError('bad-url');
  });
  methods.answerOtherMethods();
  registerErrorHandlers(app, config);

  app.addHook('onClose', async () => {
    await progress?.stop();
    await sync?.stop();
    await store.close();
  });
  await app.ready();
  sync?.start();
  // Progress is read once the working copy has followed the roster of record, so it covers every learner there.
  if (sync !== null && progress !== null) void sync.firstRound.then(() => progress.start());
  return app;
}
