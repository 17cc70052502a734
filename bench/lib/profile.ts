/**
 * Summarises a V8 CPU profile (`node --cpu-prof` output): self time per
 * function and per origin (a package, Node's internals, the companion's own
 * code, garbage collection, idle).
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  origin: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  busyShare: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  topFunctions: SelfTime[];
  byOrigin: Array<{ origin: string; ms: number; busyShare: number }>;
}

/** Where a frame's code comes from: `pkg:<name>`, `node:internal`, `companion`, or a V8 pseudo-frame. */
export function originOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') {
    const name = frame.functionName;
    if (name === '(idle)' || name === '(garbage collector)' || name === '(program)' || name === '(root)') return name;
    return 'native';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `pkg:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return 'node:internal';
  if (url.includes('/dist/')) return 'companion';
  return url;
}

function shortWhere(frame: CallFrame): string {
  if (frame.url === '') return '';
  const url = frame.url.replace(/^file:\/\//, '');
  const nm = url.lastIndexOf('/node_modules/');
  const short = nm !== -1 ? url.slice(nm + '/node_modules/'.length) : url.includes('/dist/') ? url.slice(url.lastIndexOf('/dist/') + 1) : url;
  return `${short}:${frame.lineNumber + 1}`;
}

export async function summariseProfile(file: string, top = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute it to sample i's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, { frame: CallFrame; us: number }>();
  const byOrigin = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    const origin = originOf(frame);
    if (origin === '(idle)') {
      idleUs += us;
      continue;
    }
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + us);
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}|${frame.columnNumber}`;
    const entry = byFunction.get(key) ?? { frame, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  return {
    file,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(({ frame, us }) => ({
        name: frame.functionName || '(anonymous)',
        where: shortWhere(frame),
        origin: originOf(frame),
        ms: us / 1000,
        busyShare: share(us),
      })),
    byOrigin: [...byOrigin]
      .sort((a, b) => b[1] - a[1])
      .map(([origin, us]) => ({ origin, ms: us / 1000, busyShare: share(us) })),
  };
}

export function formatProfile(summary: ProfileSummary, origins = 12): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `CPU profile ${summary.file}`,
    `  sampled ${(summary.totalMs / 1000).toFixed(1)} s: busy ${(summary.busyMs / 1000).toFixed(1)} s, idle ${(summary.idleMs / 1000).toFixed(1)} s`,
    '  top self time (share of busy time):',
    ...summary.topFunctions.map((f) => `    ${pct(f.busyShare).padStart(6)}  ${f.name}  ${f.where}`),
    '  by origin:',
    ...summary.byOrigin.slice(0, origins).map((o) => `    ${pct(o.busyShare).padStart(6)}  ${o.origin}`),
  ];
  return lines.join('\n');
}
