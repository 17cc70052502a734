/**
 * 405 answers from the routes actually registered: while the routes are
 * added, every method each path answers is noted (Fastify's onRoute hook);
 * afterwards each such path gets a catch-all for the other methods, which
 * answers 405 with an `Allow` header listing what it does answer. A new
 * route gets its 405 without any list to keep up to date.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';

/** The methods a 405 is given for; anything else (CONNECT, TRACE...) is left to the router's 404. */
const ROUTABLE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface MethodTracker {
  /** Stops noting routes and adds the 405 catch-alls; call once, after every route is added. */
  answerOtherMethods(): void;
}

/** Starts noting routes as they are added; wildcard and parametric routes (static files) are left to the 404 page. */
export function trackMethods(app: FastifyInstance): MethodTracker {
  const methods = new Map<string, Set<string>>();
  let tracking = true;
  app.addHook('onRoute', (route) => {
    if (!tracking || /[*:]/.test(route.url)) return;
    const known = methods.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) known.add(method);
    methods.set(route.url, known);
  });
  return {
    answerOtherMethods() {
      tracking = false;
      for (const [url, allowed] of methods) {
        if (allowed.has('GET')) allowed.add('HEAD');
        const others = ROUTABLE_METHODS.filter((m) => !allowed.has(m));
        if (others.length === 0) continue;
        const allow = ROUTABLE_METHODS.filter((m) => allowed.has(m)).join(', ');
        app.route({
          method: others,
          url,
          handler: async () => {
            throw new HttpError('method', { allow });
          },
        });
      }
    },
  };
}
