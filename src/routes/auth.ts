/**
 * Facilitator sign-in and sign-out, the guard that sends anonymous visitors
 * here, and the sign-in URL's format (`next`, and the `expired` and
 * `signed_out` notices).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { csrfToken } from '../http/csrf.js';
import { rateLimited } from '../http/rate-limit.js';
import { safeLocalPath } from '../http/redirects.js';
import { shellFor } from '../http/shell.js';
import { render, textField, type FieldError, type LoginNotice } from '../http/views.js';
import { field, formFields, queryFields } from '../http/fields.js';
import type { AppContext } from './context.js';

export const WRONG_TOKEN = 'That facilitator access token was not recognized.';
const TOKEN_HINT = 'Your workshop lead gives facilitators this token. You can paste it.';

// A status region present when the page loads is usually not announced, so the heading (and the title) say it too.
const NOTICES = {
  signed_out: { heading: 'You have signed out', text: 'You have signed out.' },
  expired: { heading: 'Your session has ended', text: 'Your session has ended. Sign in again to continue.' },
} as const satisfies Record<string, LoginNotice>;
type Notice = keyof typeof NOTICES;

/** The sign-in page's address, with a notice to show and a local path to go back to afterwards. */
export function signInUrl(notice: Notice | null, next: string | null = null): string {
  const query = new URLSearchParams();
  if (notice !== null) query.set(notice, '1');
  if (next !== null) query.set('next', next);
  const text = query.toString();
  return text === '' ? '/login' : `/login?${text}`;
}

/** preHandler: anonymous visitors go to sign-in, coming back here afterwards. */
export async function requireFacilitator(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.facilitator !== 'signed-in') {
    await reply.redirect(signInUrl(request.facilitator === 'expired' ? 'expired' : null, request.url), 303);
  }
}

/**
 * preHandler for a form's POST: an anonymous visitor (or one whose session
 * ended) goes to sign-in and comes back to the page the form was on, named
 * by `back`, rather than to the POST's own address, which has no page.
 */
export function requireFacilitatorReturningTo(back: (request: FastifyRequest) => string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.facilitator !== 'signed-in') {
      await reply.redirect(signInUrl(request.facilitator === 'expired' ? 'expired' : null, back(request)), 303);
    }
  };
}

interface LoginView {
  status: number;
  next: string | null;
  notice: LoginNotice | null;
  errors: FieldError[];
}

function renderLogin({ config, sessions }: AppContext, request: FastifyRequest, reply: FastifyReply, view: LoginView) {
  const error = view.errors[0]?.message ?? null;
  const title = view.notice ? `${view.notice.heading} - Facilitator sign-in` : 'Facilitator sign-in';
  return render(reply, view.status, shellFor(config, request, reply, title, 'login', view.errors.length > 0), {
    template: 'login',
    model: {
      errors: view.errors,
      configured: sessions.configured,
      csrfToken: csrfToken(reply),
      next: view.next,
      notice: view.notice,
      // The token is never sent back into the page.
      token: textField('token', 'Facilitator access token', TOKEN_HINT, '', error),
    },
  });
}

export function authRoutes(app: FastifyInstance, context: AppContext): void {
  const { config, sessions } = context;
  app.get('/login', async (request, reply) => {
    const query = queryFields(request);
    const next = safeLocalPath(field(query, 'next'));
    if (request.facilitator === 'signed-in') return reply.redirect(next ?? '/dashboard', 303);
    const noticeKey = (Object.keys(NOTICES) as Notice[]).find((key) => field(query, key) === '1');
    const notice = request.facilitator === 'expired' ? NOTICES.expired : noticeKey !== undefined ? NOTICES[noticeKey] : null;
    return renderLogin(context, request, reply, { status: 200, next, notice, errors: [] });
  });

  app.post('/login', { config: rateLimited(config), preHandler: app.csrfProtection }, async (request, reply) => {
    const form = formFields(request);
    const next = safeLocalPath(field(form, 'next'));
    if (!sessions.configured) {
      request.log.warn('facilitator sign-in refused: no facilitator token is configured');
      return renderLogin(context, request, reply, { status: 403, next, notice: null, errors: [] });
    }
    const token = field(form, 'token');
    if (token === null || token === '') {
      return renderLogin(context, request, reply, { status: 400, next, notice: null, errors: [{ field: 'token', message: 'Enter the facilitator access token' }] });
    }
    if (!sessions.tokenMatches(token)) {
      request.log.warn({ ip: request.ip }, 'facilitator sign-in failed');
      return renderLogin(context, request, reply, { status: 401, next, notice: null, errors: [{ field: 'token', message: WRONG_TOKEN }] });
    }
    sessions.signIn(request);
    request.log.info({ ip: request.ip }, 'facilitator signed in');
    return reply.redirect(next ?? '/dashboard', 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    if (request.facilitator === 'signed-in') request.log.info('facilitator signed out');
    await sessions.signOut(request);
    return reply.redirect(signInUrl('signed_out'), 303);
  });
}
