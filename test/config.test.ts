import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  test('defaults follow the original interface', () => {
    const config = loadConfig({}, '/srv/glow');
    assert.equal(config.rosterPath, path.resolve('/srv/glow', 'roster.json'));
    assert.equal(config.facilitatorToken, '');
    assert.equal(config.secureCookies, true);
    assert.equal(config.rateLimitMax, 10);
    assert.equal(config.rateLimitWindowSeconds, 300);
    assert.equal(config.operationsRateLimitMax, 60);
    assert.equal(config.port, 5000);
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual(config.trustProxy, []);
    assert.equal(config.helpUrl, null);
    assert.equal(config.sessionIdleMinutes, 30);
    assert.equal(config.sessionMaxHours, 8);
    assert.equal(config.secretKeyIsRandom, true);
    assert.ok(config.secretKey.length >= 32);
    assert.ok(Object.isFrozen(config));
  });

  test('a random key differs between processes (and between loads)', () => {
    assert.notEqual(loadConfig({}).secretKey, loadConfig({}).secretKey);
  });

  test('reads every variable', () => {
    const config = loadConfig({
      COMPANION_SECRET_KEY: 'k'.repeat(40),
      COMPANION_ROSTER_PATH: '/data/roster.json',
      COMPANION_FACILITATOR_TOKEN: 'a-facilitator-token-of-some-length',
      COMPANION_SECURE_COOKIES: '0',
      COMPANION_RATE_LIMIT_MAX: '25',
      COMPANION_RATE_LIMIT_WINDOW: '60',
      COMPANION_OPERATIONS_RATE_LIMIT_MAX: '120',
      PORT: '8080',
      COMPANION_HOST: '0.0.0.0',
      COMPANION_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,loopback',
      COMPANION_HELP_URL: 'https://github.com/example/glow/issues/new?template=register.yml',
      COMPANION_LOG_LEVEL: 'warn',
      COMPANION_SESSION_IDLE_MINUTES: '15',
      COMPANION_SESSION_MAX_HOURS: '4',
    });
    assert.equal(config.secretKeyIsRandom, false);
    assert.equal(config.rosterPath, '/data/roster.json');
    assert.equal(config.secureCookies, false);
    assert.equal(config.rateLimitMax, 25);
    assert.equal(config.operationsRateLimitMax, 120);
    assert.equal(config.port, 8080);
    assert.deepEqual(config.trustProxy, ['127.0.0.1', '10.0.0.0/8', 'loopback']);
    assert.equal(config.helpUrl, 'https://github.com/example/glow/issues/new?template=register.yml');
    assert.equal(config.sessionIdleMinutes, 15);
  });

  test('the roster size limit is 20 MiB unless COMPANION_ROSTER_MAX_BYTES says otherwise', () => {
    assert.equal(loadConfig({}).rosterMaxBytes, 20 * 1024 * 1024);
    assert.equal(loadConfig({ COMPANION_ROSTER_MAX_BYTES: '1000' }).rosterMaxBytes, 1000);
  });

  const malformed: Array<[string, string]> = [
    ['COMPANION_RATE_LIMIT_MAX', 'ten'],
    ['COMPANION_RATE_LIMIT_MAX', '0'],
    ['COMPANION_RATE_LIMIT_MAX', '-5'],
    ['COMPANION_RATE_LIMIT_MAX', '1.5'],
    ['COMPANION_RATE_LIMIT_WINDOW', '5m'],
    ['COMPANION_OPERATIONS_RATE_LIMIT_MAX', 'many'],
    ['COMPANION_OPERATIONS_RATE_LIMIT_MAX', '0'],
    ['COMPANION_ROSTER_MAX_BYTES', '20MiB'],
    ['PORT', '70000'],
    ['PORT', '0'],
    ['PORT', 'http'],
    ['COMPANION_SECURE_COOKIES', 'yes'],
    ['COMPANION_SECURE_COOKIES', 'false'],
    ['COMPANION_HOST', 'example.com'],
    ['COMPANION_TRUST_PROXY', 'everyone'],
    ['COMPANION_TRUST_PROXY', '10.0.0.0/99'],
    ['COMPANION_HELP_URL', 'http://example.com/help'],
    ['COMPANION_HELP_URL', 'javascript:alert(1)'],
    ['COMPANION_HELP_URL', 'not a url'],
    ['COMPANION_LOG_LEVEL', 'loud'],
    ['COMPANION_SESSION_IDLE_MINUTES', 'never'],
    ['COMPANION_SESSION_MAX_HOURS', '0'],
  ];
  for (const [name, value] of malformed) {
    test(`${name}=${JSON.stringify(value)} stops the start with a message naming the variable`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => error instanceof ConfigError && error.variable === name && error.message.startsWith(name));
    });
  }

  describe('the strength of the secrets', () => {
    const STRONG_TOKEN = 'a'.repeat(24);
    const STRONG_KEY = 'k'.repeat(32);
    const weak: Array<[string, Record<string, string>]> = [
      ['COMPANION_FACILITATOR_TOKEN', { COMPANION_FACILITATOR_TOKEN: ' ', COMPANION_SECRET_KEY: STRONG_KEY }],
      ['COMPANION_FACILITATOR_TOKEN', { COMPANION_FACILITATOR_TOKEN: 'a'.repeat(23), COMPANION_SECRET_KEY: STRONG_KEY }],
      ['COMPANION_FACILITATOR_TOKEN', { COMPANION_FACILITATOR_TOKEN: `  ${'a'.repeat(20)}    `, COMPANION_SECRET_KEY: STRONG_KEY }],
      ['COMPANION_SECRET_KEY', { COMPANION_FACILITATOR_TOKEN: STRONG_TOKEN, COMPANION_SECRET_KEY: 'x' }],
      ['COMPANION_SECRET_KEY', { COMPANION_FACILITATOR_TOKEN: STRONG_TOKEN, COMPANION_SECRET_KEY: `   ${'k'.repeat(31)}   ` }],
    ];
    for (const [name, env] of weak) {
      test(`with secure cookies on, ${name}=${JSON.stringify(env[name])} stops the start naming the variable`, () => {
        assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === name);
      });
      test(`with secure cookies off, ${name}=${JSON.stringify(env[name])} is accepted with a warning naming the variable`, () => {
        const config = loadConfig({ ...env, COMPANION_SECURE_COOKIES: '0' });
        assert.ok(config.warnings.some((w) => w.startsWith(`${name} must be at least`)), config.warnings.join('\n'));
      });
    }

    test('strong secrets, an empty token (dashboard locked) and an unset key (random) start with secure cookies on', () => {
      assert.deepEqual(loadConfig({ COMPANION_FACILITATOR_TOKEN: STRONG_TOKEN, COMPANION_SECRET_KEY: STRONG_KEY }).warnings, []);
      const unset = loadConfig({});
      assert.equal(unset.facilitatorToken, '');
      assert.deepEqual(unset.warnings.map((w) => w.split(' ')[0]), ['COMPANION_SECRET_KEY', 'COMPANION_FACILITATOR_TOKEN']);
      assert.ok(Object.isFrozen(unset.warnings));
    });

    test('the configured token is used without surrounding spaces', () => {
      assert.equal(loadConfig({ COMPANION_FACILITATOR_TOKEN: ` ${STRONG_TOKEN}\n` }).facilitatorToken, STRONG_TOKEN);
    });
  });

  test('an empty value means the default', () => {
    assert.equal(loadConfig({ PORT: '', COMPANION_RATE_LIMIT_MAX: ' ' }).port, 5000);
  });
});

describe('GitHub mode settings', () => {
  const BASE = { COMPANION_GITHUB_REPO: 'Community-Access/glow-admin', COMPANION_GITHUB_TOKEN: 'github_pat_example_value' };

  test('local mode unless COMPANION_GITHUB_REPO is set', () => {
    assert.equal(loadConfig({}).github, null);
  });

  test('reads every GitHub mode variable, with the documented defaults', () => {
    const defaults = loadConfig(BASE).github!;
    assert.deepEqual(
      { ...defaults, auth: defaults.auth.kind },
      {
        owner: 'Community-Access',
        repo: 'glow-admin',
        rosterFile: 'roster.json',
        branch: null,
        auth: 'token',
        apiUrl: defaults.apiUrl,
        syncIntervalSeconds: 60,
        provisioning: null,
        progressIntervalSeconds: 300,
        stuckMinutes: 20,
      },
    );
    // The default API is GitHub's own (never contacted by any test).
    assert.equal(new URL(defaults.apiUrl).protocol, 'https:');
    assert.equal(new URL(defaults.apiUrl).host, ['api', 'github', 'com'].join('.'));
    assert.equal(new URL(defaults.apiUrl).pathname, '/');
    const set = loadConfig({
      ...BASE,
      COMPANION_GITHUB_ROSTER_FILE: 'data/roster.json',
      COMPANION_GITHUB_BRANCH: 'roster',
      COMPANION_GITHUB_API_URL: 'https://github.example.org/api/v3/',
      COMPANION_SYNC_INTERVAL: '30',
      COMPANION_PROVISIONING_REPO: 'Community-Access/git-going-with-github',
      COMPANION_PROVISIONING_WORKFLOW: 'provision.yaml',
      COMPANION_PROVISIONING_REF: 'release',
    }).github!;
    assert.equal(set.rosterFile, 'data/roster.json');
    assert.equal(set.branch, 'roster');
    assert.equal(set.apiUrl, 'https://github.example.org/api/v3');
    assert.equal(set.syncIntervalSeconds, 30);
    assert.deepEqual(set.provisioning, { owner: 'Community-Access', repo: 'git-going-with-github', workflow: 'provision.yaml', ref: 'release' });
  });

  test('plain http is allowed for the API only on a loopback address', () => {
    assert.equal(loadConfig({ ...BASE, COMPANION_GITHUB_API_URL: 'http://127.0.0.1:8080' }).github!.apiUrl, 'http://127.0.0.1:8080');
    assert.equal(loadConfig({ ...BASE, COMPANION_GITHUB_API_URL: 'http://[::1]:8080' }).github!.apiUrl, 'http://[::1]:8080');
  });

  const malformed: Array<[string, Record<string, string>]> = [
    ['COMPANION_GITHUB_REPO', { ...BASE, COMPANION_GITHUB_REPO: 'just-a-name' }],
    ['COMPANION_GITHUB_REPO', { ...BASE, COMPANION_GITHUB_REPO: 'owner/..' }],
    ['COMPANION_GITHUB_TOKEN', { COMPANION_GITHUB_REPO: 'o/r' }],
    ['COMPANION_GITHUB_TOKEN', { ...BASE, COMPANION_GITHUB_APP_ID: '1' }],
    ['COMPANION_GITHUB_API_URL', { ...BASE, COMPANION_GITHUB_API_URL: 'http://api.github.example' }],
    ['COMPANION_GITHUB_API_URL', { ...BASE, COMPANION_GITHUB_API_URL: 'https://user:pass@api.github.com' }],
    ['COMPANION_GITHUB_API_URL', { ...BASE, COMPANION_GITHUB_API_URL: 'https://github.example.org/api/v3/?x=1' }],
    ['COMPANION_GITHUB_ROSTER_FILE', { ...BASE, COMPANION_GITHUB_ROSTER_FILE: '../roster.json' }],
    ['COMPANION_GITHUB_BRANCH', { ...BASE, COMPANION_GITHUB_BRANCH: 'a..b' }],
    ['COMPANION_SYNC_INTERVAL', { ...BASE, COMPANION_SYNC_INTERVAL: '0' }],
    ['COMPANION_PROVISIONING_WORKFLOW', { ...BASE, COMPANION_PROVISIONING_WORKFLOW: 'provision.sh' }],
    ['COMPANION_GITHUB_APP_INSTALLATION_ID', { COMPANION_GITHUB_REPO: 'o/r', COMPANION_GITHUB_APP_ID: '12', COMPANION_GITHUB_APP_PRIVATE_KEY_FILE: 'key.pem' }],
    ['COMPANION_GITHUB_APP_PRIVATE_KEY_FILE', { COMPANION_GITHUB_REPO: 'o/r', COMPANION_GITHUB_APP_ID: '12', COMPANION_GITHUB_APP_INSTALLATION_ID: '34', COMPANION_GITHUB_APP_PRIVATE_KEY_FILE: '/no/such/key.pem' }],
  ];
  for (const [name, env] of malformed) {
    test(`${name} in ${JSON.stringify(env)} stops the start naming the variable`, () => {
      assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === name);
    });
  }

  test('App credentials are read from the key file, and the error for a bad file never shows its contents', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
    const env = { COMPANION_GITHUB_REPO: 'o/r', COMPANION_GITHUB_APP_ID: '12', COMPANION_GITHUB_APP_INSTALLATION_ID: '34', COMPANION_GITHUB_APP_PRIVATE_KEY_FILE: 'key.pem' };
    const auth = loadConfig(env, '/srv', (file) => (file === 'key.pem' ? pem : '')).github!.auth;
    assert.deepEqual(auth, { kind: 'app', appId: '12', privateKey: pem, installationId: 34 });
    assert.throws(
      () => loadConfig(env, '/srv', () => 'secret-material-not-a-key'),
      (error: unknown) => error instanceof ConfigError && error.variable === 'COMPANION_GITHUB_APP_PRIVATE_KEY_FILE' && !error.message.includes('secret-material'),
    );
  });
});
