/**
 * CPU profiles of ours (metrics off / on) under the trivial-route load: where the instrumentation's
 * time goes. Each profile is summarised two ways: self time by package, and the share of samples
 * spent in our hooks (packages/observability) including the Node and prom-client code they call
 * directly (see isOurs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { wrk } from '../lib/wrk.js';
import { type Stack, variant } from '../variants.js';
import { startVariant } from './overhead.js';
import type { FunctionCost, ProfileSummary } from '../results.js';
export type { FunctionCost, ProfileSummary };

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function packageOf(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)' || fn === '(root)') return 'v8/native';
  if (url.includes('/packages/observability/')) return 'ours (packages/observability)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:') || url === '') return 'node core';
  return 'other';
}

const where = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|packages|bench|apps)\//, '$1/');
  return url ? `${url}:${n.callFrame.lineNumber + 1}` : '(native)';
};

export function summarise(id: string, file: string, requests: number, cpuUsPerRequest: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample is ours when, walking up from the running function, the first frame that belongs to
  // a package (not Node core, not native, not prom-client) is in packages/observability. Plain
  // "an ours frame is on the stack" would also count everything a middleware reaches via next().
  const owner = new Map<number, boolean>();
  const isOurs = (idNode: number): boolean => {
    const cached = owner.get(idNode);
    if (cached !== undefined) return cached;
    const url = byId.get(idNode)!.callFrame.url;
    let value: boolean;
    if (url.includes('/packages/observability/')) value = true;
    else if (url === '' || url.startsWith('node:') || url.includes('/node_modules/prom-client/')) {
      const p = parent.get(idNode);
      value = p !== undefined && isOurs(p);
    } else value = false;
    owner.set(idNode, value);
    return value;
  };
  const isUnder = isOurs;
  const self = new Map<number, number>();
  let busy = 0;
  let instrumented = 0;
  for (const sample of profile.samples) {
    const node = byId.get(sample)!;
    if (node.callFrame.functionName === '(idle)') continue;
    busy++;
    self.set(sample, (self.get(sample) ?? 0) + 1);
    if (isUnder(sample)) instrumented++;
  }
  const byPackage: Record<string, number> = {};
  const byFunction = new Map<string, { fn: string; where: string; n: number; under: number }>();
  for (const [nodeId, n] of self) {
    const node = byId.get(nodeId)!;
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    byPackage[pkg] = (byPackage[pkg] ?? 0) + n / busy;
    const key = `${node.callFrame.functionName}@${where(node)}`;
    const entry = byFunction.get(key) ?? { fn: node.callFrame.functionName || '(anonymous)', where: where(node), n: 0, under: 0 };
    entry.n += n;
    if (isUnder(nodeId)) entry.under += n;
    byFunction.set(key, entry);
  }
  const cost = (n: number) => ({ share: n / busy, usPerRequest: (n / busy) * cpuUsPerRequest });
  const functions = [...byFunction.values()];
  return {
    id,
    file,
    requests,
    cpuUsPerRequest,
    samples: busy,
    byPackage: Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1])),
    instrumentationShare: instrumented / busy,
    instrumentationUsPerRequest: (instrumented / busy) * cpuUsPerRequest,
    underInstrumentation: functions
      .filter((f) => f.under > 0)
      .sort((a, b) => b.under - a.under)
      .slice(0, 15)
      .map((f) => ({ fn: f.fn, where: f.where, ...cost(f.under) })),
    top: functions
      .sort((a, b) => b.n - a.n)
      .slice(0, 15)
      .map((f) => ({ fn: f.fn, where: f.where, ...cost(f.n) })),
  };
}

export async function runProfile(ctx: Context): Promise<ProfileSummary[]> {
  const summaries: ProfileSummary[] = [];
  // Smoke mode profiles Fastify only (where the metrics' share of a request is largest), to stay short.
  const adapters = ctx.options.mode === 'smoke' && ctx.options.adapters.includes('fastify') ? (['fastify'] as const) : ctx.options.adapters;
  for (const adapter of adapters) {
    for (const stack of ['ours-off', 'ours-on', 'ours-prom-client'] as Stack[]) {
      const v = variant(adapter, stack);
      const running = await startVariant(ctx, v);
      const { server } = running;
      try {
        const url = `${server.url}/bench/42`;
        await wrk({ url, seconds: Math.max(1, ctx.options.warmupSeconds), connections: ctx.options.connections, cpu: ctx.options.loadCpu });
        const file = join(ctx.profilesDir, `${ctx.stamp}-${adapter}-${stack}.cpuprofile`);
        await server.call('profile-start', { intervalUs: 250 });
        const cpuBefore = server.cpuSeconds();
        const result = await wrk({
          url,
          seconds: ctx.options.profileSeconds,
          connections: ctx.options.connections,
          cpu: ctx.options.loadCpu,
        });
        const cpu = server.cpuSeconds() - cpuBefore;
        await server.call('profile-stop', { path: file }, 120_000);
        const summary = summarise(v.id, file, result.requests, (cpu / result.requests) * 1e6);
        ctx.log(
          `profile ${v.id}: ${summary.cpuUsPerRequest.toFixed(1)} µs/req (profiler on), under packages/observability ` +
            `${(summary.instrumentationShare * 100).toFixed(1)} % = ${summary.instrumentationUsPerRequest.toFixed(2)} µs/req`,
        );
        summaries.push(summary);
      } finally {
        await ctx.stop(server);
      }
    }
  }
  return summaries;
}
