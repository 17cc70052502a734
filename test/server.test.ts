import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parseRoster } from '../src/roster/contract.js';
import { tempDir } from './helpers/app.js';
import { HttpClient } from './helpers/http.js';
import { runUntilExit, startServer, type RunningServer } from './helpers/server.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir('glow-server-')));
after(async () => cleanup());

const BASE_ENV = { COMPANION_SECURE_COOKIES: '0', COMPANION_FACILITATOR_TOKEN: 'server-test-token', COMPANION_RATE_LIMIT_MAX: '100000', COMPANION_LOG_LEVEL: 'info' };

/** Starts `src/server.ts` with BASE_ENV and `env`; stopped (and awaited) when the test ends, however it ends. */
async function serverFor(t: TestContext, env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer({ entry: 'src', env: { ...BASE_ENV, ...env } });
  t.after(() => server.stop());
  return server;
}

describe('the server process', () => {
  for (const [name, value] of [['PORT', '99999'], ['COMPANION_RATE_LIMIT_MAX', 'lots'], ['COMPANION_SECURE_COOKIES', 'maybe'], ['COMPANION_FACILITATOR_TOKEN', ' ']] as const) {
    test(`refuses to start when ${name} is malformed, naming it`, async () => {
      const { code, output } = await runUntilExit({ entry: 'src', env: { [name]: value } });
      assert.equal(code, 2);
      assert.match(output, new RegExp(`configuration error: ${name}`));
    });
  }

  test('warns that sessions will not survive a restart when no secret key is set', async (t) => {
    const server = await serverFor(t, { COMPANION_ROSTER_PATH: path.join(dir, 'warn.json') });
    assert.match(server.output(), /COMPANION_SECRET_KEY is not set/);
  });

  test('on SIGTERM it finishes in-flight registrations before exiting, losing none it confirmed', async (t) => {
    const rosterPath = path.join(dir, 'shutdown', 'roster.json');
    const server = await serverFor(t, { COMPANION_SECRET_KEY: 'shutdown-test-secret-key-0123456789', COMPANION_ROSTER_PATH: rosterPath });
    const clients = Array.from({ length: 30 }, () => new HttpClient(server.base));
    const tokens = await Promise.all(clients.map((c) => c.csrf('/register')));
    const posts = clients.map((client, i) =>
      client.post('/register', { csrf_token: tokens[i]!, github_handle: `learner-${i}`, cohort_id: 'spring-2026', path: 'day1-day2' }).then(
        (response) => ({ i, status: response.status }),
        () => ({ i, status: 0 }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    server.child.kill('SIGTERM');
    const results = await Promise.all(posts);
    const { code } = await server.exited;
    assert.equal(code, 0);
    const confirmed = results.filter((r) => r.status === 303).map((r) => `learner-${r.i}`);
    assert.ok(confirmed.length > 0, 'no registration finished before shutdown');
    const roster = parseRoster(await readFile(rosterPath, 'utf8'));
    const handles = new Set(roster.learners.map((l) => l.github_handle));
    for (const handle of confirmed) assert.ok(handles.has(handle), `${handle} got a success page but is not on disk`);
  });

  test('many slow clients holding connections open do not stop a normal request', async (t) => {
    const server = await serverFor(t, { COMPANION_ROSTER_PATH: path.join(dir, 'slow.json') });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = net.connect(server.port, '127.0.0.1');
        socket.on('error', () => undefined);
        // Headers that never finish.
        socket.write('GET /register HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        sockets.push(socket);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const response = await fetch(`${server.base}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' });
    } finally {
      // Before the server is stopped, which would otherwise wait for their requests.
      for (const socket of sockets) socket.destroy();
    }
  });
});
