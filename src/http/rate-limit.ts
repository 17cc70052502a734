/**
 * Best-effort per-address rate limiting of the registration and sign-in POSTs
 * (@fastify/rate-limit, in memory, bounded by an LRU of addresses). The
 * address is the socket's unless COMPANION_TRUST_PROXY names the proxy.
 */
import type { FastifyInstance } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Config } from '../config.js';

/** How many addresses the limiter remembers at most; the oldest are forgotten first. */
export const RATE_LIMIT_CACHE = 10_000;

export async function registerRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: false,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowSeconds * 1000,
    cache: RATE_LIMIT_CACHE,
    keyGenerator: (request) => request.ip,
    onExceeded: (request) => {
      request.log.warn({ ip: request.ip, route: request.routeOptions.url }, 'rate limit reached: request refused');
    },
  });
}

/** Route options that put a POST route under the limit. */
export function rateLimited(config: Config) {
  return { rateLimit: { max: config.rateLimitMax, timeWindow: config.rateLimitWindowSeconds * 1000 } };
}
