/**
 * The compiler, not a comment, keeps roster data read-only and per-request
 * values out of shared caches: each snippet below must be refused by the
 * TypeScript compiler with the project's settings, and the control snippet
 * must be accepted (so a refusal is not just a broken set-up). The snippets
 * are served to the compiler from memory, never written to disk.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const PRELUDE = `
import { parseRoster, type Roster, type Learner } from '../src/roster/contract.js';
import { derivedFrom, perRequestValue } from '../src/lib/derived.js';
import { renderToString, type AnonymousShellModel, type LoginModel, type RegisterModel, type ShellModel } from '../src/http/views.js';
import type { FastifyInstance } from 'fastify';
declare const roster: Roster;
declare const learner: Learner;
declare const app: FastifyInstance;
declare const shell: AnonymousShellModel;
declare const signedInShell: ShellModel;
declare const login: LoginModel;
declare const register: RegisterModel;
`;

/** Compiles each snippet as its own file beside the tests; returns each one's error codes. */
function compile(snippets: Record<string, string>): Map<string, number[]> {
  const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  const files = Object.keys(snippets).map((name) => path.join(ROOT, 'test', `.immutability-${process.pid}-${name}.ts`));
  const host = ts.createCompilerHost(parsed.options);
  const readFile = host.readFile.bind(host);
  const byFile = new Map(files.map((file, i) => [file, `${PRELUDE}\n${Object.values(snippets)[i]}\n`]));
  host.readFile = (file) => byFile.get(path.resolve(file)) ?? readFile(file);
  host.fileExists = ((exists) => (file: string) => byFile.has(path.resolve(file)) || exists(file))(host.fileExists.bind(host));
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true }, host);
  const result = new Map<string, number[]>();
  Object.keys(snippets).forEach((name, i) => {
    const source = program.getSourceFile(files[i]!);
    result.set(name, ts.getPreEmitDiagnostics(program, source).map((d) => d.code));
  });
  return result;
}

describe('immutability, checked by the compiler', () => {
  test('a roster or learner changed in place does not compile; an edit that makes a new object does', () => {
    const errors = compile({
      control: `
        const edited: Roster = { ...roster, learners: roster.learners.map((l) => ({ ...l, notes: 'x' })) };
        const cache = derivedFrom((l: Learner) => l.github_handle.length);
        const page = derivedFrom((r: Roster) => renderToString(app, shell, { template: 'register', model: { ...register, csrfToken: r.learners.length ? 'slot' : 'none' } }));
        void edited; void cache; void page; void parseRoster; void perRequestValue; void learner; void login;`,
      assignField: `learner.github_handle = 'aaron';`,
      assignThroughRoster: `roster.learners[0]!.github_handle = 'aaron';`,
      pushLearner: `roster.learners.push(learner);`,
      sortInPlace: `roster.learners.sort();`,
      replaceLearners: `roster.learners = [];`,
      cohortInPlace: `roster.cohorts![0]!.label = 'x';`,
      unknownField: `learner['room'] = 'B';`,
      perRequestInCache: `derivedFrom((l: Learner) => ({ page: l.github_handle, token: perRequestValue('csrf') }));`,
      perRequestInList: `derivedFrom((l: Learner) => [perRequestValue(l.github_handle)]);`,
      pageWithVisitorsToken: `derivedFrom((r: Roster) => renderToString(app, shell, { template: 'register', model: { ...register, csrfToken: perRequestValue(String(r.version)) } }));`,
      signedInShell: `void renderToString(app, signedInShell, { template: 'success', model: { handle: null } });`,
      signInPage: `derivedFrom((r: Roster) => renderToString(app, shell, { template: 'login', model: { ...login, next: String(r.version) } }));`,
    });
    assert.deepEqual(errors.get('control'), [], 'the control snippet should compile');
    for (const [name, codes] of errors) {
      if (name !== 'control') assert.ok(codes.length > 0, `${name} compiled, but must not`);
    }
  });
});

