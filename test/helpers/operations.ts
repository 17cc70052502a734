/**
 * Facilitator operations in tests: a companion listening on loopback in
 * GitHub mode (or local mode) against the GitHub simulator, driven over real
 * HTTP as a browser's forms would be: sign in, open the page with the form,
 * send it to the confirmation page, send the confirmation page's own form,
 * follow the 303 to the result. Every log line is kept (as JSON), to read
 * the audit lines.
 */
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { Permissions } from '../../dev/github-simulator/index.js';
import type { AppDeps } from '../../src/app.js';
import type { Roster } from '../../src/roster/contract.js';
import { TEST_TOKEN, startApp, startAppWithRoster, type TestApp } from './app.js';
import { csrfFrom, HttpClient } from './http.js';
import { ENROLLMENT_REPO, EXAMPLE_ROSTER, FAST_GITHUB, OPERATIONS_PERMISSIONS, ROOM, WITH_PROVISIONING, githubEnv, rosterText, startAdmin, type SimulatedAdmin } from './github.js';
import { serializeRoster } from '../../src/roster/contract.js';

export const ALAN_ROOM = 'Community-Access/learning-room-spring-2026-alan-turing';

export { OPERATIONS_PERMISSIONS };

/**
 * Four learners: Ada (provisioned, enrollment issue 1), Grace (provisioning
 * failed, no enrollment issue, no Learning Room), Alan (provisioned,
 * enrollment issue 2) and Hedy (pending, an enrollment issue number that
 * does not exist).
 */
export function operationsRoster(): Roster {
  const base = EXAMPLE_ROSTER.learners[0]!;
  return {
    ...EXAMPLE_ROSTER,
    learners: [
      { ...base, learning_room_repo: ROOM, enrollment_repo: ENROLLMENT_REPO, enrollment_issue_number: 1 },
      { ...base, github_handle: 'grace-hopper', learning_room_repo: null, provision_state: 'failed', enrollment_repo: null, enrollment_issue_number: null, notes: '' },
      { ...base, github_handle: 'alan-turing', learning_room_repo: ALAN_ROOM, enrollment_repo: ENROLLMENT_REPO, enrollment_issue_number: 2, notes: 'Prefers JAWS.\nAsked about Day 2.' },
      { ...base, github_handle: 'hedy-lamarr', learning_room_repo: null, provision_state: 'pending', enrollment_repo: ENROLLMENT_REPO, enrollment_issue_number: 99, notes: '' },
    ],
  };
}

/** The GitHub side of operationsRoster: the public enrollment repository with issues 1 and 2, and the two private Learning Rooms. */
export function seedOperations(admin: SimulatedAdmin): void {
  const { state } = admin.sim;
  state.createRepo({ owner: 'Community-Access', name: 'git-going-with-github', private: false });
  state.addIssue(ENROLLMENT_REPO, { title: 'Enroll: ada-lovelace', user: 'ada-lovelace' });
  state.addIssue(ENROLLMENT_REPO, { title: 'Enroll: alan-turing', user: 'alan-turing' });
  state.createRepo({ owner: 'Community-Access', name: 'learning-room-spring-2026-ada-lovelace', private: true });
  state.createRepo({ owner: 'Community-Access', name: 'learning-room-spring-2026-alan-turing', private: true });
}

/** Collects every log line the companion writes, parsed. */
export function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      const text = chunk.toString();
      raw.push(text);
      for (const line of text.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return {
    lines,
    text: () => raw.join(''),
    audit: () => lines.filter((l) => l.audit === 'facilitator-operation'),
    logger: pino({ level: 'info' }, sink),
  };
}

export interface OperationsCompanion {
  t: TestApp;
  admin: SimulatedAdmin | null;
  base: string;
  client: HttpClient;
  log: ReturnType<typeof logSink>;
  close(): Promise<void>;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
export { until };

/** Signs a new client in (a session of its own). */
export async function signedIn(base: string): Promise<HttpClient> {
  const client = new HttpClient(base);
  const csrf_token = await client.csrf('/login');
  const response = await client.post('/login', { csrf_token, token: TEST_TOKEN });
  if (response.status !== 303) throw new Error(`sign-in answered ${response.status}`);
  return client;
}

async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

/**
 * A companion in GitHub mode with the provisioning workflow configured,
 * listening on loopback, its first sync done, and a signed-in client.
 */
export async function githubCompanion(options: { permissions?: Permissions; env?: Record<string, string>; roster?: Roster; seed?: (admin: SimulatedAdmin) => void } = {}): Promise<OperationsCompanion> {
  const admin = await startAdmin({ roster: rosterText(options.roster ?? operationsRoster()), permissions: options.permissions ?? OPERATIONS_PERMISSIONS });
  let t: TestApp | null = null;
  try {
    seedOperations(admin);
    options.seed?.(admin);
    const log = logSink();
    t = await startApp({ ...githubEnv(admin), ...WITH_PROVISIONING, COMPANION_SYNC_INTERVAL: '1', ...options.env }, { github: FAST_GITHUB, loggerInstance: log.logger });
    const base = await listen(t);
    const client = await signedIn(base);
    await until('the first sync', async () => (await fetch(`${base}/readyz`)).status === 200);
    const app = t;
    return { t, admin, base, client, log, close: async () => { await app.close(); await admin.close(); } };
  } catch (error) {
    await t?.close();
    await admin.close();
    throw error;
  }
}

/** A companion in local mode over a roster file, listening on loopback, with a signed-in client. */
export async function localCompanion(roster: Roster = operationsRoster(), deps: AppDeps = {}): Promise<OperationsCompanion> {
  const log = logSink();
  const t = await startAppWithRoster(serializeRoster(roster, new Date('2026-01-15T09:00:00.000Z')), {}, { loggerInstance: log.logger, ...deps });
  try {
    const base = await listen(t);
    const client = await signedIn(base);
    return { t, admin: null, base, client, log, close: () => t.close() };
  } catch (error) {
    await t.close();
    throw error;
  }
}

function unescape(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The hidden fields of the form posting to `action` in a page, as a browser would send them (repeated names kept). */
export function formFields(html: string, action: string): Record<string, string[]> {
  const start = html.indexOf(`action="${action}"`);
  if (start === -1) throw new Error(`no form posting to ${action} in the page`);
  const form = html.slice(start, html.indexOf('</form>', start));
  const fields: Record<string, string[]> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) (fields[unescape(match[1]!)] ??= []).push(unescape(match[2]!));
  return fields;
}

/** The text of `<main>`, tags removed and spaces collapsed, entities decoded. */
export function words(html: string): string {
  const main = html.slice(html.indexOf('<main'), html.indexOf('</main>'));
  return unescape(main.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

/** The text of the role="status" region of a page. */
export function statusText(html: string): string {
  const match = /<div class="notification" role="status">([\s\S]*?)<\/div>/.exec(html);
  if (!match) throw new Error('the page has no status region');
  return unescape(match[1]!.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

export interface Operated {
  confirm: Response;
  confirmHtml: string;
  run: Response;
  result: Response;
  resultHtml: string;
}

/**
 * Sends an operation form (`fields`, with the CSRF token of `page`) to the
 * confirmation page, then the confirmation page's form, then follows the
 * 303 to the result page.
 */
export async function operate(client: HttpClient, page: string, fields: Record<string, string | string[]>): Promise<Operated> {
  const csrf_token = csrfFrom(await (await client.get(page)).text());
  const confirm = await client.post('/operations/confirm', { csrf_token, back: page, ...fields });
  const confirmHtml = await confirm.text();
  if (confirm.status !== 200) throw new Error(`the confirmation page answered ${confirm.status}: ${words(confirmHtml).slice(0, 500)}`);
  const run = await client.post('/operations/run', { ...formFields(confirmHtml, '/operations/run'), csrf_token: csrfFrom(confirmHtml) });
  if (run.status !== 303) throw new Error(`confirming answered ${run.status}: ${words(await run.text()).slice(0, 500)}`);
  await run.arrayBuffer();
  const result = await client.get(run.headers.get('location')!);
  return { confirm, confirmHtml, run, result, resultHtml: await result.text() };
}
