/**
 * One error page for every status a person can meet, rendered in the site
 * shell with a message they can act on and no internals. The details go to
 * the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { RosterUnavailableError } from '../roster/store.js';
import { shellFor } from './shell.js';
import { render, type ErrorModel } from './views.js';

/** An error that is answered with the error page for its status. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly statusCode: number, readonly reason: string, readonly headers: Record<string, string> = {}) {
    super(reason);
  }
}

interface ErrorText {
  title: string;
  paragraphs: string[];
  action: ErrorModel['action'];
}

const HOME = { href: '/register', label: 'Go to the registration page' };

function textFor(statusCode: number, reason: string, retryAfter: string | undefined): ErrorText {
  switch (statusCode) {
    case 400:
      if (reason === 'csrf') {
        return {
          title: 'Your form could not be accepted',
          paragraphs: [
            'The form had expired or did not come from this site, so nothing was saved.',
            'Go back, reload the page to get a fresh form, and send it again. If this keeps happening, check that your browser accepts cookies from this site.',
          ],
          action: HOME,
        };
      }
      return { title: 'The request could not be understood', paragraphs: ['Nothing was saved. Go back and try again.'], action: HOME };
    case 403:
      return {
        title: 'This request was refused',
        paragraphs: ['Forms on this site can only be sent from this site\'s own pages, so nothing was saved.', 'Open the page on this site and send the form from there.'],
        action: HOME,
      };
    case 404:
      return { title: 'Page not found', paragraphs: ['There is no page at this address. If you typed it, check that it is right.'], action: HOME };
    case 405:
      return { title: 'That action is not available here', paragraphs: ['This page cannot be used that way. Open it from a link on this site instead.'], action: HOME };
    case 413:
      return { title: 'What you sent is too large', paragraphs: ['The form was larger than this site accepts, so nothing was saved. Go back and shorten what you entered.'], action: HOME };
    case 415:
      return { title: 'The form could not be read', paragraphs: ['The form was not sent in a format this site accepts, so nothing was saved.'], action: HOME };
    case 429: {
      const minutes = retryAfter ? Math.max(1, Math.ceil(Number(retryAfter) / 60)) : null;
      return {
        title: 'Too many attempts',
        paragraphs: [
          'There have been too many attempts from your connection in a short time, so this one was not accepted and nothing was saved.',
          minutes === null ? 'Wait a few minutes, then try again.' : `Wait ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}, then try again.`,
        ],
        action: null,
      };
    }
    case 503:
      if (reason === 'unreadable') {
        return {
          title: 'The roster file could not be read',
          paragraphs: [
            'The workshop roster is damaged or in a format this site does not understand, so nothing can be saved or shown here for now. Nothing was changed.',
            'You can still register through the workshop\'s GitHub issue form (see Help at the bottom of this page). Facilitators have been told the details in the server log.',
          ],
          action: null,
        };
      }
      return {
        title: 'The roster could not be saved',
        paragraphs: [
          reason === 'busy'
            ? 'The workshop roster is busy, so your registration was not saved. Nothing was changed.'
            : 'The workshop roster could not be written, so your registration was not saved. Nothing was changed.',
          'Try again in a minute. You can also register through the workshop\'s GitHub issue form (see Help at the bottom of this page).',
        ],
        action: null,
      };
    default:
      return {
        title: 'Sorry, something went wrong',
        paragraphs: ['The site met a problem it did not expect, and what you asked for may not have happened. Try again in a minute.'],
        action: HOME,
      };
  }
}

/** Renders the error page; headers (such as Retry-After or Allow) are set by the caller. */
export function renderError(config: Config, request: FastifyRequest, reply: FastifyReply, statusCode: number, reason = ''): FastifyReply {
  const retryAfter = reply.getHeader('retry-after');
  const text = textFor(statusCode, reason, retryAfter === undefined ? undefined : String(retryAfter));
  return render(reply, statusCode, shellFor(config, request, reply, text.title, null), {
    template: 'error',
    model: { statusCode, heading: text.title, paragraphs: text.paragraphs, action: text.action },
  });
}

const CSRF_CODES = new Set(['FST_CSRF_MISSING_SECRET', 'FST_CSRF_INVALID_TOKEN']);

function classify(error: FastifyError | HttpError | RosterUnavailableError): { statusCode: number; reason: string } {
  if (error instanceof HttpError) return { statusCode: error.statusCode, reason: error.reason };
  if (error instanceof RosterUnavailableError) return { statusCode: 503, reason: error.problem };
  if (error.code && CSRF_CODES.has(error.code)) return { statusCode: 400, reason: 'csrf' };
  const statusCode = error.statusCode ?? 500;
  if (statusCode >= 400 && statusCode < 500) return { statusCode, reason: error.code ?? '' };
  return { statusCode: statusCode === 503 ? 503 : 500, reason: '' };
}

export function registerErrorHandlers(app: FastifyInstance, config: Config): void {
  app.setErrorHandler((error: FastifyError | HttpError | RosterUnavailableError, request, reply) => {
    const { statusCode, reason } = classify(error);
    if (statusCode >= 500) {
      request.log.error({ err: error }, statusCode === 503 ? 'roster unavailable' : 'request failed');
    } else if (reason === 'csrf') {
      request.log.warn({ route: request.routeOptions.url }, 'CSRF token missing or invalid: request refused');
    }
    if (error instanceof HttpError) for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    return renderError(config, request, reply, statusCode, reason);
  });

  app.setNotFoundHandler((request, reply) => renderError(config, request, reply, 404));
}
