import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { startApp, type TestApp } from './helpers/app.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

async function sources(dir = SRC): Promise<Array<{ file: string; text: string }>> {
  const names = await readdir(dir, { recursive: true, encoding: 'utf8' });
  return Promise.all(
    names.filter((name) => name.endsWith('.ts')).map(async (name) => ({ file: name.split(path.sep).join('/'), text: await readFile(path.join(dir, name), 'utf8') })),
  );
}

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('one place per concern', () => {
  test('every augmentation of a library\'s types lives in one file', async () => {
    const files = (await sources()).filter(({ text }) => /^declare module ['"]/m.test(text)).map(({ file }) => file);
    assert.deepEqual(files, ['http/fastify-types.ts']);
  });

  test('routes reach configuration, the roster and sessions only through their context, not through the Fastify instance', async () => {
    t = await startApp();
    for (const name of ['config', 'rosterStore', 'facilitatorSessions']) assert.equal(t.app.hasDecorator(name), false, name);
    for (const { file, text } of await sources(path.join(SRC, 'routes'))) {
      assert.doesNotMatch(text, /\b(?:server|app)\.(?:config|rosterStore|facilitatorSessions)\b/, file);
    }
  });

  test('request fields, from a form body or a query string, are read through one helper', async () => {
    for (const { file, text } of await sources()) {
      if (file === 'http/fields.ts') continue;
      assert.doesNotMatch(text, /request\.(?:query|body)\b/, file);
    }
  });

  test('the sign-in address and its parameters are written only beside the sign-in routes', async () => {
    for (const { file, text } of await sources()) {
      if (file === 'routes/auth.ts') continue;
      assert.doesNotMatch(text, /['"`]\/login\?|signed_out|expired=1|requireFacilitator\(request/, file);
    }
  });

  test('the cohort label rule exists once, in the contract', async () => {
    const { cohortLabel } = await import('../src/roster/contract.js');
    assert.equal(cohortLabel({ cohort_id: 'spring-2026', label: '  Spring 2026  ' }), 'Spring 2026');
    assert.equal(cohortLabel({ cohort_id: 'spring-2026', label: '   ' }), 'spring-2026');
    assert.equal(cohortLabel({ cohort_id: 'spring-2026' }), 'spring-2026');
    const uses = (await sources()).filter(({ text }) => /\.label\?*\.trim\(\)/.test(text)).map(({ file }) => file);
    assert.deepEqual(uses, ['roster/contract.ts']);
  });

  test('libraries are used through their public entry points, never a deep import of their internals', async () => {
    for (const { file, text } of await sources()) {
      assert.doesNotMatch(text, /from ['"]@fastify\/[a-z-]+\/|createRequire|require\(['"]@fastify\/[a-z-]+\//, file);
    }
  });

  test('the entry point turns V8\'s allocation-site pretenuring off before any other module loads', async () => {
    const server = await readFile(path.join(SRC, 'server.ts'), 'utf8');
    const imports = [...server.matchAll(/^import\s[^;]*?['"]([^'"]+)['"];/gm)].map((m) => m[1]);
    assert.equal(imports[0], './heap.js', 'server.ts imports heap.js first');
    const heap = await readFile(path.join(SRC, 'heap.ts'), 'utf8');
    assert.match(heap, /v8\.setFlagsFromString\('--no-allocation-site-pretenuring'\)/);
  });

  test('no template marks request or roster data safe or turns escaping off', async () => {
    const views = path.join(SRC, 'views');
    const templates = (await readdir(views, { recursive: true, encoding: 'utf8' })).filter((name) => name.endsWith('.njk'));
    assert.ok(templates.length >= 5, 'templates found');
    const unsafe = [/\|\s*safe\b/, /\bautoescape\b/, /\{%-?\s*(?:raw|verbatim)\b/, /\bmarkSafe\b/, /\bSafeString\b/];
    for (const name of templates) {
      const text = await readFile(path.join(views, name), 'utf8');
      for (const pattern of unsafe) assert.doesNotMatch(text, pattern, `${name} has ${pattern}`);
    }
    for (const { file, text } of await sources()) assert.doesNotMatch(text, /markSafe|SafeString|autoescape:\s*false/, file);
  });
});
