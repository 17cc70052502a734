/**
 * Security headers on every response, errors included (@fastify/helmet plus
 * the two headers it does not set). Registered first, so they are in place
 * before anything else can answer.
 */
import type { FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import type { Config } from '../config.js';

export const PERMISSIONS_POLICY = 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()';

export async function registerSecurityHeaders(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'style-src': ["'self'"],
        'img-src': ["'self'"],
        'script-src': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        'object-src': ["'none'"],
        ...(config.secureCookies ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: config.secureCookies ? { maxAge: 31_536_000, includeSubDomains: false } : false,
    xPoweredBy: true,
  });
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('permissions-policy', PERMISSIONS_POLICY);
  });
  // Every page may carry a CSRF token, a sign-out form or roster data: none is stored by any cache.
  // Only a static asset actually served may be cached; an error page under /static/ is a page like any other.
  app.addHook('onSend', async (request, reply) => {
    if (!isStaticAsset(request.routeOptions.url, reply.statusCode)) reply.header('cache-control', 'no-store');
  });
}

/** Where the static assets (public/) are served. */
export const STATIC_PREFIX = '/static/';
const STATIC_ROUTE = `${STATIC_PREFIX}*`;
const ASSET_STATUSES = new Set([200, 206, 304]);

function isStaticAsset(route: string | undefined, statusCode: number): boolean {
  return route === STATIC_ROUTE && ASSET_STATUSES.has(statusCode);
}
