/**
 * The proposed hot-path fix, measured in isolation (bench/src/proposal/hotpath.ts, pinned to the
 * server core): identical exposition, ns per observation and render time, today vs proposed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';

const ENTRY = fileURLToPath(new URL('../proposal/hotpath.js', import.meta.url));

export interface HotpathResult {
  equivalence: { identical: boolean; detail: string };
  nsPerObservation: { current: number; proposed: number; currentRuns: number[]; proposedRuns: number[] };
  render: { samples: number; currentMs: number; proposedMs: number }[];
}

export async function runHotpath(ctx: Context): Promise<HotpathResult> {
  const n = ctx.options.mode === 'smoke' ? 100_000 : 1_000_000;
  const child = spawn('taskset', ['-c', ctx.options.serverCpu, process.execPath, ENTRY, String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('HOTPATHJSON '));
  if (code !== 0 || !line) throw new Error(`hotpath failed (${code}): ${err}`);
  const result = JSON.parse(line.slice('HOTPATHJSON '.length)) as HotpathResult;
  ctx.log(
    `hotpath: ${result.equivalence.detail}; ${result.nsPerObservation.current.toFixed(0)} → ${result.nsPerObservation.proposed.toFixed(0)} ns per observation; ` +
      result.render.map((r) => `${r.samples} samples ${r.currentMs.toFixed(1)} → ${r.proposedMs.toFixed(1)} ms`).join(', '),
  );
  return result;
}
