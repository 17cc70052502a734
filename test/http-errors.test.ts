import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { HttpError, errorPage, type ErrorReason } from '../src/http/errors.js';
import { Client, startApp, type TestApp } from './helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const HELP_URL = 'https://github.com/example/glow/issues/new';

describe('error pages', () => {
  test('error reasons are a closed list, each with its status and its words in one table', () => {
    // @ts-expect-error a reason outside the list does not compile
    const made: ErrorReason = 'made-up';
    assert.equal(made, 'made-up');
    assert.equal(new HttpError('method', { allow: 'GET' }).statusCode, 405);
    assert.equal(new HttpError('cross-site').statusCode, 403);
    for (const reason of ['bad-request', 'bad-url', 'csrf', 'cross-site', 'not-found', 'method', 'too-large', 'unsupported-type', 'rate-limited', 'unreadable', 'unwritable', 'busy', 'unexpected'] as const) {
      for (const helpUrl of [null, HELP_URL]) {
        const { status, text } = errorPage(reason, { retryAfterSeconds: null, helpUrl });
        assert.ok(status >= 400 && status < 600, reason);
        assert.ok(text.title.length > 0 && text.paragraphs.length > 0, reason);
      }
    }
  });

  for (const helpUrl of [null, HELP_URL]) {
    test(`the 503 pages point to the issue form in words that fit the footer ${helpUrl ? 'with' : 'without'} COMPANION_HELP_URL`, async () => {
      t = await startApp(helpUrl ? { COMPANION_HELP_URL: helpUrl } : {});
      await writeFile(t.rosterPath, 'not json at all');
      const page = await new Client(t.app).get('/register');
      assert.equal(page.statusCode, 503);
      const main = /<main[^]*<\/main>/.exec(page.body)![0];
      assert.doesNotMatch(main, /see Help/);
      if (helpUrl) {
        assert.match(main, /the Help section at the bottom of this page links to it/);
        assert.match(page.body, new RegExp(`<a href="${helpUrl}">`));
      } else {
        assert.match(main, /ask your workshop facilitator for its link/);
        assert.doesNotMatch(main, /bottom of this page/);
        assert.match(page.body, /Ask your workshop facilitator for the link to the registration issue form/);
      }
      for (const problem of ['unwritable', 'busy'] as const) {
        const { text } = errorPage(problem, { retryAfterSeconds: null, helpUrl });
        assert.match(text.paragraphs.join(' '), helpUrl ? /Help section at the bottom of this page links to it/ : /ask your workshop facilitator for its link/, problem);
      }
    });
  }
});
