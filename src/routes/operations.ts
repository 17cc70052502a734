/**
 * Facilitator operations over HTTP, in three steps, none of which needs
 * script:
 *
 * 1. `POST /operations/confirm`: a form on the learner's page (one learner)
 *    or the dashboard (the learners selected there, or starting provisioning
 *    for everyone waiting) asks for an operation. Nothing is done yet: the
 *    answer is a page that says, learner by learner, what will happen and
 *    who will see it, with a form to confirm. A form with a mistake (no
 *    learner selected, no operation chosen, notes too long) comes back as
 *    its own page with the error summary, what was chosen kept.
 * 2. `POST /operations/run`: the confirmation. The operation is done (the
 *    roster read again, so what changed meanwhile is taken into account),
 *    each learner's outcome goes to the log as an audit line, the result is
 *    kept, and the answer is a 303 to the result page.
 * 3. `GET /operations/results/{id}`: what was done and what failed, learner
 *    by learner, in words, the outcome in a status region.
 *
 * Both POSTs are for signed-in facilitators only (anyone else is sent to
 * sign in, and comes back to the page the form was on), carry the CSRF
 * token, and are rate limited.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NOTES_MAX_LENGTH, isProvisionState, learnerKey, learnerNotes, learnerProvisionState, normalizeHandle, type Learner, type ProvisionState, type Roster } from '../roster/contract.js';
import { field, fieldList, formFields, type Fields } from '../http/fields.js';
import { HttpError } from '../http/errors.js';
import { operationsRateLimited } from '../http/rate-limit.js';
import { safeLocalPath } from '../http/redirects.js';
import { shellFor } from '../http/shell.js';
import { render, type FieldError, type OperationConfirmModel, type OperationPlanItem, type OperationResultItem, type OperationResultModel } from '../http/views.js';
import type { StoredResult } from '../http/operation-results.js';
import {
  OPERATION_NAMES,
  OUTCOME_WORDS,
  isBulkOperation,
  isOperation,
  normalizeNotes,
  notesLength,
  type LearnerOperation,
  type LearnerOutcome,
  type Operation,
  type OperationRequest,
  type Outcome,
} from '../github/operations.js';
import { requireFacilitator, requireFacilitatorReturningTo } from './auth.js';
import type { AppContext } from './context.js';
import { renderDashboard } from './dashboard.js';
import { findLearner, learnerPath, renderLearnerPage } from './learners.js';
import { timeModel } from './time.js';

/**
 * The largest operation form accepted: notes of NOTES_MAX_LENGTH characters,
 * percent-encoded (up to 12 bytes a character), with the rest of the form.
 */
export const OPERATION_BODY_LIMIT = 64 * 1024;

/** The fields every operation form sends, read and checked. */
interface OperationForm {
  /** null: absent or not an operation. */
  readonly operation: Operation | null;
  /** Identity keys of the learners (`learner`, repeated); null when a value was not text. */
  readonly keys: readonly string[] | null;
  /** The page the form was on: the dashboard (with its query) or a learner's page. */
  readonly back: string;
  /** provision: the provisioning state the page showed. */
  readonly from: string | null;
  readonly dryRun: boolean;
  /** notes: the text typed (line breaks as the roster keeps them), and the digest of the notes the page showed. */
  readonly notes: string | null;
  readonly notesSeen: string;
}

/** The page a form came from: the dashboard (any query) or a learner's page; anything else is the dashboard. */
function backOf(fields: Fields): string {
  const back = safeLocalPath(field(fields, 'back'));
  if (back !== null && (back === '/dashboard' || back.startsWith('/dashboard?') || back.startsWith('/learners/'))) return back;
  return '/dashboard';
}

function readForm(fields: Fields): OperationForm {
  const operation = field(fields, 'operation');
  const notes = field(fields, 'notes');
  return {
    operation: isOperation(operation) ? operation : null,
    keys: fieldList(fields, 'learner'),
    back: backOf(fields),
    from: field(fields, 'from'),
    dryRun: field(fields, 'dry_run') === '1',
    notes: notes === null ? null : normalizeNotes(notes),
    notesSeen: field(fields, 'notes_seen') ?? '',
  };
}

const fromDashboard = (form: OperationForm) => form.back.startsWith('/dashboard');

/** The operations that change a label on an enrollment issue. */
const LABEL_OPERATIONS: ReadonlySet<Operation> = new Set(['acked', 'needs-info', 'needs-info-clear', 'day2-released']);

/** The query fields of the dashboard address a form came from. */
function dashboardFields(back: string): Fields {
  return Object.fromEntries(new URL(back, 'http://companion.invalid').searchParams);
}

/** A learner by identity key (`handle@@cohort`), as the check boxes and forms send it. */
function splitKey(key: string): { handle: string; cohort: string } | null {
  const at = key.indexOf('@@');
  return at <= 0 || key.length > 300 ? null : { handle: key.slice(0, at), cohort: key.slice(at + 2) };
}

interface Resolved {
  readonly found: Learner[];
  /** Keys of learners no longer in the roster, as handle and cohort. */
  readonly missing: Array<{ handle: string; cohort: string }>;
}

/** The learners a form names, in its order, each once; null when a key is not a learner key at all. */
function resolve(roster: Roster, keys: readonly string[]): Resolved | null {
  const found: Learner[] = [];
  const missing: Resolved['missing'] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const parts = splitKey(key);
    if (parts === null) return null;
    const canonical = learnerKey(parts.handle, parts.cohort);
    if (seen.has(canonical)) continue;
    seen.add(canonical);
    const learner = findLearner(roster, parts.cohort, parts.handle);
    if (learner === null) missing.push(parts);
    else found.push(learner);
  }
  return { found, missing };
}

const lines = (text: string) => text.split('\n');
const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

function missingText(handle: string): string {
  return `${handle} is no longer in the roster, so nothing can be done for them.`;
}

/** What is wrong with a form that cannot be confirmed as sent; null when nothing is. */
function checkForm(form: OperationForm, resolved: Resolved | null): string | null {
  if (form.operation === null) return 'no operation';
  if (form.keys === null || resolved === null) return 'a learner that is not a learner key';
  if (form.operation === 'provision-cohort') return form.keys.length === 0 ? null : 'learners for starting provisioning';
  if (fromDashboard(form) && !isBulkOperation(form.operation)) return 'an operation the dashboard does not offer';
  if (!fromDashboard(form) && form.keys.length !== 1) return 'not exactly one learner from a learner page';
  if (form.operation === 'notes' && form.notes === null) return 'notes that are not text';
  return null;
}

/** The error of notes that are too long, in words; null when they fit. */
function notesTooLong(text: string): string | null {
  const length = notesLength(text);
  return length > NOTES_MAX_LENGTH ? `Notes must be ${NOTES_MAX_LENGTH} characters or fewer; these are ${length} characters` : null;
}

function confirmModel(context: AppContext, form: OperationForm & { operation: Operation }, resolved: Resolved, roster: Roster): OperationConfirmModel {
  const ops = context.operations;
  const operation = form.operation;
  const name = OPERATION_NAMES[operation];
  const hidden: OperationConfirmModel['hidden'] = [
    { name: 'operation', value: operation },
    { name: 'back', value: form.back },
  ];
  const backLabel = fromDashboard(form) ? 'Cancel and go back to the cohort dashboard' : 'Cancel and go back to the learner\'s page';

  if (operation === 'provision-cohort') {
    const p = ops.provisioning;
    const unavailable = ops.provisioningUnavailable;
    const waiting = roster.learners.filter((l) => learnerProvisionState(l) === 'pending').length;
    const failed = roster.learners.filter((l) => learnerProvisionState(l) === 'failed').length;
    if (form.dryRun) hidden.push({ name: 'dry_run', value: '1' });
    const title = `Check and confirm: ${form.dryRun ? 'a dry run of provisioning' : 'start provisioning now'}`;
    return {
      title,
      operation: name,
      summary:
        unavailable !== null || p === null
          ? [unavailable ?? 'Provisioning cannot be started from here.']
          : [
              `Start the provisioning workflow ${p.workflow} in ${p.repo} on ${p.ref}${form.dryRun ? ' as a dry run: it reports what it would create and creates nothing' : ''}.`,
              `The workflow works on every learner waiting or failed in the roster of record, in every cohort: it decides who, not this page. The roster here has ${plural(waiting, 'learner', 'learners')} waiting and ${failed} failed.`,
            ],
      items: [],
      canCount: unavailable === null ? 1 : 0,
      audience: ops.audience(operation),
      notes: null,
      hidden,
      confirmLabel: unavailable === null ? (form.dryRun ? 'Confirm: start a dry run' : 'Confirm: start provisioning') : null,
      back: form.back,
      backLabel,
    };
  }

  const items: OperationPlanItem[] = [];
  for (const learner of resolved.found) {
    const plan = ops.plan(operation, learner);
    const handle = normalizeHandle(learner.github_handle);
    items.push({ handle, cohort: learner.cohort_id, href: learnerPath(learner), text: ops.describe(plan, learner), can: plan.kind !== 'cannot' });
    // Every learner asked for goes on, those the operation cannot apply to as well: the result and the log then say why each was not done.
    hidden.push({ name: 'learner', value: learnerKey(learner.github_handle, learner.cohort_id) });
  }
  for (const { handle, cohort } of resolved.missing) {
    hidden.push({ name: 'learner', value: learnerKey(handle, cohort) });
    items.push({ handle: normalizeHandle(handle), cohort, href: learnerPath({ github_handle: handle, cohort_id: cohort }), text: missingText(normalizeHandle(handle)), can: false });
  }
  const canCount = items.filter((i) => i.can).length;
  const only = resolved.found.length === 1 && resolved.missing.length === 0 ? resolved.found[0]! : null;
  if (operation === 'provision' && form.from) hidden.push({ name: 'from', value: form.from });
  let notes: OperationConfirmModel['notes'] = null;
  if (operation === 'notes' && only !== null) {
    hidden.push({ name: 'notes', value: form.notes ?? '' }, { name: 'notes_seen', value: form.notesSeen });
    notes = { current: lines(learnerNotes(only)), next: lines(form.notes ?? '') };
  }
  const who = only !== null ? normalizeHandle(only.github_handle) : plural(items.length, 'learner', 'learners');
  const title = `Check and confirm: ${name} for ${who}`;
  return {
    title,
    operation: name,
    summary:
      items.length === 1
        ? []
        : [`${plural(canCount, 'learner', 'learners')} of the ${items.length} selected ${canCount === 1 ? 'is' : 'are'} included.${canCount < items.length ? ' The others are listed with the reason nothing can be done for them.' : ''}`],
    items,
    canCount,
    audience: ops.audience(operation),
    notes,
    hidden,
    confirmLabel: canCount === 0 ? null : `Confirm: ${name.charAt(0).toLowerCase()}${name.slice(1)}${only !== null ? '' : ` for ${plural(canCount, 'learner', 'learners')}`}`,
    back: form.back,
    backLabel: only !== null ? `Cancel and go back to ${normalizeHandle(only.github_handle)}'s page` : backLabel,
  };
}

/** Outcomes counted in words, in a fixed order: "2 done, 1 failed". */
function counted(outcomes: readonly Outcome[]): string {
  const order: Outcome[] = ['done', 'recorded', 'unchanged', 'conflict', 'skipped', 'failed'];
  return order
    .map((kind) => ({ kind, count: outcomes.filter((o) => o === kind).length }))
    .filter((c) => c.count > 0)
    .map((c) => `${c.count} ${OUTCOME_WORDS[c.kind].toLowerCase()}`)
    .join(', ');
}

function resultModel(result: StoredResult): OperationResultModel {
  const name = OPERATION_NAMES[result.operation];
  const backLabel = result.back.startsWith('/learners/') ? 'Back to the learner\'s page' : 'Back to the cohort dashboard';
  const at = timeModel(result.at)!;
  if (result.general !== null) {
    const what = result.dryRun ? 'Dry run of provisioning' : name;
    return { title: `${what}: ${OUTCOME_WORDS[result.general.outcome].toLowerCase()}`, summary: [`${OUTCOME_WORDS[result.general.outcome]}. ${result.general.text}`], at, notes: null, items: [], back: result.back, backLabel };
  }
  const items: OperationResultItem[] = result.learners.map((l) => ({
    handle: l.github_handle,
    cohort: l.cohort_id,
    href: learnerPath(l),
    outcome: OUTCOME_WORDS[l.outcome],
    text: l.text,
    notes: l.notes ? { attempted: lines(l.notes.attempted), current: lines(l.notes.current) } : null,
  }));
  const only = result.learners.length === 1 ? result.learners[0]! : null;
  if (only !== null) {
    return {
      title: `${name} for ${only.github_handle}: ${OUTCOME_WORDS[only.outcome].toLowerCase()}`,
      summary: [`${OUTCOME_WORDS[only.outcome]}. ${only.text}`],
      at,
      notes: items[0]!.notes,
      items: [],
      back: result.back,
      backLabel: `Back to ${only.github_handle}'s page`,
    };
  }
  const outcomes = result.learners.map((l) => l.outcome);
  const failed = outcomes.filter((o) => o === 'failed' || o === 'conflict' || o === 'skipped').length;
  return {
    title: `${name} for ${plural(result.learners.length, 'learner', 'learners')}: ${counted(outcomes)}`,
    summary: [
      `Of ${plural(result.learners.length, 'learner', 'learners')}: ${counted(outcomes)}.`,
      failed === 0 ? 'Each learner\'s outcome is listed below.' : 'Each learner\'s outcome is listed below, with the reason for each one that was not done.',
    ],
    at,
    notes: null,
    items,
    back: result.back,
    backLabel,
  };
}

function auditLine(request: FastifyRequest, operation: Operation, dryRun: boolean, resultId: string | null, outcome: Pick<LearnerOutcome, 'outcome' | 'text' | 'problem' | 'status'> & { github_handle: string | null; cohort_id: string | null }): void {
  const failed = outcome.outcome === 'failed' || outcome.outcome === 'conflict' || outcome.outcome === 'skipped';
  const who = outcome.github_handle === null ? 'every learner waiting' : `${outcome.github_handle} (${outcome.cohort_id})`;
  request.log[failed ? 'warn' : 'info'](
    {
      audit: 'facilitator-operation',
      operation,
      ...(operation === 'provision-cohort' ? { dryRun } : {}),
      github_handle: outcome.github_handle,
      cohort_id: outcome.cohort_id,
      outcome: outcome.outcome,
      problem: outcome.problem,
      status: outcome.status,
      detail: outcome.text,
      session: request.session.get('facilitator')?.sid ?? null,
      result: resultId,
    },
    `facilitator operation: ${operation} for ${who}: ${outcome.outcome}`,
  );
}

export function operationRoutes(app: FastifyInstance, context: AppContext): void {
  const { config, store, operations, results } = context;
  const guard = {
    bodyLimit: OPERATION_BODY_LIMIT,
    config: operationsRateLimited(config),
    preHandler: [requireFacilitatorReturningTo((request) => backOf(formFields(request))), app.csrfProtection],
  };

  app.post('/operations/confirm', guard, async (request, reply) => {
    const form = readForm(formFields(request));
    const roster = await store.read();
    const resolved = form.keys === null ? null : resolve(roster, form.keys);

    // The dashboard's bulk form: say what is missing on the dashboard itself, with what was chosen kept.
    if (fromDashboard(form) && form.operation !== 'provision-cohort' && resolved !== null && form.keys !== null) {
      const errors: FieldError[] = [];
      if (!isBulkOperation(form.operation)) errors.push({ field: 'operation', message: 'Choose what to do for the selected learners' });
      if (form.keys.length === 0) errors.push({ field: 'select-1', message: 'Select at least one learner' });
      if (errors.length > 0 && operations.github) {
        return renderDashboard(context, request, reply, dashboardFields(form.back), 400, {
          errors,
          selected: new Set(form.keys.map((k) => { const p = splitKey(k)!; return learnerKey(p.handle, p.cohort); })),
          selectAll: false,
          choice: form.operation,
        });
      }
    }
    const problem = checkForm(form, resolved);
    if (problem !== null) {
      request.log.warn({ problem }, 'facilitator operation form refused');
      throw new HttpError('bad-request');
    }
    const checked = form as OperationForm & { operation: Operation };
    // Notes that are too long go back to the learner's page, what was typed kept.
    if (checked.operation === 'notes' && resolved!.found.length === 1) {
      const error = notesTooLong(checked.notes ?? '');
      if (error !== null) return renderLearnerPage(context, request, reply, roster, resolved!.found[0]!, 400, { text: checked.notes ?? '', seen: checked.notesSeen, error });
    }
    const model = confirmModel(context, checked, resolved!, roster);
    return render(reply, 200, shellFor(config, request, reply, model.title, null), { template: 'operation-confirm', model });
  });

  app.post('/operations/run', guard, async (request, reply) => {
    const form = readForm(formFields(request));
    const roster = await store.read();
    const resolved = form.keys === null ? null : resolve(roster, form.keys);
    const problem = checkForm(form, resolved) ?? (form.operation === 'notes' && notesTooLong(form.notes ?? '') !== null ? 'notes too long' : null);
    if (problem !== null) {
      request.log.warn({ problem }, 'facilitator operation form refused');
      throw new HttpError('bad-request');
    }
    const operation = form.operation!;
    const found = resolved!.found;
    const shown = isProvisionState(form.from) ? form.from : null;
    const run: OperationRequest = {
      operation,
      learners: found,
      dryRun: form.dryRun,
      ...(operation === 'provision' && shown !== null ? { provisionShown: new Map<Learner, ProvisionState>(found.map((l) => [l, shown])) } : {}),
      ...(operation === 'notes' ? { notes: { seen: form.notesSeen, text: form.notes ?? '' } } : {}),
    };
    const done = await operations.run(run);
    // A label changed is a signal derived progress reads: read it again now, so the pages show it.
    if (context.progress !== null && LABEL_OPERATIONS.has(operation) && done.learners.some((l) => l.outcome === 'done')) void context.progress.refreshNow();
    const missing: LearnerOutcome[] = resolved!.missing.map(({ handle, cohort }) => ({
      github_handle: normalizeHandle(handle),
      cohort_id: cohort,
      outcome: 'skipped',
      text: missingText(normalizeHandle(handle)),
      problem: null,
      status: null,
    }));
    const result: StoredResult = { ...done, learners: [...done.learners, ...missing], back: form.back };
    let id: string | null = null;
    try {
      id = await results.save(result);
    } catch (error) {
      request.log.error({ err: error }, 'facilitator operation: its result could not be kept for the result page; it is shown at once instead');
    }
    if (result.general !== null) auditLine(request, operation, result.dryRun, id, { ...result.general, github_handle: null, cohort_id: null });
    for (const outcome of result.learners) auditLine(request, operation as LearnerOperation, result.dryRun, id, outcome);
    if (id === null) {
      const model = resultModel(result);
      return render(reply, 200, shellFor(config, request, reply, model.title, null), { template: 'operation-result', model });
    }
    return reply.redirect(`/operations/results/${id}`, 303);
  });

  app.get<{ Params: { id: string } }>('/operations/results/:id', { preHandler: requireFacilitator }, async (request, reply) => {
    const result = await results.load(request.params.id);
    if (result === null) throw new HttpError('not-found');
    const model = resultModel(result);
    return render(reply, 200, shellFor(config, request, reply, model.title, null), { template: 'operation-result', model });
  });
}
