/** The record of requests the simulator answered (or dropped). Never holds a token: only its fingerprint. */
import { pathMatches, type PathPattern } from './faults.js';

export interface LoggedRequest {
  seq: number;
  /** ISO time the request arrived. */
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** 0 when the connection was dropped without an answer. */
  status: number;
  /** Whether it used up one request of the primary rate limit. */
  counted: boolean;
  /** user:<login>, installation:<id>, app:<id> or anonymous:<ip>. */
  identity: string;
  /** First 12 hex digits of sha256(token), or null. */
  tokenFingerprint: string | null;
  /** The injected fault that shaped the answer, if any. */
  fault: string | null;
  durationMs: number;
}

export interface RequestFilter {
  method?: string;
  path?: PathPattern;
  status?: number;
  identity?: string;
  /** Only entries after this sequence number. */
  afterSeq?: number;
}

export class RequestLog {
  private entries: LoggedRequest[] = [];
  private seq = 0;

  constructor(private readonly max = 50_000) {}

  nextSeq(): number {
    return ++this.seq;
  }

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.max) this.entries.splice(0, this.entries.length - this.max);
  }

  list(filter: RequestFilter = {}): LoggedRequest[] {
    return this.entries.filter(
      (e) =>
        (!filter.method || e.method === filter.method.toUpperCase()) &&
        pathMatches(filter.path, e.path) &&
        (filter.status === undefined || e.status === filter.status) &&
        (!filter.identity || e.identity === filter.identity) &&
        (filter.afterSeq === undefined || e.seq > filter.afterSeq),
    );
  }

  count(filter: RequestFilter = {}): number {
    return this.list(filter).length;
  }

  /** The sequence number of the latest entry, to ask later for what came after it. */
  mark(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
  }
}
