/**
 * Cross-site request defences for every state-changing request:
 *
 * 1. Fetch metadata and Origin (onRequest, before the body is read): a POST
 *    the browser marks as cross-site (`Sec-Fetch-Site`), or, where that header
 *    is absent, one whose `Origin` names another site, is refused with 403.
 *    `Origin: null` alone is not a refusal; the CSRF token still decides.
 * 2. A per-session CSRF token (@fastify/csrf-protection, field `csrf_token`),
 *    checked in constant time by `app.csrfProtection`, which POST routes use
 *    as a preHandler (the token is in the parsed body). A failure reaches the
 *    error handler, which answers with the 400 page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCsrf from '@fastify/csrf-protection';
import { HttpError } from './errors.js';
import { perRequestValue, type PerRequest } from '../lib/derived.js';
import { field, formFields } from './fields.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function registerCsrf(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/secure-session',
    getToken: (request: FastifyRequest) => field(formFields(request), 'csrf_token') ?? '',
  });
}

function crossSiteReason(request: FastifyRequest): string | null {
  const fetchSite = request.headers['sec-fetch-site'];
  if (typeof fetchSite === 'string') {
    return fetchSite === 'same-origin' || fetchSite === 'none' ? null : `Sec-Fetch-Site: ${fetchSite}`;
  }
  const origin = request.headers.origin;
  if (origin === undefined || origin === 'null') return null;
  try {
    // Normalise this site's host with the Origin's scheme, so default ports compare equal.
    const from = new URL(origin);
    const self = new URL(`${from.protocol}//${request.host}`);
    return from.host === self.host ? null : `Origin ${origin} is not this site`;
  } catch {
    return 'unparseable Origin';
  }
}

export function registerCrossSiteGuard(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (SAFE_METHODS.has(request.method)) return;
    const reason = crossSiteReason(request);
    if (reason !== null) {
      request.log.warn({ reason }, 'cross-site request refused');
      throw new HttpError('cross-site');
    }
  });
}

/** This visitor's CSRF token for a form: a per-request value, never cached across visitors. */
export function csrfToken(reply: FastifyReply): PerRequest<string> {
  return perRequestValue(reply.generateCsrf());
}
