/**
 * Reading the companion's pages as a browser's form would, shared by the
 * unit, browser and benchmark suites: the CSRF token of a form, the cookies
 * a response sets, and a small cookie-keeping client over fetch.
 */

const CSRF_RE = /name="csrf_token" value="([^"]+)"/;

/** The first form's hidden csrf_token value in a page (HTML-unescaped), or null when the page has no form. */
export function readCsrf(html: string): string | null {
  const match = CSRF_RE.exec(html);
  if (!match) return null;
  // nunjucks escapes only these five characters.
  return match[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** As readCsrf, for a page that must have a form. */
export function csrfFrom(html: string): string {
  const token = readCsrf(html);
  if (token === null) throw new Error('no csrf_token in the page');
  return token;
}

/** Each Set-Cookie line's `name=value`, exactly as the server sent it (still URL-encoded), with whether it clears the cookie. */
export function setCookiePairs(setCookie: string | readonly string[] | undefined): Array<{ name: string; pair: string; cleared: boolean }> {
  const lines = setCookie === undefined ? [] : typeof setCookie === 'string' ? [setCookie] : setCookie;
  return lines.map((line) => {
    const [first = '', ...attributes] = line.split(';');
    const pair = first.trim();
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    const cleared = equals < 0 || equals === pair.length - 1 || attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    return { name, pair, cleared };
  });
}

/** `name=value` of the first Set-Cookie line with that name, or null. */
export function cookiePair(setCookie: string | readonly string[] | undefined, name: string): string | null {
  return setCookiePairs(setCookie).find((c) => c.name === name)?.pair ?? null;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The whole request's deadline (default: the client's). */
  timeoutMs?: number;
}

/** A minimal browser over fetch: keeps the cookies it is given, reads form tokens, never follows a redirect, and gives every request a deadline. */
export class HttpClient {
  private readonly cookies = new Map<string, string>();

  constructor(
    readonly base: string,
    private readonly timeoutMs = 10_000,
  ) {}

  get(path: string, options: RequestOptions = {}): Promise<Response> {
    return this.send('GET', path, undefined, options);
  }

  /** Posts a form; a field given as a list is sent once per value, as check boxes with one name are. */
  post(path: string, form: Record<string, string | readonly string[]>, options: RequestOptions = {}): Promise<Response> {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(form)) for (const item of typeof value === 'string' ? [value] : value) body.append(name, item);
    return this.send('POST', path, body.toString(), { ...options, headers });
  }

  /** GETs a page and returns the CSRF token of its (first) form. */
  async csrf(path: string): Promise<string> {
    const response = await this.get(path);
    const token = readCsrf(await response.text());
    if (token === null) throw new Error(`no csrf_token on ${path} (status ${response.status})`);
    return token;
  }

  /** The `name=value` of a cookie held, as the server sent it, or null. */
  cookie(name: string): string | null {
    return this.cookies.get(name) ?? null;
  }

  /** The Cookie header this client sends ('' when it holds none). */
  cookieHeader(): string {
    return [...this.cookies.values()].join('; ');
  }

  private async send(method: string, path: string, body: string | undefined, options: RequestOptions): Promise<Response> {
    const cookie = this.cookieHeader();
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...options.headers, ...(cookie ? { cookie } : {}) },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs),
    });
    for (const { name, pair, cleared } of setCookiePairs(response.headers.getSetCookie())) {
      if (cleared) this.cookies.delete(name);
      else this.cookies.set(name, pair);
    }
    return response;
  }
}
