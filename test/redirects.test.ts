import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { safeLocalPath } from '../src/http/redirects.js';

describe('local-only redirect targets', () => {
  const kept: Array<[string, string]> = [
    ['/dashboard', '/dashboard'],
    ['/dashboard?cohort=spring-2026', '/dashboard?cohort=spring-2026'],
    ['/roster.json', '/roster.json'],
    ['/a/../dashboard', '/dashboard'],
  ];
  for (const [next, expected] of kept) test(`keeps ${next}`, () => assert.equal(safeLocalPath(next), expected));

  const refused = [
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/.//evil.example',
    '/a/..//evil.example',
    '/%2e//evil.example',
    '/..//evil.example',
    'https://evil.example/',
    'http:/evil.example',
    'javascript:alert(1)',
    'dashboard',
    ' /dashboard',
    '/\tevil',
    '/\r\nLocation: https://evil.example',
    '',
    `/${'a'.repeat(2100)}`,
  ];
  for (const next of refused) test(`refuses ${JSON.stringify(next.slice(0, 40))}`, () => assert.equal(safeLocalPath(next), null));

  test('refuses anything that is not a string', () => {
    assert.equal(safeLocalPath(['/dashboard']), null);
    assert.equal(safeLocalPath(undefined), null);
  });
});
