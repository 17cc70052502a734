/** Small HTTP pieces shared by the GitHub routes and the control API. */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const DOCS = 'https://docs.github.com/rest';

/** What a route answers; the server adds the common headers, ETag and rate-limit accounting. */
export interface ApiResponse {
  status: number;
  body?: unknown;
  /** Bytes sent as is (raw media type), instead of JSON. */
  raw?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

/** An error answer in GitHub's shape: `{ message, documentation_url, status }` (plus `errors` for 422s). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly documentationUrl: string = DOCS,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): ApiResponse {
    return {
      status: this.status,
      body: { message: this.message, documentation_url: this.documentationUrl, ...this.extra, status: String(this.status) },
      headers: this.headers,
    };
  }
}

export const notFound = (docs: string = DOCS): ApiError => new ApiError(404, 'Not Found', docs);

/** GitHub's answer when a required body field is absent. */
export const notSupplied = (field: string, docs: string): ApiError => new ApiError(422, `Invalid request.\n\n"${field}" wasn't supplied.`, docs);

export async function readBody(req: IncomingMessage, limit = 150 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.byteLength;
    if (size > limit) throw new ApiError(413, 'Payload too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body; an empty body is `{}`. GitHub answers 400 "Problems parsing JSON" otherwise. */
export function parseJson(body: Buffer): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'Problems parsing JSON', DOCS);
  }
  if (Array.isArray(value)) return { __array: value };
  if (value === null || typeof value !== 'object') throw new ApiError(400, 'Problems parsing JSON', DOCS);
  return value as Record<string, unknown>;
}

/** Base64 as GitHub's contents and blobs APIs send it: lines of 60 characters, each ending in "\n". */
export function wrappedBase64(content: Buffer): string {
  const plain = content.toString('base64');
  let out = '';
  for (let i = 0; i < plain.length; i += 60) out += `${plain.slice(i, i + 60)}\n`;
  return out;
}

/** Strict base64 (newlines allowed, as GitHub's own output has them). */
export function decodeBase64(text: string): Buffer | null {
  const compact = text.replace(/[\r\n]/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return null;
  return Buffer.from(compact, 'base64');
}

export function strongEtag(bytes: Buffer | string): string {
  return `"${createHash('sha1').update(bytes).digest('hex')}"`;
}

/** If-None-Match uses the weak comparison (RFC 9110): `W/"x"` matches `"x"`; `*` matches anything. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || t.replace(/^W\//, '') === bare);
}

export interface Page<T> {
  items: T[];
  link: string | null;
}

/**
 * One page of a list, with GitHub's `Link` header: `per_page` defaults to 30
 * and is capped at 100; `page` starts at 1; relations in GitHub's order
 * prev, next, last, first (prev and first only after page 1, next and last
 * only before the last page). The other query parameters are kept.
 */
export function paginate<T>(items: T[], url: URL, origin: string): Page<T> {
  const perRaw = Number.parseInt(url.searchParams.get('per_page') ?? '', 10);
  const perPage = Number.isFinite(perRaw) && perRaw > 0 ? Math.min(perRaw, 100) : 30;
  const pageRaw = Number.parseInt(url.searchParams.get('page') ?? '', 10);
  const page = Number.isFinite(pageRaw) && pageRaw > 0 ? pageRaw : 1;
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const at = (n: number): string => {
    const u = new URL(url.pathname + url.search, origin);
    u.searchParams.set('page', String(n));
    return `<${u.toString()}>`;
  };
  const rels: string[] = [];
  if (page > 1) rels.push(`${at(Math.min(page - 1, last))}; rel="prev"`);
  if (page < last) rels.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (page > 1) rels.push(`${at(1)}; rel="first"`);
  return { items: slice, link: rels.length > 0 ? rels.join(', ') : null };
}

/** Sends a list page with its Link header. */
export function pageResponse<T>(items: T[], url: URL, origin: string, wrap?: (page: T[]) => unknown): ApiResponse {
  const { items: slice, link } = paginate(items, url, origin);
  return { status: 200, body: wrap ? wrap(slice) : slice, headers: link ? { link } : {} };
}
