/**
 * The GitHub simulator (dev/github-simulator) over real HTTP: the answers
 * GitHub mode depends on, each fault kind, App authentication, and the
 * control API from another process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSign } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createGitHubSimulator, gitBlobSha, type GitHubSimulator, type SimulatorOptions } from '../dev/github-simulator/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ROSTER = `${JSON.stringify({ version: 1, generated_at: '2026-01-15T09:00:00.000Z', cohorts: [], learners: [] }, null, 2)}\n`;

interface Harness {
  sim: GitHubSimulator;
  url: string;
  token: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  send(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

async function harness(options: SimulatorOptions = {}): Promise<Harness> {
  const sim = createGitHubSimulator(options);
  const url = await sim.start();
  let token: string;
  try {
    sim.seedAdminRepo({ owner: 'Community-Access', name: 'glow-admin', rosterText: ROSTER });
    token = sim.addToken({ login: 'companion-bot' });
  } catch (error) {
    await sim.stop();
    throw error;
  }
  const auth = { authorization: `token ${token}` };
  return {
    sim,
    url,
    token,
    get: (path, headers = {}) => fetch(url + path, { headers: { ...auth, ...headers } }),
    send: (method, path, body, headers = {}) =>
      fetch(url + path, { method, headers: { ...auth, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) }),
  };
}

const CONTENTS = '/repos/Community-Access/glow-admin/contents/roster.json';
const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

function signJwt(privateKeyPem: string, claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const data = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
  const signature = createSign('RSA-SHA256').update(data).sign(privateKeyPem).toString('base64url');
  return `${data}.${signature}`;
}

describe('GitHub simulator', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h?.sim.stop();
  });

  test('repository: default branch, full name, private, permissions', async () => {
    const res = await h.get('/repos/community-access/GLOW-admin');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.default_branch, 'main');
    assert.equal(body.full_name, 'Community-Access/glow-admin');
    assert.equal(body.private, true);
    assert.deepEqual(body.permissions, { admin: true, maintain: true, push: true, triage: true, pull: true });
  });

  test('contents: base64 wrapped at 60 characters, git blob sha, ETag; 404 when absent or the ref is unknown', async () => {
    const res = await h.get(`${CONTENTS}?ref=main`);
    assert.equal(res.status, 200);
    const file = (await res.json()) as { type: string; encoding: string; content: string; sha: string; size: number; name: string; path: string };
    assert.equal(file.type, 'file');
    assert.equal(file.encoding, 'base64');
    assert.equal(file.name, 'roster.json');
    assert.equal(file.path, 'roster.json');
    assert.equal(file.size, Buffer.byteLength(ROSTER));
    const lines = file.content.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.ok(lines.slice(0, -1).every((line) => line.length === 60));
    assert.equal(Buffer.from(file.content, 'base64').toString('utf8'), ROSTER);
    assert.equal(file.sha, gitBlobSha(Buffer.from(ROSTER)));
    // The sha git gives `printf 'hello\n' | git hash-object --stdin`.
    assert.equal(gitBlobSha(Buffer.from('hello\n')), 'ce013625030ba8dba906f756967f9e9ca394464a');
    assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]{40}"$/);

    const missing = await h.get('/repos/Community-Access/glow-admin/contents/nothing.json');
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys((await missing.json()) as object).sort(), ['documentation_url', 'message', 'status']);
    const badRef = await h.get(`${CONTENTS}?ref=no-such-branch`);
    assert.equal(badRef.status, 404);
    assert.match(((await badRef.json()) as { message: string }).message, /No commit found for the ref no-such-branch/);
  });

  test('PUT contents: 201 create, 200 update with the current sha, 409 stale sha, 422 without sha or with bad base64', async () => {
    const path = '/repos/Community-Access/glow-admin/contents/notes/put.txt';
    const created = await h.send('PUT', path, { message: 'create', content: b64('one\n'), branch: 'main' });
    assert.equal(created.status, 201);
    const c = (await created.json()) as { content: { sha: string; path: string }; commit: { sha: string; message: string; parents: Array<{ sha: string }> } };
    assert.equal(c.content.sha, gitBlobSha(Buffer.from('one\n')));
    assert.equal(c.content.path, 'notes/put.txt');
    assert.equal(c.commit.message, 'create');
    assert.match(c.commit.sha, /^[0-9a-f]{40}$/);

    const updated = await h.send('PUT', path, { message: 'update', content: b64('two\n'), sha: c.content.sha });
    assert.equal(updated.status, 200);
    const u = (await updated.json()) as { content: { sha: string }; commit: { parents: Array<{ sha: string }> } };
    assert.equal(u.commit.parents[0]?.sha, c.commit.sha);

    const stale = await h.send('PUT', path, { message: 'stale', content: b64('three\n'), sha: c.content.sha });
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as { message: string }).message, `notes/put.txt does not match ${c.content.sha}`);

    const noSha = await h.send('PUT', path, { message: 'blind', content: b64('four\n') });
    assert.equal(noSha.status, 422);
    assert.equal(((await noSha.json()) as { message: string }).message, 'Invalid request.\n\n"sha" wasn\'t supplied.');

    const badBase64 = await h.send('PUT', path, { message: 'bad', content: 'not base64!', sha: u.content.sha });
    assert.equal(badBase64.status, 422);

    const noBranch = await h.send('PUT', path, { message: 'x', content: b64('x'), sha: u.content.sha, branch: 'gone' });
    assert.equal(noBranch.status, 404);

    assert.equal(h.sim.state.readFile('Community-Access/glow-admin', 'notes/put.txt')?.content.toString(), 'two\n');
  });

  test('a matching If-None-Match answers 304 with no body and costs no rate limit', async () => {
    const first = await h.get(CONTENTS);
    await first.arrayBuffer();
    const used = Number(first.headers.get('x-ratelimit-used'));
    const mark = h.sim.requests.mark();
    const again = await h.get(CONTENTS, { 'if-none-match': first.headers.get('etag')! });
    assert.equal(again.status, 304);
    assert.equal((await again.text()).length, 0);
    assert.equal(Number(again.headers.get('x-ratelimit-used')), used);
    assert.equal(again.headers.get('etag'), first.headers.get('etag'));
    const [logged] = h.sim.requests.list({ afterSeq: mark });
    assert.equal(logged?.status, 304);
    assert.equal(logged?.counted, false);
    const changed = await h.get(CONTENTS, { 'if-none-match': '"0000000000000000000000000000000000000000"' });
    assert.equal(changed.status, 200);
    assert.equal(Number(changed.headers.get('x-ratelimit-used')), used + 1);
  });

  test('a file over 1 MB: encoding "none" and empty content; the blobs API has it', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 'a');
    const commit = h.sim.state.commitFile('Community-Access/glow-admin', 'big.json', big);
    const res = await h.get('/repos/Community-Access/glow-admin/contents/big.json');
    const file = (await res.json()) as { encoding: string; content: string; sha: string; size: number };
    assert.equal(file.encoding, 'none');
    assert.equal(file.content, '');
    assert.equal(file.size, big.byteLength);
    assert.equal(file.sha, commit.blobSha);
    const blob = await h.get(`/repos/Community-Access/glow-admin/git/blobs/${file.sha}`);
    assert.equal(blob.status, 200);
    const body = (await blob.json()) as { sha: string; size: number; encoding: string; content: string };
    assert.equal(body.encoding, 'base64');
    assert.equal(body.size, big.byteLength);
    assert.ok(Buffer.from(body.content, 'base64').equals(big));
    assert.equal((await h.get('/repos/Community-Access/glow-admin/git/blobs/' + 'f'.repeat(40))).status, 404);
  });

  test('issues (pull requests included) and pulls page by the Link header', async () => {
    const repo = 'Community-Access/learning-room';
    h.sim.state.createRepo({ owner: 'Community-Access', name: 'learning-room', private: true });
    for (let n = 1; n <= 5; n++) h.sim.state.addIssue(repo, { title: `Challenge ${n}`, state: n <= 2 ? 'closed' : 'open', createdAt: `2026-03-02T15:0${n}:00Z` });
    h.sim.state.addPull(repo, { title: 'My change', user: 'ada-lovelace', createdAt: '2026-03-02T16:00:00Z' });
    const seen: Array<{ number: number; pull_request?: unknown }> = [];
    let next: string | null = `${h.url}/repos/${repo}/issues?state=all&per_page=2`;
    const links: string[] = [];
    while (next) {
      const res: Response = await fetch(next, { headers: { authorization: `Bearer ${h.token}` } });
      assert.equal(res.status, 200);
      seen.push(...((await res.json()) as Array<{ number: number; pull_request?: unknown }>));
      links.push(res.headers.get('link') ?? '');
      next = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
    }
    assert.equal(seen.length, 6);
    assert.deepEqual(seen.map((i) => i.number), [6, 5, 4, 3, 2, 1], 'newest first');
    assert.ok(seen[0]?.pull_request, 'the pull request carries a pull_request key');
    assert.ok(seen.slice(1).every((i) => i.pull_request === undefined));
    assert.equal(links.length, 3);
    assert.match(links[0]!, /^<[^>]+page=2>; rel="next", <[^>]+page=3>; rel="last"$/);
    assert.match(links[1]!, /^<[^>]+page=1>; rel="prev", <[^>]+page=3>; rel="next", <[^>]+page=3>; rel="last", <[^>]+page=1>; rel="first"$/);
    assert.match(links[2]!, /rel="prev".*rel="first"$/);
    assert.ok(!links[2]!.includes('rel="next"'));
    assert.ok(links[1]!.includes('state=all') && links[1]!.includes('per_page=2'), 'other parameters are kept');

    const pulls = await h.get(`/repos/${repo}/pulls?state=open`);
    const list = (await pulls.json()) as Array<{ number: number; head: { ref: string }; user: { login: string } }>;
    assert.deepEqual(list.map((p) => p.number), [6]);
    assert.equal(list[0]?.user.login, 'ada-lovelace');
    const defaults = await h.get(`/repos/${repo}/issues?per_page=1000`);
    assert.equal(((await defaults.json()) as unknown[]).length, 4, 'open by default; per_page capped at 100');
  });

  test('issue, comments, labels: add, remove, and "Label does not exist"', async () => {
    const repo = 'Community-Access/glow-enrollment';
    h.sim.state.createRepo({ owner: 'Community-Access', name: 'glow-enrollment', private: false });
    h.sim.state.addIssue(repo, { number: 42, title: 'Enrollment', user: 'grace-hopper', labels: ['needs-info'] });
    h.sim.state.addComment(repo, 42, { user: 'glow-facilitator', body: 'reply ack please' });
    h.sim.state.addComment(repo, 42, { user: 'grace-hopper', body: 'ack' });
    const issue = (await (await h.get(`/repos/${repo}/issues/42`)).json()) as { labels: Array<{ name: string }>; comments: number };
    assert.deepEqual(issue.labels.map((l) => l.name), ['needs-info']);
    assert.equal(issue.comments, 2);
    const comments = (await (await h.get(`/repos/${repo}/issues/42/comments`)).json()) as Array<{ user: { login: string }; body: string; created_at: string }>;
    assert.deepEqual(comments.map((c) => [c.user.login, c.body]), [['glow-facilitator', 'reply ack please'], ['grace-hopper', 'ack']]);
    assert.match(comments[0]!.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const added = await h.send('POST', `/repos/${repo}/issues/42/labels`, { labels: ['acked'] });
    assert.equal(added.status, 200);
    assert.deepEqual(((await added.json()) as Array<{ name: string }>).map((l) => l.name), ['needs-info', 'acked']);
    const removed = await h.send('DELETE', `/repos/${repo}/issues/42/labels/needs-info`);
    assert.equal(removed.status, 200);
    assert.deepEqual(((await removed.json()) as Array<{ name: string }>).map((l) => l.name), ['acked']);
    const absent = await h.send('DELETE', `/repos/${repo}/issues/42/labels/needs-info`);
    assert.equal(absent.status, 404);
    assert.equal(((await absent.json()) as { message: string }).message, 'Label does not exist');
    assert.equal((await h.get(`/repos/${repo}/issues/999`)).status, 404);
  });

  test('workflows: runs by status, dispatch 204 or 200 with details, 422 for an unknown ref or input, 404 for an unknown workflow', async () => {
    const repo = 'Community-Access/glow-workshop';
    h.sim.state.createRepo({ owner: 'Community-Access', name: 'glow-workshop', private: false });
    h.sim.state.commitFile(repo, 'README.md', '# workshop\n');
    h.sim.state.addWorkflow(repo, { file: 'provision-learning-rooms.yml', inputs: { dry_run: { type: 'boolean', default: 'false' } } });
    const runs = `/repos/${repo}/actions/workflows/provision-learning-rooms.yml/runs`;
    const dispatches = `/repos/${repo}/actions/workflows/provision-learning-rooms.yml/dispatches`;
    const running = h.sim.state.addRun(repo, { workflow: 'provision-learning-rooms.yml', status: 'in_progress' });
    const res = await h.get(`${runs}?status=in_progress`);
    const body = (await res.json()) as { total_count: number; workflow_runs: Array<{ id: number; status: string }> };
    assert.equal(body.total_count, 1);
    assert.equal(body.workflow_runs[0]?.id, running.id);
    h.sim.state.completeRun(running.id);
    assert.equal(((await (await h.get(`${runs}?status=in_progress`)).json()) as { total_count: number }).total_count, 0);

    const ok = await h.send('POST', dispatches, { ref: 'main', inputs: { dry_run: 'true' } });
    assert.equal(ok.status, 204);
    assert.deepEqual(h.sim.state.repo(repo).dispatches.map((d) => [d.ref, d.inputs]), [['main', { dry_run: 'true' }]]);
    const queued = (await (await h.get(`${runs}?status=queued`)).json()) as { total_count: number };
    assert.equal(queued.total_count, 1);
    const details = await h.send('POST', dispatches, { ref: 'main', return_run_details: true });
    assert.equal(details.status, 200);
    assert.ok(((await details.json()) as { workflow_run_id: number }).workflow_run_id > 0);

    const badRef = await h.send('POST', dispatches, { ref: 'nope' });
    assert.equal(badRef.status, 422);
    const badInput = await h.send('POST', dispatches, { ref: 'main', inputs: { force: 'yes' } });
    assert.equal(badInput.status, 422);
    assert.match(((await badInput.json()) as { message: string }).message, /Unexpected inputs provided: \["force"\]/);
    assert.equal((await h.get(`/repos/${repo}/actions/workflows/unknown.yml/runs`)).status, 404);
  });

  test('collaborators: 201 invitation, 201 again while pending, 204 once a collaborator, 422 for a bad permission', async () => {
    const path = '/repos/Community-Access/glow-admin/collaborators/ada-lovelace';
    const invited = await h.send('PUT', path, { permission: 'push' });
    assert.equal(invited.status, 201);
    const invitation = (await invited.json()) as { invitee: { login: string }; permissions: string };
    assert.equal(invitation.invitee.login, 'ada-lovelace');
    assert.equal(invitation.permissions, 'write');
    assert.equal((await h.send('PUT', path, { permission: 'push' })).status, 201);
    h.sim.state.acceptInvitation('Community-Access/glow-admin', 'ada-lovelace');
    assert.equal((await h.send('PUT', path, { permission: 'push' })).status, 204);
    assert.equal((await h.send('PUT', path, { permission: 'superuser' })).status, 422);
  });

  test('credentials: unknown, revoked and missing tokens; unknown routes and methods are 404', async () => {
    const bad = await fetch(`${h.url}${CONTENTS}`, { headers: { authorization: 'token nope' } });
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { message: string }).message, 'Bad credentials');
    const anonymous = await fetch(`${h.url}${CONTENTS}`);
    assert.equal(anonymous.status, 404, 'a private repository is hidden from the anonymous');
    const doomed = h.sim.addToken({ login: 'soon-gone' });
    assert.equal((await fetch(`${h.url}${CONTENTS}`, { headers: { authorization: `Bearer ${doomed}` } })).status, 200);
    h.sim.faults.revokeToken(doomed);
    assert.equal((await fetch(`${h.url}${CONTENTS}`, { headers: { authorization: `Bearer ${doomed}` } })).status, 401);
    const unknown = await h.get('/repos/Community-Access/glow-admin/frobnicate');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { message: string }).message, 'Not Found');
    assert.equal((await h.send('PATCH', CONTENTS, {})).status, 404);
    const logged = h.sim.requests.list().map((r) => JSON.stringify(r));
    assert.ok(logged.every((line) => !line.includes(doomed) && !line.includes(h.token)), 'the log holds fingerprints, never tokens');
  });

  test('a token lacking a permission gets 403 (and the permission GitHub would accept); another repository stays hidden', async () => {
    const reader = h.sim.addToken({ login: 'reader', permissions: { contents: 'read' }, repositories: ['Community-Access/glow-admin'] });
    const put = await fetch(`${h.url}${CONTENTS}`, {
      method: 'PUT',
      headers: { authorization: `token ${reader}` },
      body: JSON.stringify({ message: 'x', content: b64('x') }),
    });
    assert.equal(put.status, 403);
    assert.equal(((await put.json()) as { message: string }).message, 'Resource not accessible by personal access token');
    assert.equal(put.headers.get('x-accepted-github-permissions'), 'contents=write');
    h.sim.state.createRepo({ owner: 'Community-Access', name: 'elsewhere', private: true });
    const hidden = await fetch(`${h.url}/repos/Community-Access/elsewhere`, { headers: { authorization: `token ${reader}` } });
    assert.equal(hidden.status, 404);
  });
});

describe('GitHub simulator: rate limits and faults', () => {
  test('rate-limit headers on every answer; the exhausted answer is 403 with remaining 0 until the reset', async () => {
    const h = await harness({ rateLimit: { limit: 3, windowSeconds: 60 } });
    try {
      for (let i = 1; i <= 3; i++) {
        const res = await h.get(CONTENTS);
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-ratelimit-limit'), '3');
        assert.equal(res.headers.get('x-ratelimit-used'), String(i));
        assert.equal(res.headers.get('x-ratelimit-remaining'), String(3 - i));
        assert.equal(res.headers.get('x-ratelimit-resource'), 'core');
        const reset = Number(res.headers.get('x-ratelimit-reset'));
        assert.ok(reset > Date.now() / 1000 && reset <= Date.now() / 1000 + 61);
      }
      const limited = await h.get(CONTENTS);
      assert.equal(limited.status, 403);
      assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
      const body = (await limited.json()) as { message: string; documentation_url: string };
      assert.match(body.message, /^API rate limit exceeded for user ID companion-bot\./);
      assert.match(body.documentation_url, /rate-limits-for-the-rest-api/);
      assert.equal(h.sim.requests.list().at(-1)?.counted, false);
    } finally {
      await h.sim.stop();
    }
  });

  test('exhausting a budget on purpose, answered 429 when so configured', async () => {
    const h = await harness({ rateLimit: { exhaustedStatus: 429 } });
    try {
      h.sim.faults.exhaustRateLimit({ token: h.token, resetInSeconds: 30 });
      const res = await h.get(CONTENTS);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      assert.ok(Math.abs(Number(res.headers.get('x-ratelimit-reset')) - (Date.now() / 1000 + 30)) <= 2);
    } finally {
      await h.sim.stop();
    }
  });

  test('the next N matching requests fail with 5xx, then the path recovers; other paths are untouched', async () => {
    const h = await harness();
    try {
      h.sim.faults.serverError({ method: 'GET', path: '/repos/*/*/contents/**', status: 503, count: 2 });
      assert.equal((await h.get('/repos/Community-Access/glow-admin')).status, 200);
      assert.equal((await h.get(CONTENTS)).status, 503);
      assert.equal((await h.get(CONTENTS)).status, 503);
      assert.equal((await h.get(CONTENTS)).status, 200);
      assert.deepEqual(h.sim.requests.list({ status: 503 }).map((r) => r.fault), ['server-error', 'server-error']);
    } finally {
      await h.sim.stop();
    }
  });

  test('a secondary rate limit: 403 with retry-after and a message Octokit recognises', async () => {
    const h = await harness();
    try {
      h.sim.faults.secondaryRateLimit({ method: 'PUT', retryAfter: 7 });
      const res = await h.send('PUT', CONTENTS, { message: 'x', content: b64('x') });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('retry-after'), '7');
      assert.match(((await res.json()) as { message: string }).message, /\bsecondary rate\b/i);
      assert.notEqual(res.headers.get('x-ratelimit-remaining'), '0');
    } finally {
      await h.sim.stop();
    }
  });

  test('latency is added to every API answer', async () => {
    const h = await harness({ latencyMs: 150 });
    try {
      const started = performance.now();
      await (await h.get(CONTENTS)).arrayBuffer();
      assert.ok(performance.now() - started >= 145);
    } finally {
      await h.sim.stop();
    }
  });

  test('a network failure drops the connection without an answer', async () => {
    const h = await harness();
    try {
      h.sim.faults.networkFailure({ path: CONTENTS });
      await assert.rejects(h.get(CONTENTS));
      assert.equal((await h.get(CONTENTS)).status, 200);
      assert.equal(h.sim.requests.list({ path: CONTENTS })[0]?.status, 0);
    } finally {
      await h.sim.stop();
    }
  });

  test('a concurrent writer moves the file between a read and a compare-and-swap write', async () => {
    const h = await harness();
    try {
      const transform = (text: string): string => {
        const roster = JSON.parse(text) as { cohorts: unknown[] };
        roster.cohorts.push({ cohort_id: 'autumn-2026' });
        return `${JSON.stringify(roster, null, 2)}\n`;
      };
      h.sim.faults.concurrentWriter({ repo: 'Community-Access/glow-admin', path: 'roster.json', when: 'after-get', transform });
      const read = (await (await h.get(CONTENTS)).json()) as { sha: string };
      const put = await h.send('PUT', CONTENTS, { message: 'mine', content: b64('{}\n'), sha: read.sha });
      assert.equal(put.status, 409);
      const reread = (await (await h.get(CONTENTS)).json()) as { sha: string; content: string };
      assert.notEqual(reread.sha, read.sha);
      assert.match(Buffer.from(reread.content, 'base64').toString(), /autumn-2026/);
      assert.equal((await h.send('PUT', CONTENTS, { message: 'mine', content: b64('{}\n'), sha: reread.sha })).status, 200);

      h.sim.faults.concurrentWriter({ repo: 'Community-Access/glow-admin', path: 'roster.json', when: 'before-put', transform: { append: ' ' } });
      const current = (await (await h.get(CONTENTS)).json()) as { sha: string };
      assert.equal((await h.send('PUT', CONTENTS, { message: 'again', content: b64('{}\n'), sha: current.sha })).status, 409);
      assert.deepEqual(h.sim.state.history('Community-Access/glow-admin').map((c) => c.message).slice(0, 3), ['Concurrent change to roster.json', 'mine', 'Concurrent change to roster.json']);
    } finally {
      await h.sim.stop();
    }
  });
});

describe('GitHub simulator: App authentication', () => {
  let offset = 0;
  let h: Harness;
  before(async () => {
    h = await harness({ now: () => Date.now() + offset, installationTokenLifetimeSeconds: 600 });
    h.sim.auth.addInstallation({ id: 77, account: 'Community-Access', permissions: { contents: 'write', metadata: 'read' } });
  });
  after(async () => {
    await h?.sim.stop();
  });

  const jwt = (claims: Record<string, unknown> = {}): string => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(h.sim.app.privateKeyPem!, { iat: now - 60, exp: now + 540, iss: h.sim.app.id, ...claims });
  };
  const mint = (token: string, body: unknown = {}): Promise<Response> =>
    fetch(`${h.url}/app/installations/77/access_tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  test('JWT -> installation token -> use -> expiry -> 401', async () => {
    const res = await mint(jwt());
    assert.equal(res.status, 201);
    const minted = (await res.json()) as { token: string; expires_at: string; permissions: Record<string, string>; repository_selection: string };
    assert.match(minted.token, /^ghs_/);
    assert.deepEqual(minted.permissions, { metadata: 'read', contents: 'write' });
    assert.equal(minted.repository_selection, 'all');
    const lifetime = Date.parse(minted.expires_at) - Date.now();
    assert.ok(lifetime > 590_000 && lifetime <= 600_000, 'the configured lifetime');
    const use = await fetch(`${h.url}${CONTENTS}`, { headers: { authorization: `token ${minted.token}` } });
    assert.equal(use.status, 200);
    assert.equal(h.sim.requests.list().at(-1)?.identity, 'installation:77');
    const denied = await fetch(`${h.url}/repos/Community-Access/glow-admin/issues`, { headers: { authorization: `token ${minted.token}` } });
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { message: string }).message, 'Resource not accessible by integration');
    offset = 601_000;
    try {
      const expired = await fetch(`${h.url}${CONTENTS}`, { headers: { authorization: `token ${minted.token}` } });
      assert.equal(expired.status, 401);
    } finally {
      offset = 0;
    }
  });

  test('bad JWTs: another key, an exp too far ahead, an expired one, a token instead of a JWT', async () => {
    const other = createGitHubSimulator().app.privateKeyPem!;
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await mint(signJwt(other, { iat: now, exp: now + 60, iss: h.sim.app.id }))).status, 401);
    const far = await mint(jwt({ exp: now + 3600 }));
    assert.equal(far.status, 401);
    assert.match(((await far.json()) as { message: string }).message, /too far in the future/);
    assert.equal((await mint(jwt({ iat: now - 700, exp: now - 100 }))).status, 401);
    assert.equal((await mint(h.token)).status, 401);
    assert.equal((await mint(jwt({ iss: h.sim.app.clientId }))).status, 201, 'the client id is a valid issuer too');
    assert.equal((await mint(jwt(), { permissions: { administration: 'write' } })).status, 422);
    assert.equal((await fetch(`${h.url}/app/installations/999/access_tokens`, { method: 'POST', headers: { authorization: `Bearer ${jwt()}` } })).status, 404);
  });
});

describe('GitHub simulator: CLI and control API from another process', () => {
  test('serves a seed, takes faults and reports requests over /_simulator/, stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'dev/github-simulator/main.ts', '--port', '0', '--seed', 'dev/github-simulator/seed.example.json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const { url, seeded } = JSON.parse(line) as { url: string; seeded: { repos: string[]; tokens: Array<{ login: string; token?: string }> } };
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(seeded.repos.includes('Community-Access/glow-admin'));
      assert.equal(seeded.tokens[0]?.token, undefined, 'no token value on stdout');
      const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
        const res = await fetch(`${url}/_simulator/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
        return res.json();
      };
      const auth = { authorization: 'Bearer github_pat_simulated_glow_companion_demo' };
      const roster = (await (await fetch(`${url}/repos/Community-Access/glow-admin/contents/roster.json`, { headers: auth })).json()) as { content: string };
      assert.match(Buffer.from(roster.content, 'base64').toString(), /ada-lovelace/);

      await control('POST', 'faults', { kind: 'server-error', status: 500, method: 'GET', path: '/repos/*/*/contents/**' });
      assert.equal((await fetch(`${url}/repos/Community-Access/glow-admin/contents/roster.json`, { headers: auth })).status, 500);
      const log = (await control('GET', 'requests?status=500')) as Array<{ path: string; fault: string }>;
      assert.deepEqual(log.map((r) => r.fault), ['server-error']);

      await control('POST', 'faults', { kind: 'concurrent-writer', repo: 'Community-Access/glow-admin', path: 'roster.json', when: 'before-put', transform: { jsonSet: { pointer: '/learners/1/provision_state', value: 'provisioned' } } });
      const file = (await control('GET', 'files?repo=Community-Access/glow-admin&path=roster.json')) as { sha: string };
      const put = await fetch(`${url}/repos/Community-Access/glow-admin/contents/roster.json`, { method: 'PUT', headers: auth, body: JSON.stringify({ message: 'm', content: b64('{}'), sha: file.sha }) });
      assert.equal(put.status, 409);
      const after = (await control('GET', 'files?repo=Community-Access/glow-admin&path=roster.json')) as { text: string };
      assert.equal((JSON.parse(after.text) as { learners: Array<{ provision_state: string }> }).learners[1]?.provision_state, 'provisioned');

      const dispatch = await fetch(`${url}/repos/Community-Access/glow-workshop/actions/workflows/provision-learning-rooms.yml/dispatches`, { method: 'POST', headers: auth, body: JSON.stringify({ ref: 'main', inputs: { dry_run: true } }) });
      assert.equal(dispatch.status, 204);
      assert.deepEqual(((await control('GET', 'dispatches?repo=Community-Access/glow-workshop')) as Array<{ inputs: unknown }>).map((d) => d.inputs), [{ dry_run: 'true' }]);

      const app = (await control('GET', 'app')) as { id: number; privateKeyPem: string };
      const now = Math.floor(Date.now() / 1000);
      const minted = await fetch(`${url}/app/installations/4242/access_tokens`, { method: 'POST', headers: { authorization: `Bearer ${signJwt(app.privateKeyPem, { iat: now - 30, exp: now + 570, iss: String(app.id) })}` } });
      assert.equal(minted.status, 201);

      await control('POST', 'reset');
      assert.equal((await fetch(`${url}/repos/Community-Access/glow-admin`, { headers: auth })).status, 401, 'reset forgets tokens too');
      assert.equal((await fetch(`${url}/_simulator/nothing`)).status, 404);
    } finally {
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
    }
  });
});
