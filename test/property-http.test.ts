/**
 * Property-based tests of the HTTP surface, with fast-check, in process
 * (app.inject): hostile and arbitrary input to every route, signed in and
 * not, must never cause a 5xx, never write the roster unless the input is
 * valid, and never come back into a page unescaped.
 *
 * Validity is decided here, from the written rules (companion.md and
 * roster-contract.md), not by calling the code under test. Every security
 * control stays on: "valid" requests carry the real CSRF token, read from a
 * page in the same session, as a browser's form would. Each request comes
 * from its own address, so the (real) rate limit is never what decides.
 *
 * Runs per property are moderate; FC_NUM_RUNS overrides them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { Client, TEST_TOKEN, startApp, startAppWithRoster, type TestApp } from './helpers/app.js';
import { csrfFrom } from './helpers/http.js';
import { ALNUM, alnum, validUsername } from './helpers/arbitraries.js';

const RUNS = Number(process.env.FC_NUM_RUNS ?? '') || 0;
const runs = (n: number) => ({ numRuns: RUNS > 0 ? RUNS : n });

/** The largest body the service takes (16 KiB); anything bigger is refused whole. */
const BODY_LIMIT_BYTES = 16 * 1024;

// ---------------------------------------------------------------------------
// The rules, written out plainly.
// ---------------------------------------------------------------------------

const isLetter = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string) => c >= '0' && c <= '9';

/** 1 to 39 ASCII letters, digits and single hyphens, no hyphen at either end. */
function plainUsernameRule(s: string): boolean {
  if (s.length < 1 || s.length > 39) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '-') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '-') return false;
    } else if (!isLetter(c) && !isDigit(c)) {
      return false;
    }
  }
  return true;
}

/** The handle as registered: surrounding whitespace trimmed, one leading `@` dropped. */
function typedHandle(typed: string): string {
  const s = typed.trim();
  return s.startsWith('@') ? s.slice(1) : s;
}

/** A typed cohort when none are listed: trimmed, 1 to 40 of ASCII letters, digits, `-`, `_`, `.`, a letter or digit first. */
function plainCohortRule(s: string): boolean {
  if (s.length < 1 || s.length > 40) return false;
  if (!isLetter(s[0]!) && !isDigit(s[0]!)) return false;
  for (const c of s) if (!isLetter(c) && !isDigit(c) && c !== '-' && c !== '_' && c !== '.') return false;
  return true;
}

/**
 * The cohort stored: with cohorts listed, the listed id equal to the one sent,
 * or else the first equal to it ignoring case; with none listed, the typed id
 * in lower case. Null when it must be refused.
 */
function storedCohort(sent: string, listed: readonly string[]): string | null {
  if (listed.length > 0) return listed.find((id) => id === sent) ?? listed.find((id) => id.toLowerCase() === sent.toLowerCase()) ?? null;
  return plainCohortRule(sent) ? sent.toLowerCase() : null;
}

/** What a client's encoder does to text it cannot encode: a lone surrogate becomes U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

type Entries = Array<[string, string]>;

interface Expected {
  handle: string;
  cohort: string;
  path: 'day1-day2' | 'day2-only';
}

/**
 * The registration a POST /register body makes, or null when it must be
 * refused: the session's CSRF token exactly once; each field at most once;
 * the handle meets the rule; the cohort is listed (or, with none listed, meets
 * the typed-cohort rule); the path is one of the two (absent or empty means
 * both days); and the body is within the size limit.
 */
function expectedRegistration(entries: Entries, realToken: string, listed: readonly string[], bodyBytes: number): Expected | null {
  if (bodyBytes > BODY_LIMIT_BYTES) return null;
  const all = (name: string) => entries.filter(([k]) => k === name).map(([, v]) => v);
  const csrf = all('csrf_token');
  if (csrf.length !== 1 || csrf[0] !== realToken) return null;
  const handles = all('github_handle');
  const cohorts = all('cohort_id');
  const paths = all('path');
  if (handles.length > 1 || cohorts.length > 1 || paths.length > 1) return null;
  const handle = typedHandle(handles[0] ?? '');
  if (!plainUsernameRule(handle)) return null;
  const cohort = storedCohort((cohorts[0] ?? '').trim(), listed);
  if (cohort === null) return null;
  const path = (paths[0] ?? '') === '' ? 'day1-day2' : paths[0]!;
  if (path !== 'day1-day2' && path !== 'day2-only') return null;
  return { handle, cohort, path };
}

function isFormType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

// ---------------------------------------------------------------------------
// Markers: input that would become markup if it were echoed without escaping.
// Each puts a character the template engine must escape right before
// "glowxss", and strings are built from whole markers, so in a correctly
// escaped page "glowxss" is only ever preceded by an entity.
// ---------------------------------------------------------------------------

const MARKERS = [
  '<glowxss>',
  '"glowxss',
  "'glowxss",
  '"><glowxss src=x onerror=alert(1)>',
  "'><svg/onload=alert(1)><glowxss>",
  '<script>alert(1)</script><glowxss>',
  '</title></textarea><glowxss>',
  '<!--<glowxss-->',
];
const RAW_MARKUP = /[<>"']glowxss/;

function isHtml(response: LightMyRequestResponse): boolean {
  return String(response.headers['content-type'] ?? '').startsWith('text/html');
}

function assertNothingEchoedUnescaped(response: LightMyRequestResponse, what: string): void {
  if (!isHtml(response)) return;
  for (const marker of MARKERS) assert.ok(!response.body.includes(marker), `${what}: the raw marker ${JSON.stringify(marker)} is in the page`);
  const match = RAW_MARKUP.exec(response.body);
  assert.equal(match, null, `${what}: unescaped input in the page near ${JSON.stringify(response.body.slice(Math.max(0, (match?.index ?? 0) - 60), (match?.index ?? 0) + 40))}`);
}

/** Secrets that no response may ever contain: the facilitator token, a facilitator note, submitted tokens. */
const NOTE_SECRET = 'NOTE-SECRET-7f3a';
function assertNoSecrets(response: LightMyRequestResponse, what: string): void {
  assert.ok(!response.body.includes(TEST_TOKEN), `${what}: the facilitator token is in the response`);
  assert.ok(!response.body.includes(NOTE_SECRET), `${what}: a facilitator note is in the response`);
  assert.ok(!response.body.includes('glowtok'), `${what}: a submitted token is in the response`);
}

function assertNever5xx(response: LightMyRequestResponse, what: string): void {
  assert.ok(response.statusCode < 500, `${what}: answered ${response.statusCode}`);
}

// ---------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------


/** One unit of arbitrary text: any code point, an awkward character, or a whole marker. */
const textUnit = fc.oneof(
  { weight: 10, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '\0', '\u0001', '\b', '\t', '\n', '\r', '\r\n', '\u001b', '\u007f', '\u0085', '\u00a0', '\u2028', '\u202e', '\ufeff',
      '\ud800', '\udfff', '&', '&amp;', '&#60;', '+', '%', '%25', '%00', '=', '#', ';', '?', '/', '\\', ' ', '@', '-',
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...MARKERS) },
);

/** Arbitrary text: mostly short, sometimes a few kilobytes long. */
const anyText = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: textUnit, maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: textUnit, maxLength: 8 }), fc.integer({ min: 300, max: 4000 }), fc.constantFrom('a', '\u00e9', '\0', '<glowxss>', '\ud83d\ude00', '-'))
      .map(([head, n, c]) => head + c.repeat(Math.ceil(n / c.length))),
  },
);


const handleValue = fc.oneof(
  { weight: 5, arbitrary: validUsername },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(' ', '@', ' @', '\t', '@@', '\u00a0'), validUsername, fc.constantFrom('', ' ', '\n', '-', '<glowxss>')).map((p) => p.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 38, max: 41 }).chain((n) => fc.string({ unit: fc.oneof(alnum, alnum, alnum, fc.constant('-')), minLength: n, maxLength: n })) },
  { weight: 4, arbitrary: anyText },
);

const COHORT_CHARS = [...ALNUM, '-', '_', '.'];
const typedCohort = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...COHORT_CHARS), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...COHORT_CHARS), minLength: 39, maxLength: 41 }) },
  { weight: 1, arbitrary: fc.constantFrom(' spring-2026 ', '../etc', 'a/b', 'c 1', '', '  ') },
  { weight: 3, arbitrary: anyText },
);

const pathValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('day1-day2', 'day2-only') },
  { weight: 2, arbitrary: fc.constantFrom('', 'day3', 'DAY1-DAY2', ' day2-only', 'day2-only ', 'day1-day2\u0000') },
  { weight: 2, arbitrary: anyText },
);

/** How many times a field is sent: mostly once, sometimes not at all or twice. */
function occurrences(value: fc.Arbitrary<string>): fc.Arbitrary<string[]> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<string[]>([]) },
    { weight: 7, arbitrary: value.map((v) => [v]) },
    { weight: 1, arbitrary: fc.array(value, { minLength: 2, maxLength: 3 }) },
  );
}

type CsrfMode = 'real' | 'missing' | 'forged' | 'repeated' | 'real-and-forged';
const csrfMode = fc.constantFrom<CsrfMode>('real', 'real', 'real', 'real', 'missing', 'forged', 'repeated', 'real-and-forged');

const fieldName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'github_handle[]', 'cohort_id[0]', 'csrf_token ', 'CSRF_TOKEN', 'next', 'token', '', 'path.x'),
  fc.string({ unit: textUnit, maxLength: 12 }),
);
const junkFields = fc.array(fc.tuple(fieldName, anyText), { maxLength: 3 });

/** Entries in a shuffled order, with the CSRF token placed as the mode says. */
function withCsrf(entries: Entries, mode: CsrfMode, token: string, forged: string, order: number[]): Entries {
  const csrf: Entries =
    mode === 'real' ? [['csrf_token', token]]
    : mode === 'missing' ? []
    : mode === 'forged' ? [['csrf_token', forged]]
    : mode === 'repeated' ? [['csrf_token', token], ['csrf_token', token]]
    : [['csrf_token', token], ['csrf_token', forged]];
  const all = [...entries, ...csrf];
  return all
    .map((entry, i) => ({ entry, rank: order[i] ?? i }))
    .sort((a, b) => a.rank - b.rank)
    .map(({ entry }) => [wellFormed(entry[0]), wellFormed(entry[1])] as [string, string]);
}

function encodeForm(entries: Entries): string {
  const body = new URLSearchParams();
  for (const [k, v] of entries) body.append(k, v);
  return body.toString();
}

const forgedToken = fc.oneof(fc.constant('AAAAAAAA-forged-token-BBBBBBBBBBBBBBBBBBBBBBBBBB'), anyText);
const fieldOrder = fc.array(fc.nat(), { minLength: 16, maxLength: 16 });

/** Any form at all: every field arbitrary, repeated or missing. */
const arbitraryRegistrationForm = fc.record({
  handles: occurrences(handleValue),
  cohorts: occurrences(typedCohort),
  paths: occurrences(pathValue),
  junk: junkFields,
  csrf: csrfMode,
  forged: forgedToken,
  order: fieldOrder,
  signedIn: fc.boolean(),
});

/** Close to a form a person fills in correctly, so that both sides of the boundary are tried often. */
const nearValidRegistrationForm = fc.record({
  handles: fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom('', ' ', '@', ' @'), validUsername, fc.constantFrom('', ' ', '\t')).map((p) => [p.join('')]) },
    { weight: 1, arbitrary: occurrences(handleValue) },
  ),
  cohorts: fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom('', ' '), fc.string({ unit: fc.constantFrom(...COHORT_CHARS), minLength: 1, maxLength: 40 }), fc.constantFrom('', ' ')).map((p) => [p.join('')]) },
    { weight: 1, arbitrary: occurrences(typedCohort) },
  ),
  paths: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<string[]>([], [''], ['day1-day2'], ['day2-only']) },
    { weight: 1, arbitrary: occurrences(pathValue) },
  ),
  junk: fc.oneof({ weight: 3, arbitrary: fc.constant<Entries>([]) }, { weight: 1, arbitrary: junkFields }),
  csrf: fc.oneof({ weight: 8, arbitrary: fc.constant<CsrfMode>('real') }, { weight: 1, arbitrary: csrfMode }),
  forged: forgedToken,
  order: fieldOrder,
  signedIn: fc.boolean(),
});

const registrationForm = fc.oneof(arbitraryRegistrationForm, nearValidRegistrationForm);

// ---------------------------------------------------------------------------
// Test scaffolding.
// ---------------------------------------------------------------------------

let nextAddress = 1;
/** A fresh client address per run: each run has its own session and its own rate-limit budget. */
function freshAddress(): string {
  const n = nextAddress++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function cookieHeader(client: Client): string | undefined {
  const cookies = [...client.snapshot()];
  return cookies.length === 0 ? undefined : cookies.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
}

async function rosterBytes(t: TestApp): Promise<Buffer | null> {
  return readFile(t.rosterPath).catch(() => null);
}

async function learnerOnDisk(t: TestApp, handle: string, cohort: string): Promise<Record<string, unknown> | undefined> {
  const roster = JSON.parse(await readFile(t.rosterPath, 'utf8')) as { learners: Array<Record<string, unknown>> };
  return roster.learners.find(
    (l) => typedHandle(String(l.github_handle)).toLowerCase() === handle.toLowerCase() && String(l.cohort_id).trim() === cohort,
  );
}

/** A roster with listed cohorts whose own data holds markup and a private note. */
const LISTED_ROSTER = {
  version: 1,
  generated_at: '2026-01-15T09:00:00.000Z',
  cohorts: [
    { cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z' },
    { cohort_id: 'autumn-2026', label: 'Autumn <glowxss> "glowxss cohort' },
    { cohort_id: 'x<glowxss>"id', label: '' },
  ],
  learners: [
    {
      github_handle: 'ada-lovelace',
      cohort_id: 'spring-2026',
      path: 'day1-day2',
      learning_room_repo: 'Community-Access/learning-room-"glowxss',
      provision_state: 'provisioned',
      status: 'active-day1',
      registered_at: '2026-01-14T18:22:00.000Z',
      last_signal_at: '2026-03-02T16:05:00.000Z',
      notes: `${NOTE_SECRET} <glowxss>`,
      enrollment_issue_number: 7,
    },
  ],
  extra: { kept: true },
};
const LISTED_IDS = LISTED_ROSTER.cohorts.map((c) => c.cohort_id);

function startListedApp(): Promise<TestApp> {
  return startAppWithRoster(`${JSON.stringify(LISTED_ROSTER, null, 2)}\n`);
}

/** A client, signed in or not, and the CSRF token of a form in its session. */
async function clientFor(t: TestApp, signedIn: boolean): Promise<{ client: Client; token: string }> {
  const client = new Client(t.app, freshAddress());
  if (signedIn) {
    const response = await client.signIn();
    assert.equal(response.statusCode, 303, 'sign-in with the right token failed');
  }
  return { client, token: await client.csrf('/register') };
}

// ---------------------------------------------------------------------------
// POST /register.
// ---------------------------------------------------------------------------

const LEARNER_FIELDS = ['github_handle', 'cohort_id', 'path', 'learning_room_repo', 'provision_state', 'status', 'registered_at', 'last_signal_at', 'notes', 'enrollment_issue_number'];

type RegistrationForm = typeof registrationForm extends fc.Arbitrary<infer R> ? R : never;

async function checkRegistration(app: TestApp, listed: readonly string[], form: RegistrationForm): Promise<void> {
  const { client, token } = await clientFor(app, form.signedIn);
  const fields: Entries = [
    ...form.handles.map((v): [string, string] => ['github_handle', v]),
    ...form.cohorts.map((v): [string, string] => ['cohort_id', v]),
    ...form.paths.map((v): [string, string] => ['path', v]),
    ...form.junk,
  ];
  const entries = withCsrf(fields, form.csrf, token, form.forged, form.order);
  const body = encodeForm(entries);
  const expected = expectedRegistration(entries, token, listed, Buffer.byteLength(body));

  const before = await rosterBytes(app);
  const cookie = cookieHeader(client);
  const response = await app.app.inject({
    method: 'POST',
    url: '/register',
    remoteAddress: client.ip,
    payload: body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
  });
  const afterBytes = await rosterBytes(app);
  const what = `POST /register ${body.slice(0, 300)}`;

  assertNever5xx(response, what);
  assertNothingEchoedUnescaped(response, what);
  assertNoSecrets(response, what);
  if (expected === null) {
    assert.ok([400, 413].includes(response.statusCode), `${what}: invalid input answered ${response.statusCode}`);
    assert.deepEqual(afterBytes, before, `${what}: invalid input changed the roster file`);
  } else {
    assert.equal(response.statusCode, 303, `${what}: valid input answered ${response.statusCode}: ${response.body.match(/<li><a href="#[^"]+">[^<]+/g)?.join(', ')}`);
    assert.equal(response.headers.location, `/register/success?handle=${encodeURIComponent(expected.handle)}`);
    const learner = await learnerOnDisk(app, expected.handle, expected.cohort);
    assert.ok(learner, `${what}: the learner is not in the roster`);
    assert.equal(learner.path, expected.path);
    // Only the form's three fields reach the roster: nothing else sent is stored.
    for (const [name] of form.junk) {
      if (!LEARNER_FIELDS.includes(name)) assert.equal(Object.hasOwn(learner, name), false, `${what}: the field ${JSON.stringify(name)} was stored`);
    }
  }
}

describe('property: POST /register with arbitrary form bodies (no cohorts listed)', () => {
  let t: TestApp;
  before(async () => (t = await startApp()));
  after(async () => t?.close());

  test('never a 5xx, writes the roster exactly when the input is valid, and never echoes input unescaped', async () => {
    await fc.assert(fc.asyncProperty(registrationForm, (form) => checkRegistration(t, [], form)), runs(150));
  });
});

describe('property: POST /register with arbitrary form bodies (cohorts listed)', () => {
  let t: TestApp;
  before(async () => (t = await startListedApp()));
  after(async () => t?.close());

  const listedForm = registrationForm.chain((form) =>
    fc
      .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...LISTED_IDS, ' spring-2026 ', 'Spring-2026') }, { weight: 1, arbitrary: typedCohort }), {
        minLength: form.cohorts.length,
        maxLength: form.cohorts.length,
      })
      .map((cohorts) => ({ ...form, cohorts })),
  );

  test('never a 5xx, writes the roster exactly when the input is valid, and never echoes input unescaped', async () => {
    await fc.assert(fc.asyncProperty(listedForm, (form) => checkRegistration(t, LISTED_IDS, form)), runs(150));
  });

  test('the roster\'s own data (labels, repository names, notes) is escaped or never shown', async () => {
    const client = new Client(t.app, freshAddress());
    await client.signIn();
    for (const url of ['/register', '/dashboard', '/dashboard?cohort=autumn-2026', `/dashboard?cohort=${encodeURIComponent('x<glowxss>"id')}`]) {
      const page = await client.get(url);
      assert.equal(page.statusCode, 200, url);
      assertNothingEchoedUnescaped(page, url);
      assertNoSecrets(page, url);
    }
  });
});

// ---------------------------------------------------------------------------
// Every route, every method, arbitrary query strings and bodies.
// ---------------------------------------------------------------------------

const ROUTES = ['/', '/register', '/register/success', '/login', '/logout', '/dashboard', '/roster.json', '/healthz'];

const pathArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ROUTES) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/register/', '/Register', '/REGISTER', '/register/success/', '/dashboard/', '/roster.json/', '/healthz/x', '/static/styles.css',
      '/static/../src/app.ts', '/static/%2e%2e/package.json', '/static/..%2f..%2fpackage.json', '//register', '//evil.example',
      '/register;x', '/register%00', '/%00', '/.env', '/roster.json.lock', '/index.html', '/register/success%2F', '/%2e/register',
      '/%', '/%ZZ', '/register%', '/%C3%28', '/%E0%A4%A',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.oneof(anyText.map((s) => encodeURIComponent(wellFormed(s))), fc.constantFrom('..', '.', '', '%', '%2F', '%5C', '%ZZ', '%C3')), { minLength: 1, maxLength: 4 })
      .map((segments) => `/${segments.join('/')}`),
  },
);

const queryName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('handle', 'next', 'cohort', 'signed_out', 'expired', 'csrf_token', '__proto__', 'constructor') },
  { weight: 1, arbitrary: anyText },
);
const queryValue = fc.oneof(
  { weight: 2, arbitrary: validUsername },
  { weight: 2, arbitrary: fc.constantFrom('1', '', 'spring-2026', 'autumn-2026', '/dashboard', '//evil.example', '/\\evil.example', 'https://evil.example', '/.//evil.example', 'javascript:alert(1)') },
  { weight: 4, arbitrary: anyText },
);
const queryPart = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(queryName, queryValue).map(([k, v]) => `${encodeURIComponent(wellFormed(k))}=${encodeURIComponent(wellFormed(v))}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '=', '&', '%', '%Z', '%ZZ', '%C3%28', '%FF', '+', '%00', 'a[b]=c', 'next', ';', '==', '?', 'handle=%E2%82') },
);
const queryArb = fc.option(fc.array(queryPart, { maxLength: 5 }).map((parts) => parts.join('&')), { nil: undefined });

/** Raw bodies: well-formed pairs, malformed percent-encoding, and raw characters, possibly with the real token. */
const rawPiece = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.oneof(fieldName, fc.constantFrom('github_handle', 'cohort_id', 'path', 'token', 'next')), anyText).map(([k, v]) => `${encodeURIComponent(wellFormed(k))}=${encodeURIComponent(wellFormed(v))}`) },
  { weight: 2, arbitrary: fc.constantFrom('github_handle=grace', 'github_handle=%40Grace-Hopper', 'cohort_id=spring-2026', 'cohort_id=c1', 'path=day2-only', `token=${TEST_TOKEN}`, 'next=%2Fdashboard') },
  { weight: 2, arbitrary: fc.constantFrom('', '=', '&', '%', '%Z', '%ZZ', '%C3', '%C3%28', '%E2%82', '%F0%9F%98', '%FF', '+', '%00', 'a', 'a=', '=b', '==', 'csrf_token', ';', '%%', '%25') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__[glowpolluted]=1', '__proto__.glowpolluted=1', 'constructor[prototype][glowpolluted]=1', '__proto__=glowpolluted', 'github_handle[__proto__]=x', 'toString=x', 'hasOwnProperty=x') },
  { weight: 1, arbitrary: anyText.map(wellFormed) },
);
const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/x-www-form-urlencoded') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/x-www-form-urlencoded; charset=UTF-8', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/json', 'text/plain',
      'multipart/form-data; boundary=x', 'application/octet-stream', 'text/html', 'application/x-www-form-urlencodedx', '',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const requestArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  path: pathArb,
  query: queryArb,
  pieces: fc.array(rawPiece, { maxLength: 8 }),
  withToken: fc.constantFrom<'none' | 'real' | 'twice'>('none', 'real', 'real', 'twice'),
  contentType: contentTypeArb,
  signedIn: fc.boolean(),
  order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
});
type ArbitraryRequest = typeof requestArb extends fc.Arbitrary<infer R> ? R : never;

const HAS_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function send(t: TestApp, request: ArbitraryRequest) {
  const { client, token } = await clientFor(t, request.signedIn);
  const pieces = [...request.pieces];
  const tokenPieces = request.withToken === 'none' ? [] : request.withToken === 'real' ? [`csrf_token=${encodeURIComponent(token)}`] : [`csrf_token=${encodeURIComponent(token)}`, `csrf_token=${encodeURIComponent(token)}`];
  for (const [i, piece] of tokenPieces.entries()) pieces.splice((request.order[i] ?? 0) % (pieces.length + 1), 0, piece);
  const body = HAS_BODY.has(request.method) ? pieces.join('&') : undefined;
  const url = request.query === undefined ? request.path : `${request.path}?${request.query}`;
  const cookie = cookieHeader(client);
  const headers: Record<string, string> = { ...(cookie ? { cookie } : {}) };
  if (body !== undefined && request.contentType !== undefined) headers['content-type'] = request.contentType;
  const before = await rosterBytes(t);
  const response = await t.app.inject({
    method: request.method as 'GET',
    url,
    remoteAddress: client.ip,
    headers,
    ...(body !== undefined ? { payload: body } : {}),
  });
  const afterBytes = await rosterBytes(t);
  return { client, token, body, url, response, before, afterBytes, what: `${request.method} ${url} ${headers['content-type'] ?? ''} ${body?.slice(0, 300) ?? ''}` };
}

describe('property: every route, every method, arbitrary query strings and bodies, signed in and not', () => {
  let t: TestApp;
  before(async () => (t = await startListedApp()));
  after(async () => t?.close());

  test('never a 5xx, never writes the roster unless the request is a valid registration, never echoes input unescaped, never exposes the roster to anonymous visitors', async () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        const { token, body, response, before: old, afterBytes, what } = await send(t, request);
        assertNever5xx(response, what);
        assertNothingEchoedUnescaped(response, what);
        assertNoSecrets(response, what);

        const pathname = request.path;
        const isRegistration = request.method === 'POST' && pathname === '/register' && isFormType(request.contentType) && body !== undefined;
        const expected = isRegistration ? expectedRegistration([...new URLSearchParams(body)], token, LISTED_IDS, Buffer.byteLength(body)) : null;
        if (expected === null) {
          assert.deepEqual(afterBytes, old, `${what}: the roster file changed`);
        } else {
          assert.equal(response.statusCode, 303, `${what}: a valid registration answered ${response.statusCode}`);
          assert.ok(await learnerOnDisk(t, expected.handle, expected.cohort), `${what}: the learner is not in the roster`);
        }

        // The facilitator's pages are for facilitators only.
        if (!request.signedIn && (request.method === 'GET' || request.method === 'HEAD') && (pathname === '/dashboard' || pathname === '/roster.json')) {
          assert.equal(response.statusCode, 303, `${what}: an anonymous visitor was not sent to sign in`);
          assert.match(String(response.headers.location), /^\/login\?/);
        }
        // roster.json is the redacted view and nothing more.
        if (request.method === 'GET' && pathname === '/roster.json' && response.statusCode === 200) {
          assert.match(String(response.headers['content-type']), /^application\/json/);
          const json = JSON.parse(response.body) as { learners: Array<Record<string, unknown>> };
          assert.deepEqual(Object.keys(json), ['version', 'learners']);
          for (const learner of json.learners) assert.deepEqual(Object.keys(learner).sort(), ['cohort_id', 'github_handle', 'path', 'provision_state', 'status']);
        }
        // A redirect never leaves the site.
        if (response.statusCode >= 300 && response.statusCode < 400) {
          const location = String(response.headers.location ?? '');
          assert.ok(location.startsWith('/') && !location.startsWith('//') && !location.includes('\\'), `${what}: redirect to ${location}`);
        }
      }),
      runs(250),
    );
    // Field names such as __proto__ never reach the shared prototype.
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore);
    assert.equal(({} as Record<string, unknown>).glowpolluted, undefined);
  });
});

describe('property: every answer is the site\'s own', () => {
  let t: TestApp;
  before(async () => (t = await startListedApp()));
  after(async () => t?.close());

  // companion.md: every error a person can meet is a full accessible page in the site's shell, never a
  // framework default; and the security headers are on every response.
  test('every response to an arbitrary request is an HTML page in the shell, a local redirect, or the documented JSON or CSS, with the security headers', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        const { response, what } = await send(t, request);
        const headers = response.headers;
        assert.match(String(headers['content-security-policy'] ?? ''), /frame-ancestors 'none'/, `${what}: no Content-Security-Policy (${response.statusCode})`);
        assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: no X-Content-Type-Options (${response.statusCode})`);
        assert.equal(headers['x-frame-options'], 'DENY', `${what}: no X-Frame-Options (${response.statusCode})`);
        assert.equal(headers['x-powered-by'], undefined);
        const type = String(headers['content-type'] ?? '');
        if (response.statusCode >= 300 && response.statusCode < 400) {
          assert.match(String(headers.location ?? ''), /^\//, `${what}: a redirect without a local Location`);
        } else if (request.path === '/healthz' || request.path === '/roster.json') {
          assert.ok(type === 'text/html; charset=utf-8' || (response.statusCode === 200 && type === 'application/json; charset=utf-8'), `${what}: ${response.statusCode} ${type}`);
        } else if (request.path.startsWith('/static/') && response.statusCode === 200) {
          assert.equal(type, 'text/css; charset=utf-8');
        } else {
          assert.equal(type, 'text/html; charset=utf-8', `${what}: answered ${response.statusCode} as ${JSON.stringify(type)}: ${response.body.slice(0, 200)}`);
          if (request.method !== 'HEAD') {
            assert.match(response.body, /<main id="main-content"/, `${what}: the page is not in the site shell`);
            assert.match(response.body, /<h1>/, `${what}: the page has no heading`);
          }
        }
      }),
      runs(200),
    );
  });
});

// ---------------------------------------------------------------------------
// GET /register/success and POST /login: their own oracles.
// ---------------------------------------------------------------------------

describe('property: the success page greets only a valid username', () => {
  let t: TestApp;
  before(async () => (t = await startApp()));
  after(async () => t?.close());

  test('?handle= is greeted exactly when it is sent once and is a valid GitHub username', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(queryPart, { maxLength: 4 }), fc.array(fc.oneof(validUsername, queryValue, handleValue), { maxLength: 2 }), async (parts, handles) => {
        const query = [...parts, ...handles.map((h) => `handle=${encodeURIComponent(wellFormed(h))}`)].join('&');
        const url = `/register/success?${query}`;
        const response = await new Client(t.app, freshAddress()).get(url);
        assert.equal(response.statusCode, 200, url);
        assertNothingEchoedUnescaped(response, url);
        const sent = [...new URLSearchParams(query)].filter(([k]) => k === 'handle').map(([, v]) => v);
        const greeted = /Thank you, ([^.<]*)\./.exec(response.body)?.[1];
        if (sent.length === 1 && plainUsernameRule(sent[0]!)) assert.equal(greeted, sent[0], url);
        else assert.equal(greeted, undefined, `${url}: greeted ${JSON.stringify(greeted)}`);
      }),
      runs(200),
    );
  });
});

describe('property: POST /login with arbitrary form bodies', () => {
  let t: TestApp;
  before(async () => (t = await startApp()));
  after(async () => t?.close());

  const tokenValue = fc.oneof(
    { weight: 3, arbitrary: fc.constant(TEST_TOKEN) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(`${TEST_TOKEN} `, ` ${TEST_TOKEN}`, `${TEST_TOKEN}x`, TEST_TOKEN.slice(0, -1), TEST_TOKEN.toUpperCase(), `${TEST_TOKEN}\0`, '', ' '),
    },
    { weight: 3, arbitrary: anyText.map((s) => `glowtok${s}`) },
  );
  const nextValue = fc.oneof(
    fc.constantFrom('/dashboard?cohort=spring-2026', '/roster.json', '//evil.example', '/\\evil.example', 'https://evil.example/', '/.//evil.example', '/%2F%2Fevil.example', 'javascript:alert(1)', '/\t/evil.example'),
    anyText,
  );
  const loginForm = fc.record({
    tokens: occurrences(tokenValue),
    nexts: fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, { weight: 3, arbitrary: occurrences(nextValue) }),
    junk: junkFields,
    csrf: fc.oneof({ weight: 2, arbitrary: fc.constant<CsrfMode>('real') }, { weight: 1, arbitrary: csrfMode }),
    forged: anyText,
    order: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
  });

  test('signs in exactly with the right token and the session\'s CSRF token, never a 5xx, never writes, never shows a token or unescaped input, never redirects off the site', async () => {
    await fc.assert(
      fc.asyncProperty(loginForm, async (form) => {
        const client = new Client(t.app, freshAddress());
        const token = csrfFrom((await client.get('/login')).body);
        const fields: Entries = [
          ...form.tokens.map((v): [string, string] => ['token', v]),
          ...form.nexts.map((v): [string, string] => ['next', v]),
          ...form.junk,
        ];
        const entries = withCsrf(fields, form.csrf, token, form.forged, form.order);
        const body = encodeForm(entries);
        const all = (name: string) => entries.filter(([k]) => k === name).map(([, v]) => v);
        const csrf = all('csrf_token');
        const tokens = all('token');
        const shouldSignIn = Buffer.byteLength(body) <= BODY_LIMIT_BYTES && csrf.length === 1 && csrf[0] === token && tokens.length === 1 && tokens[0] === TEST_TOKEN;

        const before = await rosterBytes(t);
        const cookie = cookieHeader(client);
        const answer = await t.app.inject({
          method: 'POST',
          url: '/login',
          remoteAddress: client.ip,
          payload: body,
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
        });
        const what = `POST /login ${body.slice(0, 300)}`;
        assertNever5xx(answer, what);
        assertNothingEchoedUnescaped(answer, what);
        assertNoSecrets(answer, what);
        assert.deepEqual(await rosterBytes(t), before, `${what}: sign-in changed the roster file`);
        if (shouldSignIn) {
          assert.equal(answer.statusCode, 303, `${what}: the right token answered ${answer.statusCode}`);
          const location = String(answer.headers.location);
          assert.ok(location.startsWith('/') && !location.startsWith('//') && !location.includes('\\'), `${what}: redirect to ${location}`);
        } else {
          assert.ok([400, 401, 413].includes(answer.statusCode), `${what}: answered ${answer.statusCode}`);
        }
        // Whatever the answer, the session it leaves opens the dashboard exactly when sign-in was right.
        const session = (answer.cookies as Array<{ name: string; value: string }>).find((c) => c.name === 'glow_session');
        const sessionCookie = session ? `glow_session=${encodeURIComponent(session.value)}` : cookie;
        const dashboard = await t.app.inject({ method: 'GET', url: '/dashboard', remoteAddress: client.ip, headers: sessionCookie ? { cookie: sessionCookie } : {} });
        assert.equal(dashboard.statusCode, shouldSignIn ? 200 : 303, `${what}: the dashboard answered ${dashboard.statusCode} after sign-in ${shouldSignIn ? 'succeeded' : 'failed'}`);
      }),
      runs(150),
    );
  });
});
