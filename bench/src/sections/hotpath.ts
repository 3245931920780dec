/**
 * The hot-path fix measured in isolation (bench/src/hotpath/hotpath.ts, pinned to the server core):
 * identical exposition, ns per observation and render time, prom-client recording (before) vs ours.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import type { HotpathResult } from '../results.js';
export type { HotpathResult };

const ENTRY = fileURLToPath(new URL('../hotpath/hotpath.js', import.meta.url));

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
    `hotpath: ${result.equivalence.detail}; ${result.nsPerObservation.before.toFixed(0)} → ${result.nsPerObservation.ours.toFixed(0)} ns per observation; ` +
      result.render.map((r) => `${r.samples} samples ${r.beforeMs.toFixed(1)} → ${r.oursMs.toFixed(1)} ms`).join(', '),
  );
  return result;
}
