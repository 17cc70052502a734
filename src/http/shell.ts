/** The site shell every page is rendered in: title, navigation, sign-out, help. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { isFacilitator } from './session.js';
import { csrfToken } from './csrf.js';
import type { AnonymousShellModel, Section, ShellModel } from './views.js';

/** The shell as anyone who is not signed in sees it (no sign-out form, so nothing per session). */
export function anonymousShell(config: Config, title: string, section: Section, hasErrors = false): AnonymousShellModel {
  return { title, hasErrors, section, signedIn: false, csrfToken: null, helpUrl: config.helpUrl };
}

export function shellFor(config: Config, request: FastifyRequest, reply: FastifyReply, title: string, section: Section, hasErrors = false): ShellModel {
  const shell = anonymousShell(config, title, section, hasErrors);
  return isFacilitator(request) ? { ...shell, signedIn: true, csrfToken: csrfToken(reply) } : shell;
}
