/**
 * A tiny loopback HTTP client for the harness's set-up steps (readiness
 * checks, facilitator sign-in, spot checks). Every call has a deadline.
 */
import http from 'node:http';

export const HOST = '127.0.0.1';

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<SimpleResponse> {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: HOST,
        port,
        method,
        path,
        agent: false,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** `name=value` of the first Set-Cookie header with that name, exactly as the server sent it (still URL-encoded). */
export function cookiePair(setCookie: string | string[] | undefined, name: string): string | null {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  for (const line of list) {
    const pair = line.split(';', 1)[0]!.trim();
    if (pair.startsWith(`${name}=`)) return pair;
  }
  return null;
}

const CSRF_RE = /name="csrf_token" value="([^"]+)"/;

/** The first form's hidden csrf_token value in a page (HTML-unescaped), or null. */
export function csrfFrom(html: string): string | null {
  const match = CSRF_RE.exec(html);
  if (!match) return null;
  // nunjucks escapes only these five characters.
  return match[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
