/**
 * Best-effort per-address rate limiting of the registration and sign-in POSTs
 * (@fastify/rate-limit, in memory, bounded by an LRU of addresses). The
 * address is the socket's unless COMPANION_TRUST_PROXY names the proxy.
 */
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Config } from '../config.js';

interface StoreParams {
  continueExceeding: boolean;
  exponentialBackoff: boolean;
}
interface LocalStoreInstance {
  lru: { size: number };
}
type LocalStoreClass = new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => LocalStoreInstance;
// The plugin's own in-memory store, used as it is; subclassed only to size it and to count its entries.
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as LocalStoreClass;

/** How many addresses the limiter remembers at most per route; the oldest are forgotten first. */
export const RATE_LIMIT_CACHE = 10_000;

export async function registerRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  // The plugin gives each limited route a child of this store; each child is bounded too.
  const stores: LocalStoreInstance[] = [];
  class BoundedStore extends LocalStore {
    constructor(params: StoreParams) {
      super(params.continueExceeding, params.exponentialBackoff, RATE_LIMIT_CACHE);
      stores.push(this);
    }
    child(params: StoreParams): BoundedStore {
      return new BoundedStore(params);
    }
  }
  app.decorate('rateLimitEntries', () => stores.reduce((sum, store) => sum + store.lru.size, 0));
  await app.register(fastifyRateLimit, {
    global: false,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowSeconds * 1000,
    store: BoundedStore as never,
    // The plugin's own key: request.ip (the socket's address unless a trusted
    // proxy is configured), with IPv6 addresses grouped by their /56 prefix so
    // one network cannot dodge the limit by rotating addresses.
    ipv6Subnet: 56,
    onExceeded: (request) => {
      request.log.warn({ ip: request.ip, route: request.routeOptions.url }, 'rate limit reached: request refused');
    },
  });
}

/** Route options that put a POST route under the limit. */
export function rateLimited(config: Config) {
  return { rateLimit: { max: config.rateLimitMax, timeWindow: config.rateLimitWindowSeconds * 1000 } };
}
