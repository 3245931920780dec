import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { type RunResult, run } from './run.js';

/** `node scripts/stack.mjs …` as a user runs it, natively, with the given environment only. */
export const STACK = join(REPO_ROOT, 'scripts/stack.mjs');

export function stack(command: 'up' | 'down' | 'status', env: NodeJS.ProcessEnv, args: readonly string[] = []): Promise<RunResult> {
  return run(process.execPath, [STACK, command, ...args], { cwd: REPO_ROOT, env, timeoutMs: 150_000 });
}

/** Whether a pid runs (a zombie waiting for its parent to reap it counts as gone). */
export function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The pids recorded in a run directory, by service. */
export function recordedPids(runDir: string): Map<string, number> {
  if (!existsSync(runDir)) return new Map();
  return new Map(
    readdirSync(runDir)
      .filter((file) => file.endsWith('.pid'))
      .map((file) => [file.slice(0, -4), Number(readFileSync(join(runDir, file), 'utf8').trim())]),
  );
}

/** Last resort after a failed `down`: SIGKILL what is still recorded and still runs its recorded command. */
export function killLeftovers(runDir: string): string[] {
  const left: string[] = [];
  for (const [name, pid] of recordedPids(runDir)) {
    let argv: string[];
    let cmdline: string;
    try {
      argv = (JSON.parse(readFileSync(join(runDir, `${name}.json`), 'utf8')) as { argv: string[] }).argv;
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline === `${argv.join('\0')}\0`) {
      process.kill(pid, 'SIGKILL');
      left.push(`${name} (pid ${pid})`);
    }
  }
  return left;
}
