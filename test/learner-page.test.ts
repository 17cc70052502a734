/**
 * The page per learner (/learners/{cohort_id}/{github_handle}): facilitators
 * only, every roster field including notes, progress derived from GitHub
 * with its evidence (GitHub mode, against the simulator) or the roster's own
 * value (local mode), the challenge list, the provisioning attempts and the
 * links to GitHub; found by the contract's identity key.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { learnerPath } from '../src/routes/learners.js';
import { serializeRoster, type Learner, type Roster } from '../src/roster/contract.js';
import { Client, startApp, startAppWithRoster, type TestApp } from './helpers/app.js';
import { provisionedLearner } from './helpers/fixtures.js';
import { FAST_GITHUB, COHORT_IN_PROGRESS, EXAMPLE_ROSTER, PROGRESS_PERMISSIONS, ROOM, githubEnv, rosterText, seedCohortInProgress, startAdmin, type SimulatedAdmin } from './helpers/github.js';

let t: TestApp | null = null;
let admin: SimulatedAdmin | null = null;
afterEach(async () => {
  await t?.close();
  await admin?.close();
  t = null;
  admin = null;
});

function roster(...learners: Learner[]): string {
  const value: Roster = { ...EXAMPLE_ROSTER, learners };
  return serializeRoster(value, new Date('2026-01-15T09:00:00.000Z'));
}

/** A signed-in facilitator on a local-mode companion whose roster holds `learners`. */
async function localPage(...learners: Learner[]): Promise<Client> {
  t = await startAppWithRoster(roster(...learners));
  const client = new Client(t.app);
  await client.signIn();
  return client;
}

/** The text of `<main>`, tags removed and spaces collapsed, to read the page's words. */
function words(html: string): string {
  const main = html.slice(html.indexOf('<main'), html.indexOf('</main>'));
  return main.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

describe('the learner page in local mode', () => {
  test('shows every roster field, notes included, with times in words and <time>, and says live progress needs GitHub mode', async () => {
    const client = await localPage(provisionedLearner({ enrollment_repo: 'Community-Access/git-going-with-github', custom_field: 'kept as it is' }));
    const response = await client.get('/learners/spring-2026/ada-lovelace');
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    const page = response.body;
    assert.match(page, /<title>Learner: ada-lovelace - GLOW Companion<\/title>/);
    assert.match(page, /<h1>Learner: ada-lovelace<\/h1>/);
    const text = words(page);
    for (const expected of [
      /GitHub username ada-lovelace/,
      /Cohort Spring 2026 cohort \(spring-2026\)/,
      /Path Both days/,
      /Learning Room repository Community-Access\/learning-room-spring-2026-ada-lovelace/,
      /Provisioning state Provisioned/,
      /Progress status recorded in the roster Active on day 1/,
      /Enrollment repository Community-Access\/git-going-with-github/,
      /Enrollment issue number 7/,
      /Facilitator notes private facilitator note/,
      /Other field: custom_field kept as it is/,
      /Live progress needs GitHub mode; this is the value recorded in the roster\./,
    ]) {
      assert.match(text, expected);
    }
    assert.match(page, /<dt>Registered<\/dt>\s*<dd><time datetime="2026-01-14T18:22:00.000Z">14 January 2026(?: at|,) 18:22 UTC<\/time><\/dd>/);
    assert.match(page, /<a href="https:\/\/github.com\/ada-lovelace">ada-lovelace on GitHub<\/a>/);
    assert.match(page, /<a href="https:\/\/github.com\/Community-Access\/learning-room-spring-2026-ada-lovelace">/);
    assert.match(page, /<a href="https:\/\/github.com\/Community-Access\/git-going-with-github\/issues\/7">Community-Access\/git-going-with-github#7<\/a>/);
    assert.match(page, /<a href="\/dashboard">Back to the cohort dashboard<\/a>/);
  });

  test('a learner without notes says "No notes", and one with a failed provisioning state says so under needs attention', async () => {
    const client = await localPage(provisionedLearner({ notes: '', provision_state: 'failed', learning_room_repo: null }));
    const text = words((await client.get('/learners/spring-2026/ada-lovelace')).body);
    assert.match(text, /Facilitator notes No notes/);
    assert.match(text, /Needs attention Provisioning failed/);
    assert.match(text, /Learning Room: Not yet created/);
    assert.match(text, /Enrollment issue: Not recorded/);
  });

  test('the handle is found without regard to case or a leading @; the cohort id must match', async () => {
    const client = await localPage(provisionedLearner({ github_handle: 'Ada-Lovelace' }));
    for (const url of ['/learners/spring-2026/ada-lovelace', '/learners/spring-2026/ADA-LOVELACE', '/learners/spring-2026/%40ada-lovelace']) {
      const response = await client.get(url);
      assert.equal(response.statusCode, 200, url);
      assert.match(response.body, /<h1>Learner: Ada-Lovelace<\/h1>/, url);
    }
    assert.equal((await client.get('/learners/autumn-2026/ada-lovelace')).statusCode, 404);
  });

  test('an unknown learner gets the 404 page', async () => {
    const client = await localPage(provisionedLearner());
    const response = await client.get('/learners/spring-2026/grace-hopper');
    assert.equal(response.statusCode, 404);
    assert.match(response.body, /<h1>Page not found<\/h1>/);
    assert.equal((await client.get('/learners/spring-2026')).statusCode, 404);
  });

  test('an anonymous visitor is sent to sign in and comes back to the same learner afterwards, without seeing anything', async () => {
    t = await startAppWithRoster(roster(provisionedLearner()));
    const anonymous = new Client(t.app);
    const response = await anonymous.get('/learners/spring-2026/ada-lovelace');
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, `/login?next=${encodeURIComponent('/learners/spring-2026/ada-lovelace')}`);
    assert.doesNotMatch(response.body, /private facilitator note/);
    // An unknown learner gives anonymous visitors the same answer: nobody learns who is in the roster.
    assert.equal((await anonymous.get('/learners/spring-2026/nobody')).statusCode, 303);
    const signIn = await anonymous.signIn(undefined, '/learners/spring-2026/ada-lovelace');
    assert.equal(signIn.headers.location, '/learners/spring-2026/ada-lovelace');
  });

  test('a cohort id and handle that need percent-encoding: learnerPath encodes them and the page finds the learner', async () => {
    const cohort = 'spring 2026/évening?#&%';
    const learner = provisionedLearner({ cohort_id: cohort, github_handle: '@Ada-Lovelace' });
    const path = learnerPath(learner);
    assert.equal(path, `/learners/${encodeURIComponent(cohort)}/Ada-Lovelace`);
    assert.equal(path, '/learners/spring%202026%2F%C3%A9vening%3F%23%26%25/Ada-Lovelace');
    const client = await localPage(learner);
    const response = await client.get(path);
    assert.equal(response.statusCode, 200);
    assert.match(words(response.body), /Cohort spring 2026\/évening\?#&amp;%/);
  });

  test('nothing from the roster is written into the page unescaped', async () => {
    const client = await localPage(
      provisionedLearner({ notes: '<script>alert("note")</script>\nsecond line & more', learning_room_repo: 'x/"><img src=x onerror=alert(1)>', odd: '<b>bold</b>' }),
    );
    const page = (await client.get('/learners/spring-2026/ada-lovelace')).body;
    assert.doesNotMatch(page, /<script>alert/);
    assert.doesNotMatch(page, /<img src=x/);
    assert.doesNotMatch(page, /<b>bold/);
    assert.match(page, /&lt;script&gt;alert\(&quot;note&quot;\)&lt;\/script&gt;<br>second line &amp; more/);
    // A repository name that is not well formed is shown, never linked.
    assert.doesNotMatch(page, /href="https:\/\/github.com\/x\//);
  });
});

describe('the learner page in GitHub mode', () => {
  async function githubLearner(handle: string): Promise<string> {
    admin = await startAdmin({ roster: rosterText(COHORT_IN_PROGRESS(Date.now())), permissions: PROGRESS_PERMISSIONS });
    seedCohortInProgress(admin, Date.now());
    t = await startApp({ ...githubEnv(admin), COMPANION_STUCK_MINUTES: '20' }, { github: FAST_GITHUB });
    const client = new Client(t.app);
    await client.signIn();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await client.get(`/learners/spring-2026/${handle}`);
      if (response.statusCode === 200 && /Status \(derived from GitHub\)/.test(response.body)) return response.body;
      if (Date.now() > deadline) throw new Error(`progress was never read (last answer ${response.statusCode})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  test('shows the derived status with its evidence, the snapshot time, and the challenge list with the current challenge in words', async () => {
    const page = await githubLearner('ada-lovelace');
    const text = words(page);
    // The roster says awaiting acknowledgement; her own "ack" and a closed challenge say active on day 1.
    assert.match(text, /Status \(derived from GitHub\) Active on day 1/);
    assert.match(text, /Evidence ada-lovelace&#39;s comment saying &quot;ack&quot; on [^;]+; Challenge 1 closed on /);
    assert.match(page, /Progress as read from GitHub at <time datetime="[^"]+">/);
    assert.match(text, /Stuck on Challenge 2 for 40 minutes/);
    assert.match(text, /Current challenge Challenge 2/);
    assert.match(page, /<caption id="challenges-caption">Challenges of ada-lovelace \(2\)<\/caption>/);
    assert.match(page, /<th scope="row">Challenge 1<\/th>\s*<td><a href="https:\/\/github.com\/[^"]+\/issues\/1">Challenge 1<\/a><\/td>\s*<td>Closed<\/td>/);
    assert.match(page, /<th scope="row">Challenge 2<\/th>\s*<td><a href="https:\/\/github.com\/[^"]+\/issues\/2">Challenge 2<\/a><\/td>\s*<td><strong>Open: the current challenge<\/strong><\/td>/);
    assert.match(page, new RegExp(`<a href="https://github.com/${ROOM}">${ROOM}</a>`));
    assert.match(page, /<a href="https:\/\/github.com\/Community-Access\/git-going-with-github\/issues\/1">/);
    assert.match(text, /The provisioning log has no attempt for ada-lovelace\./);
  });

  test('shows a failed provisioning attempt with its error in the attempts table and under needs attention', async () => {
    const page = await githubLearner('GRACE-HOPPER');
    const text = words(page);
    assert.match(page, /<h1>Learner: grace-hopper<\/h1>/);
    assert.match(text, /Needs attention Provisioning failed on [^:]+:\d\d UTC: the template repository could not be read/);
    assert.match(page, /<caption id="provisioning-caption">Provisioning attempts for grace-hopper, oldest first \(1\)<\/caption>/);
    assert.match(page, /<th scope="row"><time datetime="[^"]+">[^<]+<\/time><\/th>\s*<td>Failed<\/td>\s*<td>None<\/td>\s*<td>the template repository could not be read<\/td>/);
    assert.match(text, /Learning Room: Not yet created/);
    assert.match(text, /Status \(derived from GitHub\) Awaiting acknowledgement/);
  });
});
