/**
 * Sessions: an encrypted, signed cookie (@fastify/secure-session), holding
 * the CSRF secret for every visitor and, once signed in, the facilitator's
 * sign-in record. Nothing is stored on the server except the short list of
 * signed-out sessions, kept beside the roster (so that every process sharing
 * it honours a sign-out, after a restart too) only until they would have
 * expired anyway.
 *
 * A facilitator session ends when it has been idle too long, when it reaches
 * its absolute lifetime, when the facilitator token changes, or at sign-out.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifySecureSession from '@fastify/secure-session';
import type { Config } from '../config.js';
import { SignedOutList } from './signed-out.js';

export interface FacilitatorRecord {
  /** Session id, to refuse a signed-out cookie. */
  sid: string;
  /** Signed in at (ms). */
  since: number;
  /** Last seen at (ms). */
  seen: number;
  /** Which facilitator token the session was opened with. */
  token: string;
}

export type FacilitatorState = 'signed-in' | 'anonymous' | 'expired';

export class FacilitatorSessions {
  private readonly hmacKey: Buffer;
  private readonly tokenId: string;
  private readonly idleMs: number;
  private readonly maxMs: number;
  private readonly signedOut: SignedOutList;

  constructor(private readonly config: Config, private readonly now: () => number = Date.now) {
    this.signedOut = SignedOutList.besideRoster(config.rosterPath, now);
    this.hmacKey = randomBytes(32);
    this.tokenId = createHmac('sha256', sessionKey(config)).update(`facilitator-token:${config.facilitatorToken}`).digest('base64url');
    this.idleMs = config.sessionIdleMinutes * 60_000;
    this.maxMs = config.sessionMaxHours * 3_600_000;
  }

  get configured(): boolean {
    return this.config.facilitatorToken !== '';
  }

  /**
   * Compares a submitted token with the configured one in constant time: both
   * are reduced to HMACs of equal length first, so neither their contents nor
   * their lengths change how long the comparison takes.
   */
  tokenMatches(submitted: string): boolean {
    const a = createHmac('sha256', this.hmacKey).update(submitted).digest();
    const b = createHmac('sha256', this.hmacKey).update(this.config.facilitatorToken).digest();
    return timingSafeEqual(a, b) && this.configured;
  }

  /** Starts a fresh session (new CSRF secret too) for a signed-in facilitator. */
  signIn(request: FastifyRequest): void {
    request.session.regenerate();
    const now = this.now();
    request.session.set('facilitator', { sid: randomBytes(16).toString('base64url'), since: now, seen: now, token: this.tokenId });
  }

  /**
   * Ends the session; its cookie is refused from now on, even if replayed,
   * by this process and every other one sharing the roster.
   */
  async signOut(request: FastifyRequest): Promise<void> {
    const record = request.session.get('facilitator');
    request.session.delete();
    if (record && typeof record.sid === 'string') await this.signedOut.add(record.sid, record.since + this.maxMs);
  }

  /** Checks the session, ending it if it is no longer valid; refreshes the idle timer. */
  async check(request: FastifyRequest): Promise<FacilitatorState> {
    const record = request.session.get('facilitator');
    if (!record || typeof record !== 'object') return 'anonymous';
    const now = this.now();
    const valid =
      this.configured &&
      record.token === this.tokenId &&
      now - record.since < this.maxMs &&
      now - record.seen < this.idleMs &&
      !(await this.signedOut.has(record.sid));
    if (!valid) {
      // Forget the sign-in but keep the CSRF secret, so the form being sent still works.
      request.session.set('facilitator', undefined);
      return 'expired';
    }
    // Refresh at most once a minute, so most responses need no new cookie.
    if (now - record.seen >= 60_000) request.session.set('facilitator', { ...record, seen: now });
    return 'signed-in';
  }
}

/** The 32-byte session key, derived from COMPANION_SECRET_KEY. */
function sessionKey(config: Config): Buffer {
  return Buffer.from(hkdfSync('sha256', config.secretKey, 'glow-companion', 'session-cookie', 32));
}

export function cookieName(config: Config): string {
  // The __Host- prefix pins the cookie to this host and path, over HTTPS only.
  return config.secureCookies ? '__Host-glow_session' : 'glow_session';
}

export async function registerSession(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(fastifySecureSession, {
    key: sessionKey(config),
    cookieName: cookieName(config),
    // The cookie cannot outlive a facilitator session's absolute lifetime.
    expiry: config.sessionMaxHours * 3600,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: config.secureCookies,
    },
  });
}

export function isFacilitator(request: FastifyRequest): boolean {
  return request.facilitator === 'signed-in';
}

/**
 * Resolves the facilitator state once per request, as soon as the session
 * cookie is decoded (secure-session does that in its own onRequest hook, so
 * this must be registered right after it): every page, an error page from a
 * later onRequest hook, the body parser or the rate limiter included, then
 * shows the header that matches who is signed in.
 */
export function decorateFacilitator(app: FastifyInstance, sessions: FacilitatorSessions): void {
  app.decorateRequest('facilitator', 'anonymous');
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    request.facilitator = await sessions.check(request);
  });
}
