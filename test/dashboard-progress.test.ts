/**
 * The dashboard with derived progress (GitHub mode, against the simulator):
 * statuses derived with their evidence, the needs-attention list, the
 * snapshot's time, a refresh on request, and local mode's words.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Client, startApp, type TestApp } from './helpers/app.js';
import { FAST_GITHUB, COHORT_IN_PROGRESS, PROGRESS_PERMISSIONS, ROOM, githubEnv, rosterText, seedCohortInProgress, startAdmin, type SimulatedAdmin } from './helpers/github.js';

let t: TestApp | null = null;
let admin: SimulatedAdmin | null = null;
afterEach(async () => {
  await t?.close();
  await admin?.close();
  t = null;
  admin = null;
});

async function githubDashboard(): Promise<{ t: TestApp; admin: SimulatedAdmin; client: Client }> {
  admin = await startAdmin({ roster: rosterText(COHORT_IN_PROGRESS(Date.now())), permissions: PROGRESS_PERMISSIONS });
  seedCohortInProgress(admin, Date.now());
  t = await startApp({ ...githubEnv(admin), COMPANION_STUCK_MINUTES: '20' }, { github: FAST_GITHUB });
  const client = new Client(t.app);
  await client.signIn();
  const deadline = Date.now() + 10_000;
  while (!/Progress as read from GitHub at/.test((await client.get('/dashboard')).body)) {
    if (Date.now() > deadline) throw new Error('progress was never read');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { t, admin, client };
}

describe('dashboard with derived progress', () => {
  test('statuses are derived from GitHub with their evidence, and the roster\'s own status is not used', async () => {
    const { client } = await githubDashboard();
    const page = (await client.get('/dashboard')).body;
    // Ada's roster status says awaiting-ack; her own "ack" and a closed challenge say active on day 1.
    assert.match(page, /<td>Active on day 1<span class="status-detail">[^<]*ada-lovelace[^<]*<\/span><\/td>/);
    assert.match(page, /By progress status \(derived from GitHub\)/);
    assert.match(page, /<dt>Active on day 1<\/dt>\s*<dd>1<\/dd>/);
  });

  test('the cohort overview gives each cohort its start, whether it is running, and its learners by state and derived status in words', async () => {
    const { client } = await githubDashboard();
    const page = (await client.get('/dashboard')).body;
    const overview = page.slice(page.indexOf('<h2>Cohorts</h2>'), page.indexOf('<h2>Summary</h2>'));
    assert.match(overview, /<caption id="cohorts-caption">Every cohort: when it starts, and its learners by provisioning state and by status<\/caption>/);
    assert.match(overview, /<th scope="row"><a href="\/dashboard\?cohort=spring-2026">Spring 2026 cohort<\/a><\/th>\s*<td><time datetime="[^"]+">[^<]+<\/time> \(running now\)<\/td>\s*<td>2<\/td>\s*<td>1 provisioned, 1 failed<\/td>\s*<td>1 awaiting acknowledgement, 1 active on day 1<\/td>/);
  });

  test('the needs-attention list comes before the table and says why in words', async () => {
    const { client } = await githubDashboard();
    const page = (await client.get('/dashboard')).body;
    const attention = page.indexOf('<h2>Needs attention</h2>');
    assert.ok(attention > 0 && attention < page.indexOf('<h2>Learners</h2>'));
    const list = page.slice(attention, page.indexOf('</ul>', attention));
    assert.match(list, /<a href="\/learners\/spring-2026\/ada-lovelace">ada-lovelace<\/a> \(spring-2026\): Stuck on Challenge 2 for 40 minutes/);
    assert.match(list, /<a href="\/learners\/spring-2026\/grace-hopper">grace-hopper<\/a> \(spring-2026\): Provisioning failed[^<]*the template repository could not be read/);
  });

  test('a facilitator can ask for progress to be read again now: POST with CSRF, then a status message', async () => {
    const { client, admin } = await githubDashboard();
    const page = (await client.get('/dashboard')).body;
    const csrf = /action="\/dashboard\/refresh-progress[^"]*"[^]*?name="csrf_token" value="([^"]+)"/.exec(page)![1]!;
    const mark = admin.sim.requests.mark();
    const refused = await client.post('/dashboard/refresh-progress', { csrf_token: 'forged' });
    assert.equal(refused.statusCode, 400);
    const response = await client.post('/dashboard/refresh-progress', { csrf_token: csrf });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/dashboard?progress=refreshing');
    const after = (await client.get('/dashboard?progress=refreshing')).body;
    assert.match(after, /<div role="status">\s*<p>Progress is being read from GitHub again now\./);
    const deadline = Date.now() + 5_000;
    while (admin.sim.requests.count({ afterSeq: mark, path: `/repos/${ROOM}/issues` }) === 0) {
      assert.ok(Date.now() < deadline, 'the refresh never read GitHub');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  test('the refresh comes back to the same filtered, sorted page, and nothing else passes through its address', async () => {
    const { client } = await githubDashboard();
    const page = (await client.get('/dashboard?state=failed&sort=registered')).body;
    assert.match(page, /<form method="post" action="\/dashboard\/refresh-progress\?state=failed&amp;sort=registered"/);
    const csrf = /action="\/dashboard\/refresh-progress[^"]*"[^]*?name="csrf_token" value="([^"]+)"/.exec(page)![1]!;
    const response = await client.post('/dashboard/refresh-progress?state=failed&sort=registered&next=%2F%2Fevil.example', { csrf_token: csrf });
    assert.equal(response.headers.location, '/dashboard?state=failed&sort=registered&progress=refreshing');
  });

  test('an anonymous visitor cannot ask for a refresh', async () => {
    const { t } = await githubDashboard();
    const anonymous = new Client(t.app);
    const csrf_token = await anonymous.csrf('/register');
    const response = await anonymous.post('/dashboard/refresh-progress', { csrf_token });
    assert.equal(response.statusCode, 303);
    assert.match(String(response.headers.location), /^\/login\?/);
  });

  test('a GitHub failure leaves the last snapshot on screen with the problem in words', async () => {
    const { client, admin } = await githubDashboard();
    admin.sim.faults.revokeToken(admin.token);
    const page0 = (await client.get('/dashboard')).body;
    const csrf = /action="\/dashboard\/refresh-progress[^"]*"[^]*?name="csrf_token" value="([^"]+)"/.exec(page0)![1]!;
    await client.post('/dashboard/refresh-progress', { csrf_token: csrf });
    const deadline = Date.now() + 5_000;
    let page = '';
    while (!/Problem reading progress/.test((page = (await client.get('/dashboard')).body))) {
      assert.ok(Date.now() < deadline, 'the problem was never shown');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(page, /did not accept the token/);
    assert.match(page, /The last progress read is shown\./);
    assert.match(page, /<td>Active on day 1<span/);
  });
});

describe('dashboard in local mode', () => {
  test('says that live progress needs GitHub mode, and still lists what the roster shows needs attention', async () => {
    t = await startApp();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(t.rosterPath, rosterText(COHORT_IN_PROGRESS(Date.now())));
    const client = new Client(t.app);
    await client.signIn();
    const page = (await client.get('/dashboard')).body;
    assert.match(page, /Live progress needs GitHub mode\./);
    assert.match(page, /By progress status \(as recorded in the roster\)/);
    assert.match(page, /grace-hopper<\/a> \(spring-2026\): Provisioning failed/);
    assert.doesNotMatch(page, /refresh-progress/);
  });
});
