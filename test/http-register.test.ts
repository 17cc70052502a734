import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Client, startApp, type TestApp } from './helpers/app.js';
import { csrfFrom } from './helpers/http.js';
import { provisionedLearner } from './helpers/fixtures.js';

let t: TestApp;
afterEach(async () => t?.close());

async function onDisk(): Promise<string | null> {
  return readFile(t.rosterPath, 'utf8').catch(() => null);
}

const LISTED = {
  version: 1,
  generated_at: '2026-01-15T09:00:00.000Z',
  cohorts: [
    { cohort_id: 'spring-2026', label: 'Spring 2026 cohort', opens_at: '2026-03-02T15:00:00.000Z' },
    { cohort_id: 'autumn-2026', label: 'Autumn <2026> cohort' },
  ],
  learners: [provisionedLearner({ notes: 'keep me', enrollment_issue_number: 3 })],
};

describe('registration without listed cohorts', () => {
  beforeEach(async () => (t = await startApp()));

  test('GET / redirects to the registration page', async () => {
    const response = await t.app.inject('/');
    assert.ok([301, 302, 303, 307, 308].includes(response.statusCode));
    assert.equal(response.headers.location, '/register');
  });

  test('the form has labelled fields whose ids equal their names, a CSRF field and no required or maxlength', async () => {
    const page = await new Client(t.app).get('/register');
    assert.equal(page.statusCode, 200);
    for (const name of ['github_handle', 'cohort_id', 'path']) assert.match(page.body, new RegExp(`id="${name}" name="${name}"`));
    assert.match(page.body, /<label class="label" for="github_handle">GitHub username<\/label>/);
    assert.match(page.body, /<legend class="legend">Which days will you attend\?<\/legend>/);
    assert.match(page.body, /name="csrf_token" value="[^"]+"/);
    assert.match(page.body, /<form method="post" action="\/register" novalidate>/);
    assert.doesNotMatch(page.body, /\srequired|maxlength/);
    assert.match(page.body, /autocomplete="username"/);
  });

  test('a valid registration is written and answered with 303 to the success page', async () => {
    const client = new Client(t.app);
    const response = await client.register({ github_handle: '  @Grace-Hopper ', cohort_id: ' spring-2026 ', path: 'day2-only' });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/register/success?handle=Grace-Hopper');
    const roster = JSON.parse((await onDisk())!);
    assert.deepEqual(roster.learners.map((l: { github_handle: string; cohort_id: string; path: string }) => [l.github_handle, l.cohort_id, l.path]), [['Grace-Hopper', 'spring-2026', 'day2-only']]);
    const success = await client.get(response.headers.location as string);
    assert.equal(success.statusCode, 200);
    assert.match(success.body, /role="status"/);
    assert.match(success.body, /Thank you, Grace-Hopper\./);
    assert.match(success.body, /GitHub sends you a notification/);
  });

  test('a missing path means both days, the contract default', async () => {
    const response = await new Client(t.app).register({ github_handle: 'grace', cohort_id: 'spring-2026' });
    assert.equal(response.statusCode, 303);
    assert.equal(JSON.parse((await onDisk())!).learners[0].path, 'day1-day2');
  });

  const invalid: Array<[string, Record<string, string | string[]>, string, string]> = [
    ['an empty username', { github_handle: '', cohort_id: 'c1', path: 'day1-day2' }, 'github_handle', 'Enter your GitHub username'],
    ['a 40-character username', { github_handle: 'a'.repeat(40), cohort_id: 'c1', path: 'day1-day2' }, 'github_handle', 'GitHub username must be 39 characters or fewer'],
    ['a double hyphen', { github_handle: 'ada--l', cohort_id: 'c1', path: 'day1-day2' }, 'github_handle', 'GitHub username must only include'],
    ['a trailing hyphen', { github_handle: 'ada-', cohort_id: 'c1', path: 'day1-day2' }, 'github_handle', 'GitHub username must only include'],
    ['a repeated username field', { github_handle: ['ada', 'bob'], cohort_id: 'c1', path: 'day1-day2' }, 'github_handle', 'Enter your GitHub username once'],
    ['an empty cohort', { github_handle: 'ada', cohort_id: '  ', path: 'day1-day2' }, 'cohort_id', 'Enter your cohort'],
    ['a 41-character cohort', { github_handle: 'ada', cohort_id: 'c'.repeat(41), path: 'day1-day2' }, 'cohort_id', 'Cohort must be 40 characters or fewer'],
    ['a cohort with a slash', { github_handle: 'ada', cohort_id: '../etc', path: 'day1-day2' }, 'cohort_id', 'Cohort must start with a letter or a number'],
    ['a cohort starting with a full stop', { github_handle: 'ada', cohort_id: '.spring', path: 'day1-day2' }, 'cohort_id', 'Cohort must start with a letter or a number'],
    ['a cohort with a space inside', { github_handle: 'ada', cohort_id: 'spring 2026', path: 'day1-day2' }, 'cohort_id', 'Cohort must only include'],
    ['an unknown path', { github_handle: 'ada', cohort_id: 'c1', path: 'day3' }, 'path', 'Select which days you will attend'],
  ];
  for (const [what, form, fieldName, message] of invalid) {
    test(`${what} gets the error pattern and writes nothing`, async () => {
      const response = await new Client(t.app).register(form);
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /<title>Error: /);
      assert.match(response.body, /There is a problem/);
      assert.match(response.body, new RegExp(`<a href="#${fieldName}">${message}`));
      assert.match(response.body, new RegExp(`id="${fieldName}-error">Error: ${message}`));
      assert.match(response.body, /aria-invalid="true"/);
      assert.match(response.body, new RegExp(`aria-describedby="${fieldName}-hint ${fieldName}-error"`));
      assert.equal(await onDisk(), null);
    });
  }

  test('every error at once is listed, and the values typed are kept', async () => {
    const response = await new Client(t.app).register({ github_handle: 'bad--name', cohort_id: 'bad cohort', path: 'nope' });
    assert.equal(response.statusCode, 400);
    const links = [...response.body.matchAll(/<li><a href="#([a-z_]+)">/g)].map((m) => m[1]);
    assert.deepEqual(links, ['github_handle', 'cohort_id', 'path']);
    assert.match(response.body, /value="bad--name"/);
    assert.match(response.body, /value="bad cohort"/);
    assert.match(response.body, /<div class="error-summary" tabindex="-1" autofocus/);
  });

  test('input shown back in the form is escaped', async () => {
    const response = await new Client(t.app).register({ github_handle: '"><script>alert(1)</script>', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal(response.statusCode, 400);
    assert.doesNotMatch(response.body, /<script>alert/);
    assert.match(response.body, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
  });

  test('the success page greets only a valid username, escaping nothing into the page', async () => {
    const client = new Client(t.app);
    assert.match((await client.get('/register/success?handle=ada-lovelace')).body, /Thank you, ada-lovelace\./);
    const hostile = await client.get('/register/success?handle=%3Cscript%3Ealert(1)%3C/script%3E');
    assert.equal(hostile.statusCode, 200);
    assert.doesNotMatch(hostile.body, /Thank you|<script>alert/);
  });
});

describe('a registration form sent after its session expired', () => {
  const HOUR = 3_600_000;
  const START = Date.parse('2026-03-02T09:00:00Z');
  beforeEach(async () => {
    mock.timers.enable({ apis: ['Date'], now: START });
    t = await startApp({ COMPANION_SESSION_MAX_HOURS: '8' });
    await writeFile(t.rosterPath, `${JSON.stringify(LISTED, null, 2)}\n`);
  });
  afterEach(() => mock.timers.reset());

  test('comes back with the answers kept, a fresh token and a summary saying what happened; nothing is written, and sending it again works', async () => {
    const before = await onDisk();
    const client = new Client(t.app);
    const oldToken = await client.csrf('/register');
    mock.timers.setTime(START + 9 * HOUR);
    const answers = { github_handle: 'grace-hopper', cohort_id: 'autumn-2026', path: 'day2-only' };
    const response = await client.post('/register', { csrf_token: oldToken, ...answers });
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /<title>Error: Register for the GLOW workshop/);
    assert.match(response.body, /<p class="error-summary-body">Your form had expired, so nothing was saved\. Check your answers and send the form again\.<\/p>/);
    // The field itself is not marked wrong: only the summary speaks.
    assert.doesNotMatch(response.body, /id="github_handle-error"/);
    assert.match(response.body, /value="grace-hopper"/);
    assert.match(response.body, /id="cohort_id-2" name="cohort_id" value="autumn-2026" checked/);
    assert.match(response.body, /value="day2-only" checked/);
    const fresh = csrfFrom(response.body);
    assert.notEqual(fresh, oldToken);
    assert.equal(response.body.includes(oldToken), false);
    assert.equal(await onDisk(), before);
    const again = await client.post('/register', { csrf_token: fresh, ...answers });
    assert.equal(again.statusCode, 303);
  });

  test('with no session cookie at all, the form also comes back with the answers and any field errors', async () => {
    const token = await new Client(t.app).csrf('/register');
    const response = await new Client(t.app).post('/register', { csrf_token: token, github_handle: 'bad--name', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 400);
    const links = [...response.body.matchAll(/<li><a href="#([a-z_]+)">/g)].map((m) => m[1]);
    // The expired form is said without a link (no field is at fault); the field's own error is linked.
    assert.deepEqual(links, ['github_handle']);
    assert.match(response.body, /<p class="error-summary-body">Your form had expired/);
    assert.match(response.body, /value="bad--name"/);
  });

  test('opening the form keeps the session alive, so a form opened late in an old session can still be sent', async () => {
    const client = new Client(t.app);
    await client.get('/login');
    mock.timers.setTime(START + 7 * HOUR);
    const token = await client.csrf('/register');
    mock.timers.setTime(START + 11 * HOUR);
    const response = await client.post('/register', { csrf_token: token, github_handle: 'grace-hopper', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
  });
});

describe('typed cohorts and case', () => {
  beforeEach(async () => {
    t = await startApp();
  });

  test('a typed cohort is stored lower-case, so Spring and spring are one learner, not two on one Learning Room', async () => {
    const client = new Client(t.app);
    assert.equal((await client.register({ github_handle: 'grace', cohort_id: 'Spring-2026', path: 'day1-day2' })).statusCode, 303);
    assert.equal((await client.register({ github_handle: 'Grace', cohort_id: 'spring-2026', path: 'day1-day2' })).statusCode, 303);
    const roster = JSON.parse((await onDisk())!);
    assert.deepEqual(roster.learners.map((l: { cohort_id: string }) => l.cohort_id), ['spring-2026']);
  });
});

describe('registration with listed cohorts', () => {
  beforeEach(async () => {
    t = await startApp();
    await writeFile(t.rosterPath, `${JSON.stringify(LISTED, null, 2)}\n`);
  });

  test('the cohort is a radio group showing each label, the first radio carrying the group name as id', async () => {
    const page = await new Client(t.app).get('/register');
    assert.match(page.body, /<legend class="legend">Which cohort are you joining\?<\/legend>/);
    assert.match(page.body, /id="cohort_id" name="cohort_id" value="spring-2026"/);
    assert.match(page.body, /id="cohort_id-2" name="cohort_id" value="autumn-2026"/);
    assert.match(page.body, /Spring 2026 cohort/);
    assert.match(page.body, /Autumn &lt;2026&gt; cohort/);
  });

  test('a listed cohort sent in another case is the listed cohort, and its id is stored as listed', async () => {
    const response = await new Client(t.app).register({ github_handle: 'grace', cohort_id: 'AUTUMN-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
    const roster = JSON.parse((await onDisk())!);
    assert.equal(roster.learners.find((l: { github_handle: string }) => l.github_handle === 'grace').cohort_id, 'autumn-2026');
  });

  test('a cohort that is not listed is refused and nothing is written', async () => {
    const before = await onDisk();
    const response = await new Client(t.app).register({ github_handle: 'grace', cohort_id: 'winter-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /<a href="#cohort_id">Select one of the cohorts listed<\/a>/);
    assert.equal(await onDisk(), before);
  });

  test('registering again with the same username in another case succeeds and changes nothing', async () => {
    const before = await onDisk();
    const response = await new Client(t.app).register({ github_handle: 'ADA-Lovelace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
    assert.equal(await onDisk(), before);
  });

  test('a new learner is added beside the existing one, whose data is kept whole', async () => {
    const response = await new Client(t.app).register({ github_handle: 'grace', cohort_id: 'autumn-2026', path: 'day1-day2' });
    assert.equal(response.statusCode, 303);
    const roster = JSON.parse((await onDisk())!);
    assert.deepEqual(roster.learners[0], LISTED.learners[0]);
    assert.deepEqual(roster.cohorts, LISTED.cohorts);
    assert.equal(roster.learners[1].github_handle, 'grace');
  });
});

describe('the blank form, served from a page rendered once per roster', () => {
  beforeEach(async () => (t = await startApp()));

  test('each visitor gets their own working CSRF token in an otherwise identical page', async () => {
    const first = new Client(t.app);
    const second = new Client(t.app);
    const [a, b] = [await first.get('/register'), await second.get('/register')];
    assert.notEqual(csrfFrom(a.body), csrfFrom(b.body));
    assert.equal(a.body.replace(csrfFrom(a.body), 'TOKEN'), b.body.replace(csrfFrom(b.body), 'TOKEN'));
    assert.doesNotMatch(a.body, /csrf-slot/);
    assert.equal((await first.post('/register', { csrf_token: csrfFrom(a.body), ...{ github_handle: 'first', cohort_id: 'c1', path: 'day1-day2' } })).statusCode, 303);
    assert.equal((await second.post('/register', { csrf_token: csrfFrom(b.body), ...{ github_handle: 'second', cohort_id: 'c1', path: 'day1-day2' } })).statusCode, 303);
  });

  test('a change to the roster\'s cohorts shows at once', async () => {
    const client = new Client(t.app);
    assert.match((await client.get('/register')).body, /<label class="label" for="cohort_id">Cohort<\/label>/);
    await writeFile(t.rosterPath, `${JSON.stringify(LISTED, null, 2)}\n`);
    assert.match((await client.get('/register')).body, /Autumn &lt;2026&gt; cohort/);
  });

  test('a signed-in facilitator gets the form with the sign-out button', async () => {
    const client = new Client(t.app);
    await client.signIn();
    const page = await client.get('/register');
    assert.match(page.body, /Sign out<\/button>/);
    assert.equal((page.body.match(/name="csrf_token"/g) ?? []).length, 2);
  });
});

describe('a roster that cannot be written', () => {
  test('a registration gets a 503 page, the old roster stays, and it works again once the fault is gone', async () => {
    let broken = true;
    t = await startApp({}, {
      storeOptions: {
        fs: {
          ...(await import('node:fs/promises')),
          rename: async (from: string, to: string) => {
            if (broken) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
            const { rename } = await import('node:fs/promises');
            return rename(from, to);
          },
        } as never,
      },
    });
    await writeFile(t.rosterPath, `${JSON.stringify(LISTED, null, 2)}\n`);
    const before = await onDisk();
    const client = new Client(t.app);
    const failed = await client.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' });
    assert.equal(failed.statusCode, 503);
    assert.match(failed.body, /<h1>The roster could not be saved<\/h1>/);
    assert.doesNotMatch(failed.body, /ENOSPC/);
    assert.equal(await onDisk(), before);
    broken = false;
    assert.equal((await client.register({ github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' })).statusCode, 303);
  });
});

describe('an unreadable roster', () => {
  beforeEach(async () => {
    t = await startApp();
    await writeFile(t.rosterPath, '{"version": 2, "learners": "not mine"}\n');
  });

  test('the registration page is a 503 page naming the problem in plain words', async () => {
    const response = await new Client(t.app).get('/register');
    assert.equal(response.statusCode, 503);
    assert.match(response.body, /<h1>The roster file could not be read<\/h1>/);
    assert.match(response.body, /<main id="main-content"/);
    assert.doesNotMatch(response.body, /version must be 1|at .*\.ts/);
  });

  test('a registration is refused with 503 and the file is left byte for byte as it was', async () => {
    const client = new Client(t.app);
    // Get a form while the file is fine, then break it before sending.
    const before = await onDisk();
    await writeFile(t.rosterPath, JSON.stringify({ version: 1, learners: [] }));
    const csrf_token = await client.csrf('/register');
    await writeFile(t.rosterPath, before!);
    const response = await client.post('/register', { csrf_token, github_handle: 'grace', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal(response.statusCode, 503);
    assert.equal(await onDisk(), before);
  });
});

describe('a roster file over COMPANION_ROSTER_MAX_BYTES', () => {
  test('gets the 503 page, is left as it is, and a registration is refused', async () => {
    t = await startApp({ COMPANION_ROSTER_MAX_BYTES: '64' });
    const client = new Client(t.app);
    const csrf_token = await client.csrf('/register');
    const text = `${JSON.stringify({ version: 1, cohorts: [], learners: [], padding: 'x'.repeat(64) })}\n`;
    await writeFile(t.rosterPath, text);
    const page = await client.get('/register');
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /<h1>The roster file could not be read<\/h1>/);
    const response = await client.post('/register', { csrf_token, github_handle: 'grace', cohort_id: 'c1', path: 'day1-day2' });
    assert.equal(response.statusCode, 503);
    assert.equal(await onDisk(), text);
  });
});
