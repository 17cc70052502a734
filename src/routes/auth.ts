/** Facilitator sign-in and sign-out. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FacilitatorSessions } from '../http/session.js';
import { rateLimited } from '../http/rate-limit.js';
import { safeLocalPath } from '../http/redirects.js';
import { shellFor } from '../http/shell.js';
import { render, textField, type FieldError, type LoginNotice } from '../http/views.js';
import { asForm, field } from './forms.js';

export const WRONG_TOKEN = 'That facilitator access token was not recognized.';
const TOKEN_HINT = 'Your workshop lead gives facilitators this token. You can paste it.';

// A status region present when the page loads is usually not announced, so the heading (and the title) say it too.
const NOTICES: Record<string, LoginNotice> = {
  signed_out: { heading: 'You have signed out', text: 'You have signed out.' },
  expired: { heading: 'Your session has ended', text: 'Your session has ended. Sign in again to continue.' },
};

interface LoginView {
  status: number;
  next: string | null;
  notice: LoginNotice | null;
  errors: FieldError[];
}

function renderLogin(request: FastifyRequest, reply: FastifyReply, sessions: FacilitatorSessions, view: LoginView) {
  const error = view.errors[0]?.message ?? null;
  const title = view.notice ? `${view.notice.heading} - Facilitator sign-in` : 'Facilitator sign-in';
  return render(reply, view.status, shellFor(request, reply, title, 'login', view.errors.length > 0), {
    template: 'login',
    model: {
      errors: view.errors,
      configured: sessions.configured,
      csrfToken: reply.generateCsrf(),
      next: view.next,
      notice: view.notice,
      // The token is never sent back into the page.
      token: textField('token', 'Facilitator access token', TOKEN_HINT, '', error),
    },
  });
}

export function authRoutes(app: FastifyInstance, sessions: FacilitatorSessions): void {
  app.get('/login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const next = safeLocalPath(query.next);
    if (request.facilitator === 'signed-in') return reply.redirect(next ?? '/dashboard', 303);
    const noticeKey = Object.keys(NOTICES).find((key) => query[key] === '1');
    const notice = request.facilitator === 'expired' ? NOTICES.expired! : noticeKey !== undefined ? NOTICES[noticeKey]! : null;
    return renderLogin(request, reply, sessions, { status: 200, next, notice, errors: [] });
  });

  app.post('/login', { config: rateLimited(app.config), preHandler: app.csrfProtection }, async (request, reply) => {
    const form = asForm(request.body);
    const next = safeLocalPath(form.next);
    if (!sessions.configured) {
      request.log.warn('facilitator sign-in refused: no facilitator token is configured');
      return renderLogin(request, reply, sessions, { status: 403, next, notice: null, errors: [] });
    }
    const token = field(form, 'token');
    if (token === null || token === '') {
      return renderLogin(request, reply, sessions, { status: 400, next, notice: null, errors: [{ field: 'token', message: 'Enter the facilitator access token' }] });
    }
    if (!sessions.tokenMatches(token)) {
      request.log.warn({ ip: request.ip }, 'facilitator sign-in failed');
      return renderLogin(request, reply, sessions, { status: 401, next, notice: null, errors: [{ field: 'token', message: WRONG_TOKEN }] });
    }
    sessions.signIn(request);
    request.log.info({ ip: request.ip }, 'facilitator signed in');
    return reply.redirect(next ?? '/dashboard', 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    if (request.facilitator === 'signed-in') request.log.info('facilitator signed out');
    sessions.signOut(request);
    return reply.redirect('/login?signed_out=1', 303);
  });
}
