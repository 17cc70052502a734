/**
 * Load generation with autocannon (programmatic API, in this process) over
 * loopback. Every run is bounded by its duration, with a watchdog that stops
 * it if it overruns. Latencies are collected from autocannon's per-response
 * timings (fractions of a millisecond kept) for every response, whatever its
 * status; autocannon's own histogram keeps whole milliseconds of 2xx only.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { cookiePair, readCsrf } from '../../test/helpers/http.js';
import { HOST } from '../../test/helpers/server.js';

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** A bounded sample of latencies (ms). */
export class Latencies {
  private values: number[] = [];
  constructor(private readonly cap = 5_000_000) {}
  add(ms: number): void {
    if (this.values.length < this.cap) this.values.push(ms);
  }
  summary(): Percentiles {
    const sorted = Float64Array.from(this.values).sort();
    const n = sorted.length;
    const at = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!);
    let sum = 0;
    for (const v of sorted) sum += v;
    return { count: n, mean: n === 0 ? 0 : sum / n, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), max: n === 0 ? 0 : sorted[n - 1]! };
  }
}

/** CPU time (ms) a process has used so far, from /proc (Linux); null elsewhere. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return ((utime + stime) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

export interface LoadOptions {
  port: number;
  connections: number;
  durationS: number;
  /** Extra request headers (the session cookie for the dashboard). */
  headers?: Record<string, string>;
  path: string;
  /** Server process to meter CPU time for. */
  serverPid?: number;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  responses: number;
  requestsPerSecond: number;
  latencyMs: Percentiles;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  /** Responses with a status other than the expected one. */
  unexpected: number;
  /** Server CPU time used during the run (ms), when measurable. */
  serverCpuMs: number | null;
  /** Server CPU time per response (ms), when measurable. */
  serverCpuMsPerResponse: number | null;
  /** What autocannon itself reported (whole-ms histogram of 2xx responses, per-second request samples). */
  autocannon: { requestsAverage: number; latencyP50: number; latencyP99: number; non2xx: number; resets: number };
}

function runBounded(options: autocannon.Options, onEachResponse: (status: number, ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => {
      clearTimeout(watchdog);
      if (error) reject(error);
      else resolve(result);
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => onEachResponse(statusCode, responseTime));
    // The duration bounds the run; this only guards against a run that does not end by itself.
    const watchdog = setTimeout(() => instance.stop(), ((options.duration as number) + 30) * 1000);
  });
}

function baseOptions(o: LoadOptions): autocannon.Options {
  return {
    url: `http://${HOST}:${o.port}${o.path}`,
    connections: o.connections,
    duration: o.durationS,
    pipelining: 1,
    timeout: 30,
  };
}

function summarise(
  o: LoadOptions,
  result: autocannon.Result,
  latencies: Latencies,
  statusCounts: Record<string, number>,
  unexpected: number,
  cpuBefore: number | null,
): LoadResult {
  const cpuAfter = o.serverPid === undefined ? null : processCpuMs(o.serverPid);
  const responses = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const serverCpuMs = cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null;
  return {
    connections: o.connections,
    durationS: result.duration,
    responses,
    requestsPerSecond: responses / result.duration,
    latencyMs: latencies.summary(),
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
    unexpected,
    serverCpuMs,
    serverCpuMsPerResponse: serverCpuMs !== null && responses > 0 ? serverCpuMs / responses : null,
    autocannon: {
      requestsAverage: result.requests.average,
      latencyP50: result.latency.p50,
      latencyP99: result.latency.p99,
      non2xx: result.non2xx,
      resets: result.resets,
    },
  };
}

/** A fixed GET, repeated on every connection for the duration; `expect` is the status that counts as right. */
export async function loadGet(o: LoadOptions, expect = 200, pooled?: Latencies): Promise<LoadResult> {
  const latencies = new Latencies();
  const statusCounts: Record<string, number> = {};
  let unexpected = 0;
  const cpuBefore = o.serverPid === undefined ? null : processCpuMs(o.serverPid);
  const result = await runBounded({ ...baseOptions(o), headers: o.headers ?? {} }, (status, ms) => {
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (status !== expect) unexpected++;
    latencies.add(ms);
    pooled?.add(ms);
  });
  return summarise(o, result, latencies, statusCounts, unexpected, cpuBefore);
}

/** Several runs of one scenario as one result (totals summed, latencies from the pooled sample). */
export function mergeResults(parts: LoadResult[], pooled: Latencies): LoadResult {
  const sum = (f: (r: LoadResult) => number) => parts.reduce((total, r) => total + f(r), 0);
  const statusCounts: Record<string, number> = {};
  for (const part of parts) for (const [code, n] of Object.entries(part.statusCounts)) statusCounts[code] = (statusCounts[code] ?? 0) + n;
  const responses = sum((r) => r.responses);
  const durationS = sum((r) => r.durationS);
  const cpuKnown = parts.every((r) => r.serverCpuMs !== null);
  const serverCpuMs = cpuKnown ? sum((r) => r.serverCpuMs!) : null;
  const mean = (f: (r: LoadResult) => number) => (parts.length === 0 ? 0 : sum(f) / parts.length);
  return {
    connections: parts[0]?.connections ?? 0,
    durationS,
    responses,
    requestsPerSecond: durationS > 0 ? responses / durationS : 0,
    latencyMs: pooled.summary(),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statusCounts,
    unexpected: sum((r) => r.unexpected),
    serverCpuMs,
    serverCpuMsPerResponse: serverCpuMs !== null && responses > 0 ? serverCpuMs / responses : null,
    autocannon: {
      requestsAverage: mean((r) => r.autocannon.requestsAverage),
      latencyP50: mean((r) => r.autocannon.latencyP50),
      latencyP99: mean((r) => r.autocannon.latencyP99),
      non2xx: sum((r) => r.autocannon.non2xx),
      resets: sum((r) => r.autocannon.resets),
    },
  };
}

export interface Accepted {
  handle: string;
  cohort: string;
  /** POST /register latency (ms). */
  postMs: number;
  /** The whole flow's latency, form and post (ms). */
  flowMs: number;
  /** When the 303 arrived (ms since the run started). */
  atMs: number;
}

export interface FlowResult extends LoadResult {
  /** Registrations answered 303 to the success page. */
  registrations: number;
  registrationsPerSecond: number;
  /** POST /register latency (the part that waits for the disk). */
  postLatencyMs: Percentiles;
  /** Whole flow: GET the form, then POST it. */
  flowLatencyMs: Percentiles;
  getStatusCounts: Record<string, number>;
  postStatusCounts: Record<string, number>;
  /** GETs that gave no cookie or no token (so no POST followed). */
  unusableForms: number;
  accepted: Accepted[];
}

interface FlowContext {
  cookie?: string | null;
  csrf?: string | null;
  handle?: string;
  cohort?: string;
  tFlow?: number;
  tPost?: number;
}

function header(headers: Record<string, unknown> | undefined, name: string): string | string[] | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value as string | string[];
  }
  return undefined;
}

/**
 * The registration flow on every connection, over and over: GET /register
 * (a new session cookie and CSRF token), then POST /register with a new,
 * unique username; a 303 to the success page is a completed registration.
 * With `repeatHandles`, the usernames cycle through that many instead, so
 * after the first few every post registers someone already there (the same
 * cohort and days) and nothing is written.
 */
export async function loadRegistrationFlow(
  o: Omit<LoadOptions, 'path' | 'headers'> & { cohorts: string[]; handlePrefix: string; cookieName: string; repeatHandles?: number },
): Promise<FlowResult> {
  const latencies = new Latencies();
  const postLatencies = new Latencies();
  const flowLatencies = new Latencies();
  const statusCounts: Record<string, number> = {};
  const getStatusCounts: Record<string, number> = {};
  const postStatusCounts: Record<string, number> = {};
  const accepted: Accepted[] = [];
  let unexpected = 0;
  let unusableForms = 0;
  let serial = 0;
  let startedAt = performance.now();

  const requests: autocannon.Request[] = [
    {
      method: 'GET',
      path: '/register',
      setupRequest: (request, context) => {
        (context as FlowContext).tFlow = performance.now();
        return request;
      },
      onResponse: (status, body, context, headers) => {
        const ctx = context as FlowContext;
        getStatusCounts[status] = (getStatusCounts[status] ?? 0) + 1;
        if (status !== 200) {
          unexpected++;
          return;
        }
        ctx.cookie = cookiePair(header(headers as Record<string, unknown>, 'set-cookie'), o.cookieName);
        ctx.csrf = readCsrf(body);
        if (!ctx.cookie || !ctx.csrf) unusableForms++;
      },
    },
    {
      method: 'POST',
      path: '/register',
      setupRequest: (request, context) => {
        const ctx = context as FlowContext;
        // No form to post: start the flow again (autocannon counts this as a reset).
        if (!ctx.cookie || !ctx.csrf) return null as unknown as autocannon.Request;
        serial++;
        const n = o.repeatHandles ? serial % o.repeatHandles : serial;
        ctx.handle = `${o.handlePrefix}-${n.toString(36)}`;
        ctx.cohort = o.cohorts[n % o.cohorts.length]!;
        const body = new URLSearchParams({ github_handle: ctx.handle, cohort_id: ctx.cohort, path: 'day1-day2', csrf_token: ctx.csrf }).toString();
        ctx.tPost = performance.now();
        return {
          ...request,
          headers: { ...request.headers, cookie: ctx.cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body,
        };
      },
      onResponse: (status, _body, context, headers) => {
        const now = performance.now();
        const ctx = context as FlowContext;
        postStatusCounts[status] = (postStatusCounts[status] ?? 0) + 1;
        const location = header(headers as Record<string, unknown>, 'location');
        const expected = `/register/success?handle=${encodeURIComponent(ctx.handle ?? '')}`;
        if (status === 303 && location === expected && ctx.handle && ctx.cohort && ctx.tPost !== undefined) {
          accepted.push({ handle: ctx.handle, cohort: ctx.cohort, postMs: now - ctx.tPost, flowMs: ctx.tFlow === undefined ? now - ctx.tPost : now - ctx.tFlow, atMs: now - startedAt });
          postLatencies.add(now - ctx.tPost);
          if (ctx.tFlow !== undefined) flowLatencies.add(now - ctx.tFlow);
        } else {
          unexpected++;
        }
      },
    },
  ];

  const cpuBefore = o.serverPid === undefined ? null : processCpuMs(o.serverPid);
  startedAt = performance.now();
  const result = await runBounded({ ...baseOptions({ ...o, path: '/register' }), requests }, (status, ms) => {
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    latencies.add(ms);
  });
  const base = summarise({ ...o, path: '/register' }, result, latencies, statusCounts, unexpected, cpuBefore);
  return {
    ...base,
    registrations: accepted.length,
    registrationsPerSecond: accepted.length / result.duration,
    postLatencyMs: postLatencies.summary(),
    flowLatencyMs: flowLatencies.summary(),
    getStatusCounts,
    postStatusCounts,
    unusableForms,
    accepted,
  };
}
