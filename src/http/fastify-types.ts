/**
 * Every augmentation of a library's types, in one place: what this app adds
 * to Fastify's request and what it keeps in the session cookie. Routes get
 * the rest (config, store, sessions) from their AppContext, never from the
 * Fastify instance.
 */
import type { FacilitatorRecord, FacilitatorState } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The facilitator sign-in state, resolved once per request as soon as the session is read. */
    facilitator: FacilitatorState;
  }
}

declare module '@fastify/secure-session' {
  interface SessionData {
    _csrf: string;
    facilitator: FacilitatorRecord;
  }
}
