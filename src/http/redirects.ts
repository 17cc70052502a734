/** Local-only redirect targets, so `next` can never send a person to another site. */

const LOCAL_BASE = 'http://companion.invalid';

/**
 * Returns `next` as a local path with its query string, or null when it is
 * not plainly a path on this site: it must start with one `/`, contain no
 * backslash, no control or space characters, and resolve (dot segments
 * removed) to a path on this origin that does not itself start with `//`.
 */
export function safeLocalPath(next: unknown): string | null {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2000) return null;
  if (!next.startsWith('/') || next.startsWith('//')) return null;
  if (/[\\\u0000-\u0020\u007f-\u009f]/.test(next)) return null;
  let url: URL;
  try {
    url = new URL(next, LOCAL_BASE);
  } catch {
    return null;
  }
  if (url.origin !== LOCAL_BASE) return null;
  // Dot segments can collapse into `//host` (`/.//evil.example`): check the result too.
  const local = `${url.pathname}${url.search}`;
  return local.startsWith('//') ? null : local;
}
