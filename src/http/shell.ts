/** The site shell every page is rendered in: title, navigation, sign-out, help. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { isFacilitator } from './session.js';
import type { Section, ShellModel } from './views.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

export function shellFor(request: FastifyRequest, reply: FastifyReply, title: string, section: Section, hasErrors = false): ShellModel {
  const signedIn = isFacilitator(request);
  return {
    title,
    hasErrors,
    section,
    signedIn,
    csrfToken: signedIn ? reply.generateCsrf() : null,
    helpUrl: request.server.config.helpUrl,
  };
}
