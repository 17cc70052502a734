import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import Fastify, { type LightMyRequestResponse } from 'fastify';
import type { HttpError } from '../src/http/errors.js';
import { trackMethods } from '../src/http/methods.js';
import { RosterStore } from '../src/roster/store.js';
import { Client, startApp, type TestApp } from './helpers/app.js';
import { csrfFrom } from './helpers/http.js';

let t: TestApp;
afterEach(async () => t?.close());

const FORM = { github_handle: 'grace', cohort_id: 'spring-2026', path: 'day1-day2' };

async function rosterText(): Promise<string | null> {
  return readFile(t.rosterPath, 'utf8').catch(() => null);
}

describe('CSRF', () => {
  const cases: Array<[string, (client: Client) => Promise<Record<string, string>>]> = [
    ['no token', async (client) => (await client.csrf(), {})],
    ['an empty token', async (client) => (await client.csrf(), { csrf_token: '' })],
    ['a forged token', async (client) => (await client.csrf(), { csrf_token: 'AAAAAAAA-forged-token-BBBBBBBBBBBBBBBBBBBBBBBBBB' })],
    ['another session\'s token', async (client) => {
      await client.csrf();
      return { csrf_token: await new Client(t.app).csrf() };
    }],
    ['a token but no session cookie', async () => ({ csrf_token: await new Client(t.app).csrf() })],
    ['a repeated token field', async (client) => {
      const token = await client.csrf();
      return { csrf_token: [token, token] as unknown as string };
    }],
  ];
  for (const [what, prepare] of cases) {
    for (const url of ['/register', '/login', '/logout']) {
      test(`POST ${url} with ${what} is a 400 page and writes nothing`, async () => {
        t = await startApp();
        const client = new Client(t.app);
        const fields = await prepare(client);
        const response = await client.post(url, { ...FORM, token: 'x', ...fields });
        assert.equal(response.statusCode, 400);
        if (url === '/register') {
          // The registration form comes back with what was typed and a fresh token, and still nothing is written.
          assert.match(response.body, /<p class="error-summary-body">Your form had expired, so nothing was saved\./);
          assert.match(response.body, /value="grace"/);
          assert.notEqual(csrfFrom(response.body), fields.csrf_token);
        } else {
          assert.match(response.body, /<h1>Your form could not be accepted<\/h1>/);
        }
        assert.equal(await rosterText(), null);
      });
    }
  }

  test('sign-out with a forged token leaves the facilitator signed in', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    assert.equal((await client.post('/logout', { csrf_token: 'forged' })).statusCode, 400);
    assert.equal((await client.get('/dashboard')).statusCode, 200);
  });
});

describe('cross-site requests', () => {
  const refused: Array<[string, Record<string, string>]> = [
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['Sec-Fetch-Site cross-site even with a matching Origin', { 'sec-fetch-site': 'cross-site', origin: 'http://localhost:80' }],
    ['an Origin from another site and no fetch metadata', { origin: 'https://evil.example' }],
    ['an Origin with the same host but another port', { origin: 'http://localhost:8081' }],
  ];
  for (const [what, headers] of refused) {
    test(`a POST with ${what} is refused with 403 even with a valid CSRF token`, async () => {
      t = await startApp();
      const response = await new Client(t.app).register(FORM, headers);
      assert.equal(response.statusCode, 403);
      assert.match(response.body, /This request was refused/);
      assert.equal(await rosterText(), null);
    });
  }
  const allowed: Array<[string, Record<string, string>]> = [
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin', origin: 'http://localhost:80' }],
    ['Origin: null alone', { origin: 'null' }],
    ['a same-site Origin and no fetch metadata', { origin: 'http://localhost:80' }],
    ['no Origin and no fetch metadata', {}],
  ];
  for (const [what, headers] of allowed) {
    test(`a POST with ${what} and a valid CSRF token is accepted`, async () => {
      t = await startApp();
      const response = await new Client(t.app).register(FORM, headers);
      assert.equal(response.statusCode, 303);
    });
  }
});

describe('rate limits', () => {
  test('the registration POST gets a 429 page with Retry-After after the limit, per address', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '3', COMPANION_RATE_LIMIT_WINDOW: '120' });
    const client = new Client(t.app, '203.0.113.7');
    for (let i = 0; i < 3; i++) assert.equal((await client.register({ ...FORM, github_handle: `grace-${i}` })).statusCode, 303);
    const before = await rosterText();
    const limited = await client.register({ ...FORM, github_handle: 'one-too-many' });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.match(limited.body, /<h1>Too many attempts<\/h1>/);
    assert.match(limited.body, /Wait 2 minutes/);
    assert.equal(await rosterText(), before);
    // GETs are not limited, and another address has its own budget.
    assert.equal((await client.get('/register')).statusCode, 200);
    assert.equal((await new Client(t.app, '203.0.113.8').register({ ...FORM, github_handle: 'other' })).statusCode, 303);
  });

  test('the sign-in POST is limited too, so tokens cannot be guessed quickly', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2' });
    const client = new Client(t.app, '198.51.100.4');
    await client.signIn('guess-1');
    await client.signIn('guess-2');
    const limited = await client.signIn();
    assert.equal(limited.statusCode, 429);
    assert.equal((await client.get('/dashboard')).statusCode, 303);
  });

  test('X-Forwarded-For is ignored unless a trusted proxy is configured', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2' });
    const client = new Client(t.app, '198.51.100.9');
    for (let i = 0; i < 2; i++) await client.register({ ...FORM, github_handle: `p-${i}` }, { 'x-forwarded-for': `192.0.2.${i}` });
    assert.equal((await client.register(FORM, { 'x-forwarded-for': '192.0.2.200' })).statusCode, 429);
  });

  test('with a trusted proxy configured, each forwarded client has its own budget', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2', COMPANION_TRUST_PROXY: '127.0.0.1' });
    const proxy = new Client(t.app, '127.0.0.1');
    for (let i = 0; i < 2; i++) await proxy.register({ ...FORM, github_handle: `q-${i}` }, { 'x-forwarded-for': '192.0.2.1' });
    assert.equal((await proxy.register(FORM, { 'x-forwarded-for': '192.0.2.1' })).statusCode, 429);
    assert.equal((await proxy.register(FORM, { 'x-forwarded-for': '192.0.2.2' })).statusCode, 303);
  });

  test('the limiter remembers a bounded number of addresses: the oldest is forgotten once the memory is full', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '5', COMPANION_RATE_LIMIT_WINDOW: '3600' });
    const { RATE_LIMIT_CACHE } = await import('../src/http/rate-limit.js');
    // A POST with no body: counted by the limiter, then refused by CSRF (400) before any work.
    const post = (remoteAddress: string) => t.app.inject({ method: 'POST', url: '/register', remoteAddress });
    let next = 0;
    const others = async (count: number) => {
      for (let i = 0; i < count; i++, next++) await post(`10.${(next >> 16) & 255}.${(next >> 8) & 255}.${next & 255}`);
    };
    // One address uses up its budget first.
    for (let i = 0; i < 5; i++) await post('192.0.2.1');
    assert.equal((await post('192.0.2.1')).statusCode, 429);
    // With the memory just full (this address and RATE_LIMIT_CACHE - 1 others), it is still remembered...
    await others(RATE_LIMIT_CACHE - 1);
    assert.equal((await post('192.0.2.1')).statusCode, 429);
    // ...and once as many new addresses again have come, it was forgotten to make room, so it starts afresh.
    await others(RATE_LIMIT_CACHE);
    assert.equal((await post('192.0.2.1')).statusCode, 400);
  });

  const reworded: Array<[string, string[]]> = [
    ['an IPv4 address with a port', ['8.8.8.8:1', '8.8.8.8:2', '8.8.8.8']],
    ['an IPv6 address in brackets with a port', ['[2001:db8::1]:443', '[2001:db8::2]:80', '2001:db8::3']],
  ];
  for (const [what, forwarded] of reworded) {
    test(`with a trusted proxy, ${what} is counted as the address itself, not as a new client`, async () => {
      t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2', COMPANION_TRUST_PROXY: '127.0.0.1' });
      const proxy = new Client(t.app, '127.0.0.1');
      for (let i = 0; i < 2; i++) assert.equal((await proxy.register({ ...FORM, github_handle: `r-${i}` }, { 'x-forwarded-for': forwarded[i]! })).statusCode, 303);
      assert.equal((await proxy.register(FORM, { 'x-forwarded-for': forwarded[2]! })).statusCode, 429);
      assert.equal((await proxy.register(FORM, { 'x-forwarded-for': '192.0.2.2' })).statusCode, 303);
    });
  }

  test('with a trusted proxy, a forwarded value that is not an IP address (010.1.1.1) counts against the socket\'s address', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2', COMPANION_TRUST_PROXY: '127.0.0.1' });
    const proxy = new Client(t.app, '127.0.0.1');
    assert.equal((await proxy.register({ ...FORM, github_handle: 's-1' }, { 'x-forwarded-for': '010.1.1.1' })).statusCode, 303);
    assert.equal((await proxy.register({ ...FORM, github_handle: 's-2' }, { 'x-forwarded-for': 'not-an-address' })).statusCode, 303);
    assert.equal((await proxy.register(FORM, { 'x-forwarded-for': '010.1.1.2' })).statusCode, 429);
    assert.equal((await proxy.register(FORM)).statusCode, 429);
    assert.equal((await proxy.register(FORM, { 'x-forwarded-for': '192.0.2.2' })).statusCode, 303);
  });

  test('rate-limit keys: ports stripped, non-addresses refused, IPv6 grouped by /56, IPv4-mapped IPv6 as IPv4', async () => {
    const { parseAddress, rateLimitKey } = await import('../src/http/rate-limit.js');
    assert.equal(parseAddress('8.8.8.8:1'), '8.8.8.8');
    assert.equal(parseAddress('[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(parseAddress('[2001:db8::1]'), '2001:db8::1');
    for (const bad of ['010.1.1.1', '8.8.8.8:', '8.8.8.8:1:2', '1.2.3.4:99999', 'example.com:80', '[8.8.8.8]:1', '', undefined]) assert.equal(parseAddress(bad), null, String(bad));
    const key = (ip: string, remoteAddress = '127.0.0.1') => rateLimitKey({ ip, socket: { remoteAddress } } as never);
    assert.equal(key('2001:db8:0:1::5'), key('2001:db8:0:ff::9'));
    assert.notEqual(key('2001:db8:0:1::5'), key('2001:db8:0:100::5'));
    assert.equal(key('::ffff:8.8.8.8'), '8.8.8.8');
    assert.equal(key('010.1.1.1', '192.0.2.77'), '192.0.2.77');
  });
});

describe('every status carries every security header', () => {
  function checkHeaders(response: LightMyRequestResponse, secure: boolean, label: string): void {
    const h = response.headers;
    const csp = String(h['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "object-src 'none'"]) {
      assert.ok(csp.includes(directive), `${label}: CSP lacks ${directive}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, label);
    assert.equal(h['x-content-type-options'], 'nosniff', label);
    assert.equal(h['x-frame-options'], 'DENY', label);
    assert.equal(h['referrer-policy'], 'no-referrer', label);
    assert.equal(h['cross-origin-opener-policy'], 'same-origin', label);
    assert.equal(h['cross-origin-resource-policy'], 'same-origin', label);
    assert.match(String(h['permissions-policy']), /camera=\(\)/, label);
    assert.equal(h['x-powered-by'], undefined, label);
    assert.equal(h.server, undefined, label);
    if (secure) assert.match(String(h['strict-transport-security']), /max-age=\d{7,}/, label);
    else assert.equal(h['strict-transport-security'], undefined, label);
    if (response.statusCode !== 200 || !String(h['content-type']).startsWith('text/css')) assert.equal(h['cache-control'], 'no-store', label);
  }

  for (const secure of [false, true]) {
    test(`statuses 200 to 503 with secure cookies ${secure ? 'on' : 'off'}`, async () => {
      t = await startApp({ COMPANION_SECURE_COOKIES: secure ? '1' : '0', COMPANION_RATE_LIMIT_MAX: '1' });
      const client = new Client(t.app);
      const seen = new Map<number, LightMyRequestResponse>();
      const note = (r: LightMyRequestResponse) => seen.set(r.statusCode, r);
      note(await client.get('/register'));
      note(await client.get('/'));
      note(await client.register(FORM));
      note(await client.post('/login', { csrf_token: 'forged' }));
      note(await client.post('/register', FORM, { 'sec-fetch-site': 'cross-site' }));
      note(await client.get('/no-such-page'));
      note(await t.app.inject({ method: 'DELETE', url: '/register' }));
      note(await t.app.inject({ method: 'POST', url: '/login', remoteAddress: '192.0.2.50', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `x=${'a'.repeat(20_000)}` }));
      note(await client.post('/register', { csrf_token: 'forged' }));
      await writeFile(t.rosterPath, 'broken');
      note(await client.get('/register'));
      for (const status of [200, 302, 303, 400, 403, 404, 405, 413, 429, 503]) {
        assert.ok(seen.has(status), `no ${status} response was produced`);
        checkHeaders(seen.get(status)!, secure, `status ${status}`);
        if (status >= 400) assert.match(seen.get(status)!.body, /<main id="main-content"/);
      }
      const css = await client.get('/static/styles.css');
      checkHeaders(css, secure, 'static file');
    });
  }

  test('an unexpected failure is a 500 page in the shell, with headers and no internals', async () => {
    class BrokenStore extends RosterStore {
      override read(): never {
        throw new Error('internal detail that must not leak');
      }
    }
    t = await startApp({}, { store: new BrokenStore({ path: '/nonexistent/roster.json' }) });
    const response = await new Client(t.app).get('/register');
    assert.equal(response.statusCode, 500);
    assert.match(response.body, /<h1>Sorry, something went wrong<\/h1>/);
    assert.doesNotMatch(response.body, /internal detail|at .*\.ts|Error:/);
    checkHeaders(response, false, 'status 500');
  });
});

describe('cookies', () => {
  test('the session cookie is HttpOnly and SameSite=Lax; Secure with the __Host- prefix by default', async () => {
    t = await startApp({ COMPANION_SECURE_COOKIES: '1' });
    const cookie = String((await t.app.inject('/register')).headers['set-cookie']);
    assert.match(cookie, /^__Host-glow_session=/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; Secure/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
  });

  test('with COMPANION_SECURE_COOKIES=0 the cookie is not Secure', async () => {
    t = await startApp({ COMPANION_SECURE_COOKIES: '0' });
    const cookie = String((await t.app.inject('/register')).headers['set-cookie']);
    assert.doesNotMatch(cookie, /Secure/);
    assert.match(cookie, /; HttpOnly/);
  });

  test('a tampered session cookie is treated as no session', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    const cookies = client.snapshot();
    const [name, value] = [...cookies][0]!;
    client.restore(new Map([[name, `A${value.slice(1)}`]]));
    assert.equal((await client.get('/dashboard')).statusCode, 303);
  });
});

describe('routes and errors', () => {
  test('healthz answers ok', async () => {
    t = await startApp();
    const response = await t.app.inject('/healthz');
    assert.equal(response.statusCode, 200);
    assert.deepEqual(JSON.parse(response.body), { status: 'ok' });
  });

  test('an unknown path is a 404 page in the site shell', async () => {
    t = await startApp({ COMPANION_HELP_URL: 'https://github.com/example/glow/issues/new' });
    const response = await t.app.inject('/admin/../etc/passwd');
    assert.equal(response.statusCode, 404);
    assert.match(response.body, /<html lang="en">/);
    assert.match(response.body, /<a class="skip-link" href="#main-content">Skip to main content<\/a>/);
    assert.match(response.body, /<h1>Page not found<\/h1>/);
    assert.match(response.body, /href="https:\/\/github.com\/example\/glow\/issues\/new"/);
  });

  for (const url of ['/static/../package.json', '/static/%2e%2e/package.json', '/static/..%2fpackage.json', '/static/a/..%2f..%2fpackage.json', '/static/.env', '/static/.well-known/x', '/static//styles.css']) {
    test(`${url} answers the site's 404 page, not a refusal, and is not cached`, async () => {
      t = await startApp();
      const response = await t.app.inject(url);
      assert.equal(response.statusCode, 404);
      assert.match(response.body, /<h1>Page not found<\/h1>/);
      assert.equal(response.headers['cache-control'], 'no-store');
    });
  }

  test('under /static/, only an asset actually served may be cached; the error pages there, which carry the sign-out form, are no-store', async () => {
    t = await startApp();
    const client = new Client(t.app);
    await client.signIn();
    const missing = await client.get('/static/no-such-file.css');
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /Sign out<\/button>/);
    assert.equal(missing.headers['cache-control'], 'no-store');
    const refused = await client.get('/static/..%2fpackage.json');
    assert.equal(refused.statusCode, 404);
    assert.equal(refused.headers['cache-control'], 'no-store');
    const css = await client.get('/static/styles.css');
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['cache-control']), /max-age=\d+/);
    const revalidated = await client.get('/static/styles.css', { 'if-none-match': String(css.headers.etag) });
    assert.equal(revalidated.statusCode, 304);
    assert.notEqual(revalidated.headers['cache-control'], 'no-store');
  });

  test('a path with broken percent-encoding gets the 400 page with every header, not the router\'s JSON', async () => {
    t = await startApp();
    for (const url of ['/%C3', '/%', '/dashboard%ZZ']) {
      const response = await t.app.inject(url);
      assert.equal(response.statusCode, 400, url);
      assert.match(String(response.headers['content-type']), /^text\/html/, url);
      assert.ok(response.headers['content-security-policy'], url);
      assert.match(response.body, /<main id="main-content"/);
      assert.doesNotMatch(response.body, /FST_ERR/);
    }
  });

  for (const [method, url, allow] of [
    ['PUT', '/register', 'GET, HEAD, POST'],
    ['DELETE', '/dashboard', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['GET', '/logout', 'POST'],
    ['PATCH', '/login', 'GET, HEAD, POST'],
    ['POST', '/register/success', 'GET, HEAD'],
  ] as const) {
    test(`${method} ${url} is 405 with an Allow header`, async () => {
      t = await startApp();
      const response = await t.app.inject({ method, url });
      assert.equal(response.statusCode, 405);
      assert.equal(response.headers.allow, allow);
      assert.match(response.body, /<main id="main-content"/);
    });
  }

  test('a newly added route gets its 405 with the right Allow, from the routes registered and no list kept by hand', async () => {
    const app = Fastify();
    try {
      const methods = trackMethods(app);
      app.get('/new-page', async () => 'page');
      app.post('/new-page', async () => 'posted');
      app.delete('/new-thing', async () => 'gone');
      methods.answerOtherMethods();
      app.setErrorHandler((error: HttpError, _request, reply) => reply.code(error.statusCode).headers(error.headers).send(error.reason));
      const put = await app.inject({ method: 'PUT', url: '/new-page' });
      assert.equal(put.statusCode, 405);
      assert.equal(put.headers.allow, 'GET, HEAD, POST');
      const get = await app.inject({ method: 'GET', url: '/new-thing' });
      assert.equal(get.statusCode, 405);
      assert.equal(get.headers.allow, 'DELETE');
      assert.equal((await app.inject({ method: 'POST', url: '/new-page' })).body, 'posted');
    } finally {
      await app.close();
    }
  });

  test('a JSON body is refused (415) and a body over the limit is refused (413), writing nothing', async () => {
    t = await startApp();
    const client = new Client(t.app);
    const token = await client.csrf();
    const json = await t.app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...FORM, csrf_token: token }) });
    assert.equal(json.statusCode, 415);
    const big = await client.post('/register', { ...FORM, csrf_token: token, padding: 'x'.repeat(20_000) });
    assert.equal(big.statusCode, 413);
    assert.match(big.body, /What you sent is too large/);
    assert.equal(await rosterText(), null);
  });

  test('every page has one h1, landmarks, a skip link first and a unique title', async () => {
    t = await startApp();
    const client = new Client(t.app);
    const titles = new Set<string>();
    for (const url of ['/register', '/register/success', '/login', '/nowhere']) {
      const body = (await client.get(url)).body;
      assert.equal((body.match(/<h1>/g) ?? []).length, 1, url);
      for (const landmark of ['<header', '<nav', '<main id="main-content"', '<footer']) assert.ok(body.includes(landmark), `${url} lacks ${landmark}`);
      assert.ok(body.indexOf('skip-link') < body.indexOf('<a href="/register"'), url);
      titles.add(/<title>(.*)<\/title>/.exec(body)![1]!);
    }
    assert.equal(titles.size, 4);
    assert.equal(csrfFrom((await client.get('/login')).body).length > 10, true);
  });
});

describe('rate limits over IPv6', () => {
  test('addresses in one IPv6 /56 share a budget; another network has its own', async () => {
    t = await startApp({ COMPANION_RATE_LIMIT_MAX: '2' });
    for (let i = 1; i <= 2; i++) await new Client(t.app, `2001:db8:0:1::${i}`).register({ ...FORM, github_handle: `v6-${i}` });
    assert.equal((await new Client(t.app, '2001:db8:0:2::99').register(FORM)).statusCode, 429);
    assert.equal((await new Client(t.app, '2001:db8:1:1::1').register(FORM)).statusCode, 303);
  });
});
