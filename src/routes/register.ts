/** GET / and the registration pages: the form, its validation, and the success page. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  COHORT_ID_MAX_LENGTH,
  USERNAME_MAX_LENGTH,
  isPath,
  isValidCohortId,
  isValidUsername,
  listedCohorts,
  cohortIdFor,
  cohortLabel,
  normalizeHandle,
  type Cohort,
  type LearnerPath,
  type Registration,
  type Roster,
} from '../roster/contract.js';
import { rateLimited } from '../http/rate-limit.js';
import { isCsrfError } from '../http/errors.js';
import { csrfToken } from '../http/csrf.js';
import { derivedFrom } from '../lib/derived.js';
import { isFacilitator } from '../http/session.js';
import { anonymousShell, shellFor } from '../http/shell.js';
import { radioGroup, render, renderToString, textField, type FieldError, type RegisterModel } from '../http/views.js';
import { timeModel } from './time.js';
import { field, formFields, queryFields, shown, type Fields } from '../http/fields.js';
import type { AppContext } from './context.js';
import type { Config } from '../config.js';

const PATH_OPTIONS: Array<{ value: LearnerPath; label: string; hint: string }> = [
  { value: 'day1-day2', label: 'Both days', hint: 'Day 1 covers the GitHub basics; day 2 builds on them. Choose this if you are new to GitHub.' },
  { value: 'day2-only', label: 'Day 2 only', hint: 'Choose this if you already create issues and pull requests on GitHub with your screen reader or keyboard.' },
];

interface Submitted {
  handle: string | null;
  cohort: string | null;
  path: string | null;
}

type Validation = { ok: true; registration: Registration } | { ok: false; errors: FieldError[] };

function handleError(raw: string | null): string | null {
  if (raw === null) return 'Enter your GitHub username once';
  const handle = normalizeHandle(raw);
  if (handle === '') return 'Enter your GitHub username';
  if (handle.length > USERNAME_MAX_LENGTH) return `GitHub username must be ${USERNAME_MAX_LENGTH} characters or fewer`;
  if (!isValidUsername(handle)) {
    return 'GitHub username must only include letters, numbers and single hyphens, and cannot start or end with a hyphen';
  }
  return null;
}

function cohortError(raw: string | null, cohorts: readonly Cohort[]): string | null {
  if (cohorts.length > 0) {
    if (raw === null || raw === '') return 'Select your cohort';
    return cohortIdFor(raw, cohorts) === null ? 'Select one of the cohorts listed' : null;
  }
  const value = raw?.trim() ?? null;
  if (value === null) return 'Enter your cohort once';
  if (value === '') return 'Enter your cohort';
  if (value.length > COHORT_ID_MAX_LENGTH) return `Cohort must be ${COHORT_ID_MAX_LENGTH} characters or fewer`;
  if (!/^[A-Za-z0-9]/.test(value)) return 'Cohort must start with a letter or a number';
  if (!isValidCohortId(value)) return 'Cohort must only include letters, numbers, hyphens (-), underscores (_) and full stops (.)';
  return null;
}

/** Both days is the contract's default, so a form without a choice means that. */
function pathValue(raw: string | null): string | null {
  return raw === '' ? 'day1-day2' : raw;
}

function pathError(raw: string | null): string | null {
  return isPath(pathValue(raw)) ? null : 'Select which days you will attend';
}

export function validateRegistration(submitted: Submitted, cohorts: readonly Cohort[]): Validation {
  const errors: FieldError[] = [];
  const push = (fieldName: string, message: string | null) => {
    if (message !== null) errors.push({ field: fieldName, message });
  };
  push('github_handle', handleError(submitted.handle));
  push('cohort_id', cohortError(submitted.cohort, cohorts));
  push('path', pathError(submitted.path));
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    registration: {
      github_handle: normalizeHandle(submitted.handle!),
      // A listed cohort's own id, or a typed id in lower case (repository names ignore case).
      cohort_id: cohortIdFor(submitted.cohort!, cohorts)!,
      path: pathValue(submitted.path) as LearnerPath,
    },
  };
}

/**
 * The form's model. `errors` are the fields' own errors (in the summary and
 * at each field); `notices` are in the summary only, such as the form having
 * expired, which is not the fault of any field.
 */
function formModel<Token extends string>(csrfToken: Token, cohorts: readonly Cohort[], submitted: Submitted, errors: FieldError[], notices: string[] = []): RegisterModel<Token> {
  const errorFor = (name: string) => errors.find((e) => e.field === name)?.message ?? null;
  const cohortValue = shown(submitted.cohort);
  return {
    errors,
    notices,
    csrfToken,
    handle: textField('github_handle', 'GitHub username', 'The name you sign in to GitHub with, for example ada-lovelace. Do not include your email address.', shown(submitted.handle), errorFor('github_handle')),
    cohort:
      cohorts.length > 0
        ? {
            kind: 'choice',
            group: radioGroup(
              'cohort_id',
              'Which cohort are you joining?',
              null,
              errorFor('cohort_id'),
              cohorts.map((c) => {
                const opens = timeModel(c.opens_at);
                return { value: c.cohort_id, label: cohortLabel(c), hint: opens ? `Starts ${opens.text}` : null };
              }),
              cohortValue.trim(),
            ),
          }
        : {
            kind: 'text',
            field: textField('cohort_id', 'Cohort', 'The cohort name your facilitator gave you, for example spring-2026.', cohortValue, errorFor('cohort_id')),
          },
    path: radioGroup('path', 'Which days will you attend?', 'Both days is right for most people.', errorFor('path'), PATH_OPTIONS, shown(submitted.path)),
  };
}

const FORM_TITLE = 'Register for the GLOW workshop';

/**
 * Keeps the session (and so its CSRF secret) alive while a visitor is on the
 * form: secure-session refreshes the session's timestamp, on which its
 * `expiry` counts, only when the session changes, so a session made hours
 * earlier would otherwise expire under a form just opened.
 */
function keepSessionAlive(request: FastifyRequest): void {
  request.session.touch();
}

function renderForm(config: Config, request: FastifyRequest, reply: FastifyReply, status: number, cohorts: readonly Cohort[], submitted: Submitted, errors: FieldError[], notices: string[] = []) {
  keepSessionAlive(request);
  const model = formModel(csrfToken(reply), cohorts, submitted, errors, notices);
  const hasErrors = errors.length + notices.length > 0;
  return render(reply, status, shellFor(config, request, reply, FORM_TITLE, 'register', hasErrors), { template: 'register', model });
}

/** Said when a form comes back without a valid CSRF token: the form is shown again, with what was typed. */
export const FORM_EXPIRED = 'Your form had expired, so nothing was saved. Check your answers and send the form again.';

const BLANK_FORM: Submitted = { handle: '', cohort: '', path: 'day1-day2' };

/** Stands in for the CSRF token in a cached page: nothing a person or the roster can put in a page looks like it. */
const TOKEN_SLOT = `csrf-slot-${randomBytes(12).toString('hex')}`;

/**
 * The blank form as an anonymous visitor sees it depends only on the roster's
 * cohorts, so it is rendered once per roster read and each visitor gets that
 * page with their own CSRF token put in its one slot. (Signed-in facilitators,
 * whose pages carry a sign-out form, get a normal render.)
 */
function blankFormCache(app: FastifyInstance, config: Config): (roster: Roster) => Promise<readonly [string, string]> {
  const pages = derivedFrom((roster: Roster) => {
    const model = formModel(TOKEN_SLOT, listedCohorts(roster), BLANK_FORM, []);
    const page = renderToString(app, anonymousShell(config, FORM_TITLE, 'register'), { template: 'register', model }).then((html) => {
      const parts = html.split(TOKEN_SLOT);
      if (parts.length !== 2) throw new Error('the registration page must hold exactly one CSRF token');
      return [parts[0]!, parts[1]!] as const;
    });
    page.catch(() => pages.forget(roster));
    return page;
  });
  return (roster) => pages.get(roster);
}

function submittedFrom(form: Fields): Submitted {
  return { handle: field(form, 'github_handle'), cohort: field(form, 'cohort_id'), path: field(form, 'path') };
}

export function registerRoutes(app: FastifyInstance, { config, store }: AppContext): void {
  app.get('/', async (_request, reply) => reply.redirect('/register', 302));

  const blankForm = blankFormCache(app, config);
  app.get('/register', async (request, reply) => {
    const roster = await store.read();
    if (isFacilitator(request)) return renderForm(config, request, reply, 200, listedCohorts(roster), BLANK_FORM, []);
    const [before, after] = await blankForm(roster);
    keepSessionAlive(request);
    // The token is base64url, so it needs no escaping inside the attribute.
    return reply.code(200).type('text/html; charset=utf-8').send(`${before}${csrfToken(reply)}${after}`);
  });

  app.post('/register', {
    config: rateLimited(config),
    preHandler: app.csrfProtection,
    // A form sent without a valid CSRF token (its session expired, or the
    // cookie is gone, or the token was not this session's) writes nothing, as
    // everywhere; here the person gets the form back with what they typed, a
    // fresh token and a summary saying what happened, rather than an error
    // page whose only way on loses their answers. Other errors go on to the
    // app's error handler.
    errorHandler: async (error, request, reply) => {
      if (!isCsrfError(error)) throw error;
      request.log.warn({ route: request.routeOptions.url }, 'CSRF token missing or invalid: nothing saved, registration form shown again');
      const submitted = submittedFrom(formFields(request));
      const cohorts = listedCohorts(await store.read());
      const validation = validateRegistration(submitted, cohorts);
      return renderForm(config, request, reply, 400, cohorts, submitted, validation.ok ? [] : validation.errors, [FORM_EXPIRED]);
    },
  }, async (request, reply) => {
    const submitted = submittedFrom(formFields(request));
    const cohorts = listedCohorts(await store.read());
    const validation = validateRegistration(submitted, cohorts);
    if (!validation.ok) return renderForm(config, request, reply, 400, cohorts, submitted, validation.errors);

    const { registration } = validation;
    const result = await store.register(registration);
    if (result.outcome === 'unknown-cohort') {
      // The cohort list changed between reading the form and writing the roster.
      const fresh = listedCohorts(await store.read());
      return renderForm(config, request, reply, 400, fresh, submitted, [{ field: 'cohort_id', message: 'Select one of the cohorts listed' }]);
    }
    request.log.info(
      { github_handle: registration.github_handle, cohort_id: registration.cohort_id, new: result.outcome === 'created', outcome: result.outcome },
      'registration saved',
    );
    return reply.redirect(`/register/success?handle=${encodeURIComponent(registration.github_handle)}`, 303);
  });

  app.get('/register/success', async (request, reply) => {
    const raw = field(queryFields(request), 'handle');
    const handle = raw !== null && isValidUsername(raw) ? raw : null;
    return render(reply, 200, shellFor(config, request, reply, 'Registration received', 'register'), { template: 'success', model: { handle } });
  });
}
