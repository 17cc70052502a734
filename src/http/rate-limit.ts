/**
 * Best-effort per-address rate limiting of the registration, sign-in and
 * facilitator operations' POSTs (@fastify/rate-limit with its own in-memory
 * store, bounded through its public `cache` option: each limited route
 * remembers at most RATE_LIMIT_CACHE addresses, the least recently seen
 * forgotten first).
 *
 * The address is the socket's unless COMPANION_TRUST_PROXY names the proxy;
 * then it is the forwarded client address, parsed: a port is stripped, and a
 * value that is not an IP address at all falls back to the socket's, so a
 * client cannot make itself new budgets by rewording its address
 * (`8.8.8.8:1`, `010.1.1.1`). IPv6 addresses are grouped by their /56
 * prefix, so one network cannot dodge the limit by rotating addresses.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { Config } from '../config.js';

/** How many addresses the limiter remembers at most per route; the oldest are forgotten first. */
export const RATE_LIMIT_CACHE = 10_000;

/** IPv6 clients are counted per /56, the smallest block commonly given to one customer. */
export const IPV6_PREFIX = 56;

/** An IP address from `a.b.c.d`, `a.b.c.d:port`, `addr6`, `[addr6]` or `[addr6]:port`; null for anything else. */
export function parseAddress(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (isIP(raw) !== 0) return raw;
  const match = /^(?:([0-9.]+)|\[([^\]]+)\])(?::(\d{1,5}))?$/.exec(raw);
  if (match === null || Number(match[3] ?? 0) > 65_535) return null;
  const [, v4, v6] = match;
  if (v4 !== undefined) return match[3] !== undefined && isIP(v4) === 4 ? v4 : null;
  return v6 !== undefined && isIP(v6) === 6 ? v6 : null;
}

/** The rate-limit key: the client's parsed address (else the socket's), IPv6 reduced to its /56. */
export function rateLimitKey(request: FastifyRequest): string {
  const address = parseAddress(request.ip) ?? parseAddress(request.socket.remoteAddress) ?? 'unknown';
  return normalizeIP(address, IPV6_PREFIX);
}

export async function registerRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: false,
    ...rateLimited(config).rateLimit,
    keyGenerator: rateLimitKey,
    onExceeded: (request, key) => {
      request.log.warn({ ip: request.ip, key, route: request.routeOptions.url }, 'rate limit reached: request refused');
    },
  });
}

/** Route options that put a POST route under the limit, with its own bounded memory of addresses. */
export function rateLimited(config: Config) {
  return { rateLimit: { max: config.rateLimitMax, timeWindow: config.rateLimitWindowSeconds * 1000, cache: RATE_LIMIT_CACHE } };
}

/**
 * The same for a facilitator operation's POST, with its own (higher) limit:
 * a facilitator working through a cohort sends many more forms than a
 * learner registering, and is already signed in.
 */
export function operationsRateLimited(config: Config) {
  return { rateLimit: { max: config.operationsRateLimitMax, timeWindow: config.rateLimitWindowSeconds * 1000, cache: RATE_LIMIT_CACHE } };
}
