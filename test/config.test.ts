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
