/**
 * GitHub mode across real processes (spec/github.md, the sync rules): each
 * companion is `node --import tsx src/server.ts` with its own working copy,
 * registrations are real form posts over HTTP, and GitHub is the project's
 * simulator, sometimes behind a proxy that can hold or drop a request. Every
 * test closes what it starts (processes killed and awaited, the simulator
 * stopped, folders removed) even when an assertion fails, and looks for the
 * token in everything the processes wrote.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { PROVISION_STATES, STATUSES, keyOfLearner, learnerKey, parseRoster, serializeRoster, type Learner, type Roster } from '../src/roster/contract.js';
import { ADMIN, ADMIN_REPO, EXAMPLE_ROSTER, rosterText, startAdmin, type SimulatedAdmin } from './helpers/github.js';
import { Companion, companionEnv, pool, registerOverHttp, sleep, startProxy, until, type Registration } from './helpers/companions.js';
import { tempDir } from './helpers/app.js';

const COHORT = 'spring-2026';

/** A learner already in the roster of record, as provisioning left it. */
function seeded(handle: string): Learner {
  return { ...EXAMPLE_ROSTER.learners[0]!, github_handle: handle, learning_room_repo: `Community-Access/learning-room-${COHORT}-${handle}`, notes: '' };
}

function registration(handle: string, i = 0): Registration {
  return { github_handle: handle, cohort_id: COHORT, path: i % 2 === 0 ? 'day1-day2' : 'day2-only' };
}

/** How many times each identity key is in a roster. */
function keyCounts(roster: Roster): Map<string, number> {
  const counts = new Map<string, number>();
  for (const learner of roster.learners) counts.set(keyOfLearner(learner), (counts.get(keyOfLearner(learner)) ?? 0) + 1);
  return counts;
}

/** Every registration once in the roster, and no key twice. */
function assertEachOnce(roster: Roster, registrations: readonly Registration[], where: string): void {
  const counts = keyCounts(roster);
  const missing = registrations.filter((r) => counts.get(learnerKey(r.github_handle, r.cohort_id)) !== 1);
  assert.deepEqual(missing.map((r) => `${r.github_handle}: ${counts.get(learnerKey(r.github_handle, r.cohort_id)) ?? 0} times`), [], `${where}: registrations not there exactly once`);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${where}: keys more than once`);
}

function hasAll(admin: SimulatedAdmin, registrations: readonly Registration[]): boolean {
  const counts = keyCounts(admin.record());
  return registrations.every((r) => counts.has(learnerKey(r.github_handle, r.cohort_id)));
}

/** The roster of record's text is what the provisioning tool's serializer would write for it. */
function assertCanonical(text: string): void {
  const parsed = parseRoster(text);
  assert.ok(parsed.generated_at, 'generated_at is set');
  assert.equal(text, serializeRoster(parsed, new Date(parsed.generated_at)), 'the roster of record is not canonical');
}

/** The companions' commits on the admin repository's branch (the others are the writers'). */
function companionCommits(admin: SimulatedAdmin) {
  return admin.sim.state.history(ADMIN_REPO).filter((c) => c.message.startsWith('Companion:'));
}

/** Starts the simulator for a test, stopped when the test ends. */
async function simulator(t: TestContext, roster?: string): Promise<SimulatedAdmin> {
  const admin = await startAdmin(roster === undefined ? {} : { roster });
  t.after(() => admin.close());
  return admin;
}

/** Makes (not starts) a companion, killed and removed when the test ends. */
async function companion(t: TestContext, name: string, env: (rosterPath: string) => Record<string, string>): Promise<Companion> {
  const c = await Companion.create(name, env);
  t.after(() => c.close());
  return c;
}

async function ready(companions: readonly Companion[], ms: number): Promise<void> {
  await Promise.all(companions.map((c) => until(`${c.name}'s /readyz is 200`, async () => (await c.readyStatus()) === 200, ms, 100, () => c.output().slice(-2000))));
}

/** Every companion ready, with nothing waiting in its outbox. */
async function settled(companions: readonly Companion[], ms: number): Promise<void> {
  await Promise.all(
    companions.map((c) =>
      until(`${c.name} is ready with an empty outbox`, async () => (await c.pending()) === 0 && (await c.readyStatus()) === 200, ms, 100, async () => `${await c.pending()} waiting\n${c.output().slice(-3000)}`),
    ),
  );
}

/** Registers each over HTTP on the companion `on(i)`, `limit` at a time; every one must be answered 303 (a success page). */
async function registerAll(registrations: readonly Registration[], on: (i: number) => Companion, limit: number): Promise<void> {
  const statuses = await pool(registrations, limit, (r, i) => registerOverHttp(on(i).base, r));
  const refused = statuses.map((s, i) => [registrations[i]!.github_handle, s] as const).filter(([, s]) => s !== 303);
  assert.deepEqual(refused, [], 'every registration gets its success page (303)');
}

/** Resolves with `promise`, or fails naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting until ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function assertNoSecret(companions: readonly Companion[], secrets: ReadonlyArray<readonly [string, string]>): void {
  for (const c of companions) {
    const output = c.output();
    assert.ok(output.length > 0, `${c.name} wrote nothing at all`);
    for (const [name, secret] of secrets) assert.ok(!output.includes(secret), `${c.name}'s output carries the ${name}`);
  }
}

test('three companions and a concurrent writer of provisioning fields: every registration once, every other change kept, the file canonical, few commits', async (t) => {
  const started = Date.now();
  const gone = ['gone-0', 'gone-1', 'gone-2', 'gone-3'];
  const initial: Roster = { ...EXAMPLE_ROSTER, learners: [...EXAMPLE_ROSTER.learners, ...Array.from({ length: 20 }, (_, i) => seeded(`seed-${i}`)), ...gone.map(seeded)] };
  const admin = await simulator(t, rosterText(initial));
  const companions = await Promise.all(['a', 'b', 'c'].map((name) => companion(t, name, (rosterPath) => companionEnv(admin, rosterPath))));
  await Promise.all(companions.map((c) => c.start()));
  await ready(companions, 15_000);
  const readyMs = Date.now() - started;

  // The other writer (provisioning, facilitators): it flips provision_state and status of learners in the roster of
  // record, and deletes the `gone-*` learners, committing between the companions' reads and writes. It writes valid JSON
  // that is not canonical (learners in reverse key order, generated_at as it was), as a tool other than the companion might.
  const last = new Map<string, { provision_state: string; status: string }>();
  const deleted = new Set<string>();
  let random = 42;
  const next = (n: number) => ((random = (random * 1_103_515_245 + 12_345) % 2 ** 31), random % n);
  const change = (text: string): string => {
    const roster = parseRoster(text);
    let learners = [...roster.learners];
    const doomed = learners.findIndex((l) => gone.includes(l.github_handle));
    if (doomed >= 0 && next(3) === 0) {
      deleted.add(keyOfLearner(learners[doomed]!));
      learners = learners.toSpliced(doomed, 1);
    }
    for (let k = 0; k < 2; k++) {
      // One of the two is, once there are any, a learner a companion registered.
      const candidates = learners.map((l, i) => [l, i] as const).filter(([l]) => !gone.includes(l.github_handle) && (k === 0 || l.github_handle.startsWith('p-')));
      if (candidates.length === 0) continue;
      const [learner, i] = candidates[next(candidates.length)]!;
      const value = { provision_state: PROVISION_STATES[next(PROVISION_STATES.length)]!, status: STATUSES[next(STATUSES.length)]! };
      learners[i] = { ...learner, ...value };
      last.set(keyOfLearner(learner), value);
    }
    return `${JSON.stringify({ ...roster, learners: learners.reverse() }, null, 2)}\n`;
  };
  const writer = { repo: ADMIN_REPO, path: 'roster.json', transform: change, message: 'provisioning: states' };
  admin.sim.faults.concurrentWriter({ ...writer, when: 'after-get', count: 10 });
  admin.sim.faults.concurrentWriter({ ...writer, when: 'before-put', count: 5 });
  let writing = true;
  const loop = (async () => {
    while (writing) {
      admin.sim.state.commitFile(ADMIN_REPO, 'roster.json', change(admin.recordText()), { message: 'facilitator: states' });
      await sleep(100);
    }
  })();
  t.after(async () => {
    writing = false;
    await loop;
  });

  const registrations = Array.from({ length: 300 }, (_, i) => registration(`p-${i}`, i));
  const registering = Date.now();
  await registerAll(registrations, (i) => companions[i % 3]!, 12);
  const registeredMs = Date.now() - registering;
  // The writer goes on until it has changed a good number of the learners the companions committed, and deleted its four.
  const ofRegistered = () => [...last.keys()].filter((key) => key.startsWith('p-')).length;
  await until('the writer has changed learners the companions committed', () => ofRegistered() >= 30 && deleted.size === gone.length, 20_000, 50);
  writing = false;
  await loop;
  admin.sim.faults.clear();

  // One more registration on each, so the last commits are the companions' own, made on top of the writer's.
  const finals = companions.map((_, i) => registration(`final-${i}`, i));
  await Promise.all(finals.map((r, i) => registerOverHttp(companions[i]!.base, r).then((status) => assert.equal(status, 303))));
  const all = [...registrations, ...finals];
  await until('every registration is in the roster of record', () => hasAll(admin, all), 30_000, 100);
  await settled(companions, 20_000);
  const convergedMs = Date.now() - registering;

  const text = admin.recordText();
  const record = parseRoster(text);
  assertEachOnce(record, all, 'the roster of record');
  // Every change the other writer made is still there: its last value for each learner.
  const lost = [...last].filter(([key]) => {
    const learner = record.learners.find((l) => keyOfLearner(l) === key);
    return learner === undefined || learner.provision_state !== last.get(key)!.provision_state || learner.status !== last.get(key)!.status;
  });
  assert.deepEqual(lost.map(([key]) => key), [], 'changes by the other writer were undone');
  assert.deepEqual(record.learners.filter((l) => deleted.has(keyOfLearner(l))).map((l) => l.github_handle), [], 'a deleted learner came back');
  assert.equal(record.learners.length, initial.learners.length - deleted.size + all.length);
  assertCanonical(text);
  // Each companion's working copy follows the roster of record within an interval or so (2 s here): the same learners, field for field.
  const local = async (c: Companion) => parseRoster(await readFile(c.rosterPath, 'utf8'));
  const recordKeys = JSON.stringify(record.learners.map(keyOfLearner));
  await Promise.all(companions.map((c) => until(`${c.name}'s working copy follows the roster of record`, async () => JSON.stringify((await local(c)).learners.map(keyOfLearner)) === recordKeys, 6_000, 100)));
  for (const c of companions) assert.deepEqual((await local(c)).learners, record.learners, `${c.name}'s working copy`);

  const commits = companionCommits(admin);
  assert.ok(commits.every((c) => /^Companion: \d+ registrations?$/.test(c.message)), 'commit messages carry a count only');
  const ratio = commits.length / all.length;
  t.diagnostic(`${all.length} registrations in ${registeredMs} ms, all committed ${convergedMs} ms after the first; ${commits.length} companion commits (${ratio.toFixed(3)} per registration), ${admin.sim.requests.count({ method: 'PUT', status: 409 })} conflicts; writer: ${last.size} learners changed (${ofRegistered()} registered here), ${deleted.size} deleted; ready after ${readyMs} ms, ${Date.now() - started} ms in all`);
  assert.ok(ratio <= 0.1, `a burst should go out as few commits: ${commits.length} for ${all.length}`);
  assertNoSecret(companions, [['token', admin.token]]);
});

test('a companion killed with SIGKILL while its commit is on the way, and started again on its working copy: nothing lost, nothing twice', async (t) => {
  const admin = await simulator(t);
  const proxy = await startProxy(admin.url);
  t.after(() => proxy.close());
  const c = await companion(t, 'killed', (rosterPath) => companionEnv(admin, rosterPath, { COMPANION_GITHUB_API_URL: proxy.url }));
  await c.start();
  await ready([c], 15_000);
  const sent: Registration[] = [];

  /**
   * Registers `before`; holds the commit that carries them at the proxy (on its way to GitHub); registers `during`
   * (recorded just before the kill, in no commit yet); SIGKILLs the companion; then lets the held commit reach GitHub
   * (it lands, but nobody hears the answer) or drops it (it never lands).
   */
  async function killDuringCommit(fate: 'forward' | 'drop', before: Registration[], during: Registration[]): Promise<void> {
    let arrived!: () => void;
    const putArrived = new Promise<void>((resolve) => (arrived = resolve));
    let release!: (decision: 'forward' | 'drop') => void;
    const released = new Promise<'forward' | 'drop'>((resolve) => (release = resolve));
    t.after(() => release('drop'));
    proxy.intercept((method, requestPath) => {
      if (method !== 'PUT' || !requestPath.endsWith('/contents/roster.json')) return 'forward';
      arrived();
      return released;
    });
    await registerAll(before, () => c, 8);
    sent.push(...before);
    await within(putArrived, 15_000, 'a commit reaches the proxy');
    await registerAll(during, () => c, 8);
    sent.push(...during);
    await c.kill();
    proxy.intercept(null);
    release(fate);
    await proxy.settled();
  }

  const batch = (name: string, n: number) => Array.from({ length: n }, (_, i) => registration(`${name}-${i}`, i));

  // 1. The commit lands after the process died: on restart, what it carried must not be sent twice, the rest must be sent.
  const landed = batch('landed', 20);
  const late = batch('late', 10);
  await killDuringCommit('forward', landed, late);
  const afterFirst = keyCounts(admin.record());
  assert.ok(landed.some((r) => afterFirst.has(learnerKey(r.github_handle, r.cohort_id))), 'the held commit reached GitHub');
  assert.ok(!late.some((r) => afterFirst.has(learnerKey(r.github_handle, r.cohort_id))), 'registrations after the read were not in that commit');
  const putsBefore = admin.sim.requests.count({ method: 'PUT', status: 200 });
  await c.start();
  await until('every registration is in the roster of record', () => hasAll(admin, sent), 20_000, 100);
  await settled([c], 15_000);
  assertEachOnce(admin.record(), sent, 'after the first kill');
  assert.equal(admin.sim.requests.count({ method: 'PUT', status: 200 }) - putsBefore, 1, 'one commit after the restart, for the registrations the lost answer did not cover');

  // 2. The commit never reaches GitHub: everything it carried, and what came after, is sent after the restart.
  const dropped = batch('dropped', 15);
  const last = batch('last', 5);
  await killDuringCommit('drop', dropped, last);
  assert.ok(!dropped.some((r) => keyCounts(admin.record()).has(learnerKey(r.github_handle, r.cohort_id))), 'the dropped commit did not land');
  await c.start();
  await until('every registration is in the roster of record', () => hasAll(admin, sent), 20_000, 100);
  await settled([c], 15_000);
  const record = admin.record();
  assertEachOnce(record, sent, 'after the second kill');
  assert.equal(record.learners.length, EXAMPLE_ROSTER.learners.length + sent.length);
  assertEachOnce(parseRoster(await readFile(c.rosterPath, 'utf8')), sent, 'the working copy');
  assertCanonical(admin.recordText());
  assertNoSecret([c], [['token', admin.token]]);
});

test('an outage across a restart: registrations succeed while GitHub is down, survive a stop and start, and arrive once when it is back', async (t) => {
  const admin = await simulator(t);
  const c = await companion(t, 'outage', (rosterPath) => companionEnv(admin, rosterPath));
  await c.start();
  await ready([c], 15_000);

  // GitHub answers 503 to everything.
  admin.sim.faults.serverError({ status: 503, count: 1_000_000 });
  let mark = admin.sim.requests.mark();
  const first = Array.from({ length: 20 }, (_, i) => registration(`down-${i}`, i));
  await registerAll(first, () => c, 8);
  await until('the companion has met the outage', () => admin.sim.requests.count({ afterSeq: mark, status: 503 }) > 0, 10_000);
  assert.equal(await c.pending(), first.length, 'each registration waits in the outbox');

  // A graceful stop while GitHub is down does not wait for GitHub.
  const stop = await c.terminate(20_000);
  t.diagnostic(`SIGTERM during the outage: exited in ${stop.ms} ms (code ${stop.code}, signal ${stop.signal})`);
  assert.equal(stop.timedOut, false, 'the companion did not stop on SIGTERM');
  assert.equal(stop.code, 0);
  // Its round in flight is waiting on the client's retries (1 + 4 + 9 s of backoff for a 503); the stop must not wait for them.
  assert.ok(stop.ms < 8_000, `SIGTERM took ${stop.ms} ms: the shutdown waited for GitHub`);
  assert.equal(await c.pending(), first.length, 'the outbox survives the stop');

  // Started again while GitHub is still down, now dropping connections instead.
  admin.sim.faults.clear();
  admin.sim.faults.networkFailure({ count: 1_000_000 });
  mark = admin.sim.requests.mark();
  await c.start();
  const second = Array.from({ length: 10 }, (_, i) => registration(`still-down-${i}`, i));
  await registerAll(second, () => c, 8);
  await until('the restarted companion has met the outage', () => admin.sim.requests.count({ afterSeq: mark, status: 0 }) > 0, 10_000);
  assert.equal(await c.pending(), first.length + second.length);
  assert.equal(await c.readyStatus(), 503, 'not ready before a sync has succeeded');
  const all = [...first, ...second];
  assert.ok(!all.some((r) => keyCounts(admin.record()).has(learnerKey(r.github_handle, r.cohort_id))));

  // GitHub is back.
  const back = Date.now();
  admin.sim.faults.clear();
  await until('every registration is in the roster of record', () => hasAll(admin, all), 30_000, 100);
  t.diagnostic(`all ${all.length} registrations in the roster of record ${Date.now() - back} ms after GitHub came back`);
  await settled([c], 15_000);
  assertEachOnce(admin.record(), all, 'after the outage');
  assertCanonical(admin.recordText());
  assertNoSecret([c], [['token', admin.token]]);
});

test('a used-up rate limit is honoured by every companion sharing the token: a request or two each before the reset, then everything arrives', async (t) => {
  const admin = await simulator(t);
  const companions = await Promise.all(['r1', 'r2'].map((name) => companion(t, name, (rosterPath) => companionEnv(admin, rosterPath, { COMPANION_SYNC_INTERVAL: '1' }))));
  await Promise.all(companions.map((c) => c.start()));
  await ready(companions, 15_000);

  admin.sim.faults.exhaustRateLimit({ token: admin.token, resetInSeconds: 8 });
  const resetAt = admin.sim.rateLimiter.snapshot()['user:glow-companion-bot']!.reset * 1000;
  const mark = admin.sim.requests.mark();
  const registrations = Array.from({ length: 20 }, (_, i) => registration(`limited-${i}`, i));
  await registerAll(registrations, (i) => companions[i % 2]!, 8);
  await sleep(Math.max(0, resetAt - Date.now() - 1_000));
  for (const c of companions) {
    const answer = await fetch(`${c.base}/readyz`);
    assert.equal(answer.status, 503, `${c.name} is not ready while rate-limited`);
    assert.match(((await answer.json()) as { reason: string }).reason, /rate limit/);
  }
  await sleep(Math.max(0, resetAt - Date.now()));
  const beforeReset = admin.sim.requests.list({ afterSeq: mark }).filter((r) => Date.parse(r.at) < resetAt);
  t.diagnostic(`requests before the reset (8 s, 2 companions, 1 s interval): ${beforeReset.length} (${beforeReset.map((r) => `${r.method} ${r.status}`).join(', ')})`);
  assert.ok(beforeReset.length <= 2 * companions.length, `the companions kept calling a rate-limited API: ${beforeReset.length} requests`);

  await until('every registration is in the roster of record', () => hasAll(admin, registrations), 20_000, 100);
  await settled(companions, 15_000);
  assertEachOnce(admin.record(), registrations, 'after the reset');
  assertNoSecret(companions, [['token', admin.token]]);
});

test('GitHub App authentication: a registration is committed with an installation token; neither the private key nor that token is ever in the output', async (t) => {
  const admin = await simulator(t);
  const installationId = 4711;
  admin.sim.auth.addInstallation({ id: installationId, account: ADMIN.owner, permissions: { contents: 'write', metadata: 'read' }, repositories: [ADMIN_REPO] });
  const privateKey = admin.sim.app.privateKeyPem!;
  const keys = await tempDir('glow-proc-key-');
  t.after(() => keys.cleanup());
  const keyFile = path.join(keys.dir, 'app-key.pem');
  await writeFile(keyFile, privateKey, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  const c = await companion(t, 'app', (rosterPath) => {
    const { COMPANION_GITHUB_TOKEN: _token, ...env } = companionEnv(admin, rosterPath);
    return { ...env, COMPANION_GITHUB_APP_ID: String(admin.sim.app.id), COMPANION_GITHUB_APP_PRIVATE_KEY_FILE: keyFile, COMPANION_GITHUB_APP_INSTALLATION_ID: String(installationId), COMPANION_LOG_LEVEL: 'debug' };
  });
  await c.start();
  await ready([c], 15_000);
  const registrations = Array.from({ length: 5 }, (_, i) => registration(`app-${i}`, i));
  await registerAll(registrations, () => c, 5);
  await until('the registrations are in the roster of record', () => hasAll(admin, registrations), 15_000, 100);
  await settled([c], 15_000);
  assertEachOnce(admin.record(), registrations, 'with App authentication');

  const minted = admin.sim.requests.list({ method: 'POST', path: `/app/installations/${installationId}/access_tokens` });
  assert.ok(minted.some((r) => r.status === 201 && r.identity === `app:${admin.sim.app.id}`), 'an installation token was minted with the App\'s JWT');
  const identity = `installation:${installationId}`;
  assert.ok(admin.sim.requests.count({ method: 'PUT', status: 200, identity }) >= 1, 'the commit was made with the installation token');
  assert.deepEqual(admin.sim.requests.list().filter((r) => !r.path.startsWith('/app/') && r.identity !== identity).map((r) => `${r.method} ${r.path} ${r.identity}`), [], 'every other request used the installation token');
  const installationTokens = [...admin.sim.auth.tokens.values()].filter((r) => r.kind === 'installation').map((r) => r.token);
  assert.ok(installationTokens.length >= 1);
  const keyLines = privateKey.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));
  assertNoSecret([c], [['private key', privateKey.trim()], ...keyLines.map((line) => ['private key', line] as const), ...installationTokens.map((token) => ['installation token', token] as const)]);
});
