/**
 * One error page for every status a person can meet, rendered in the site
 * shell with a message they can act on and no internals. The details go to
 * the log.
 *
 * Every error has a reason from a closed list, and every reason has its
 * status and its text in one table, so a new reason does not compile until
 * it has words a person can act on.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { RosterUnavailableError, type RosterProblem } from '../roster/store.js';
import { shellFor } from './shell.js';
import { render, type ErrorModel } from './views.js';

export type ErrorReason =
  | 'bad-request'
  | 'bad-url'
  | 'csrf'
  | 'cross-site'
  | 'not-found'
  | 'method'
  | 'too-large'
  | 'unsupported-type'
  | 'rate-limited'
  | RosterProblem
  | 'unexpected';

/** An error that is answered with the error page for its reason. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly statusCode: number;
  constructor(readonly reason: ErrorReason, readonly headers: Readonly<Record<string, string>> = {}) {
    super(reason);
    this.statusCode = ERRORS[reason].status;
  }
}

interface ErrorText {
  title: string;
  paragraphs: string[];
  action: ErrorModel['action'];
}

/** What some texts depend on: when to try again, and whether the footer links to the issue form. */
interface TextContext {
  retryAfterSeconds: number | null;
  helpUrl: string | null;
}

const HOME = { href: '/register', label: 'Go to the registration page' };

/** Where the workshop's GitHub issue form is, worded for the footer this page actually has. */
function issueForm({ helpUrl }: TextContext): string {
  return helpUrl !== null
    ? 'the workshop\'s GitHub issue form (the Help section at the bottom of this page links to it)'
    : 'the workshop\'s GitHub issue form (ask your workshop facilitator for its link)';
}

const ERRORS: Record<ErrorReason, { status: number; text: ErrorText | ((context: TextContext) => ErrorText) }> = {
  'bad-request': {
    status: 400,
    text: { title: 'The request could not be understood', paragraphs: ['Nothing was saved. Go back and try again.'], action: HOME },
  },
  'bad-url': {
    status: 400,
    text: { title: 'The request could not be understood', paragraphs: ['Nothing was saved. Go back and try again.'], action: HOME },
  },
  csrf: {
    status: 400,
    text: {
      title: 'Your form could not be accepted',
      paragraphs: [
        'The form had expired or did not come from this site, so nothing was saved.',
        'Go back, reload the page to get a fresh form, and send it again. If this keeps happening, check that your browser accepts cookies from this site.',
      ],
      action: HOME,
    },
  },
  'cross-site': {
    status: 403,
    text: {
      title: 'This request was refused',
      paragraphs: ['Forms on this site can only be sent from this site\'s own pages, so nothing was saved.', 'Open the page on this site and send the form from there.'],
      action: HOME,
    },
  },
  'not-found': {
    status: 404,
    text: { title: 'Page not found', paragraphs: ['There is no page at this address. If you typed it, check that it is right.'], action: HOME },
  },
  method: {
    status: 405,
    text: { title: 'That action is not available here', paragraphs: ['This page cannot be used that way. Open it from a link on this site instead.'], action: HOME },
  },
  'too-large': {
    status: 413,
    text: { title: 'What you sent is too large', paragraphs: ['The form was larger than this site accepts, so nothing was saved. Go back and shorten what you entered.'], action: HOME },
  },
  'unsupported-type': {
    status: 415,
    text: { title: 'The form could not be read', paragraphs: ['The form was not sent in a format this site accepts, so nothing was saved.'], action: HOME },
  },
  'rate-limited': {
    status: 429,
    text: ({ retryAfterSeconds }) => {
      const minutes = retryAfterSeconds === null ? null : Math.max(1, Math.ceil(retryAfterSeconds / 60));
      return {
        title: 'Too many attempts',
        paragraphs: [
          'There have been too many attempts from your connection in a short time, so this one was not accepted and nothing was saved.',
          minutes === null ? 'Wait a few minutes, then try again.' : `Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}, then try again.`,
        ],
        action: null,
      };
    },
  },
  unreadable: {
    status: 503,
    text: (context) => ({
      title: 'The roster file could not be read',
      paragraphs: [
        'The workshop roster is damaged or in a format this site does not understand, so nothing can be saved or shown here for now. Nothing was changed.',
        `You can still register through ${issueForm(context)}. The details are in the server log for the workshop's organisers.`,
      ],
      action: null,
    }),
  },
  busy: {
    status: 503,
    text: (context) => ({
      title: 'The roster could not be saved',
      paragraphs: [
        'The workshop roster is busy, so your registration was not saved. Nothing was changed.',
        `Try again in a minute. You can also register through ${issueForm(context)}.`,
      ],
      action: null,
    }),
  },
  unwritable: {
    status: 503,
    text: (context) => ({
      title: 'The roster could not be saved',
      paragraphs: [
        'The workshop roster could not be written, so your registration was not saved. Nothing was changed.',
        `Try again in a minute. You can also register through ${issueForm(context)}.`,
      ],
      action: null,
    }),
  },
  unexpected: {
    status: 500,
    text: {
      title: 'Sorry, something went wrong',
      paragraphs: ['The site met a problem it did not expect, and what you asked for may not have happened. Try again in a minute.'],
      action: HOME,
    },
  },
};

/** The status and words of an error page. */
export function errorPage(reason: ErrorReason, context: TextContext): { status: number; text: ErrorText } {
  const { status, text } = ERRORS[reason];
  return { status, text: typeof text === 'function' ? text(context) : text };
}

/**
 * Renders the error page for a reason, with the reason's status unless
 * another is given (a 4xx the framework raised that has no reason of its
 * own). Headers (such as Retry-After or Allow) are set by the caller.
 */
export function renderError(config: Config, request: FastifyRequest, reply: FastifyReply, reason: ErrorReason, statusCode?: number): FastifyReply {
  const retryAfter = Number(reply.getHeader('retry-after'));
  const page = errorPage(reason, { retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null, helpUrl: config.helpUrl });
  const status = statusCode ?? page.status;
  return render(reply, status, shellFor(config, request, reply, page.text.title, null), {
    template: 'error',
    model: { statusCode: status, heading: page.text.title, paragraphs: page.text.paragraphs, action: page.text.action },
  });
}

const CSRF_CODES = new Set(['FST_CSRF_MISSING_SECRET', 'FST_CSRF_INVALID_TOKEN']);

/** True for @fastify/csrf-protection's refusals: no CSRF secret in the session, or a token that does not match it. */
export function isCsrfError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CSRF_CODES.has(code);
}

/** The framework's and plugins' own 4xx errors, by status. */
const CLIENT_ERRORS: Readonly<Record<number, ErrorReason>> = { 404: 'not-found', 413: 'too-large', 415: 'unsupported-type', 429: 'rate-limited' };

/** The static files' own refusal (a `..` or other non-canonical path): to a visitor, simply no such page. */
const STATIC_FORBIDDEN = 'FST_STATIC_FORBIDDEN_PATH';

function classify(error: FastifyError | HttpError | RosterUnavailableError): { reason: ErrorReason; statusCode?: number } {
  if (error instanceof HttpError) return { reason: error.reason };
  if (error instanceof RosterUnavailableError) return { reason: error.problem };
  if (isCsrfError(error)) return { reason: 'csrf' };
  if (error.code === STATIC_FORBIDDEN) return { reason: 'not-found' };
  const statusCode = error.statusCode ?? 500;
  if (statusCode >= 400 && statusCode < 500) {
    const reason = CLIENT_ERRORS[statusCode];
    return reason !== undefined ? { reason } : { reason: 'bad-request', statusCode };
  }
  return { reason: 'unexpected' };
}

export function registerErrorHandlers(app: FastifyInstance, config: Config): void {
  app.setErrorHandler((error: FastifyError | HttpError | RosterUnavailableError, request, reply) => {
    const { reason, statusCode } = classify(error);
    if (reason === 'unexpected' || error instanceof RosterUnavailableError) {
      request.log.error({ err: error }, reason === 'unexpected' ? 'request failed' : 'roster unavailable');
    } else if (reason === 'csrf') {
      request.log.warn({ route: request.routeOptions.url }, 'CSRF token missing or invalid: request refused');
    }
    if (error instanceof HttpError) for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    return renderError(config, request, reply, reason, statusCode);
  });

  app.setNotFoundHandler((request, reply) => renderError(config, request, reply, 'not-found'));
}
