/** The load generator: wrk (C, epoll), pinned to the core the servers do not use. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WrkErrors, WrkResult, FloodResult } from '../results.js';
export type { WrkErrors, WrkResult, FloodResult };

const LUA_DIR = fileURLToPath(new URL('../../../lua/', import.meta.url));

export function wrkVersion(): string | undefined {
  const result = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (result.error) return undefined;
  return `${result.stdout}${result.stderr}`.split('\n')[0]?.trim();
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  cpu: string;
  /** Lua script in bench/lua (default report.lua). */
  script?: string;
  /** Arguments after `--`, handed to the script's init(). */
  scriptArgs?: string[];
  timeoutSeconds?: number;
  /** wrk is sent SIGINT (it then prints its summary and exits) when a line of its output matches, or on abort. */
  stopOn?: string;
  signal?: AbortSignal;
}

async function runWrk<T>(options: WrkOptions): Promise<T> {
  if (!new URL(options.url).hostname.startsWith('127.')) throw new Error(`refusing to load ${options.url}: loopback only`);
  const args = [
    '-c',
    options.cpu,
    'wrk',
    '-t1',
    `-c${options.connections}`,
    `-d${Math.max(1, Math.round(options.seconds))}s`,
    `--timeout`,
    `${options.timeoutSeconds ?? 10}s`,
    '-s',
    `${LUA_DIR}${options.script ?? 'report.lua'}`,
    options.url,
  ];
  if (options.scriptArgs) args.push('--', ...options.scriptArgs);
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const interrupt = () => child.kill('SIGINT');
  options.signal?.addEventListener('abort', interrupt, { once: true });
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (options.stopOn && out.includes(options.stopOn)) interrupt();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  options.signal?.removeEventListener('abort', interrupt);
  const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}): ${err}${out}`);
  return JSON.parse(line.slice('BENCHJSON '.length)) as T;
}

/** Saturating load on one URL for a fixed time. */
export function wrk(options: WrkOptions): Promise<WrkResult> {
  return runWrk<WrkResult>(options);
}

/** Random requests until `requests` responses arrived (bench/lua/flood.lua). */
export function flood(
  options: Omit<WrkOptions, 'script' | 'scriptArgs' | 'stopOn'> & { requests: number; seed: number; percentEncoding: boolean },
): Promise<FloodResult> {
  return runWrk<FloodResult>({
    ...options,
    script: 'flood.lua',
    scriptArgs: [String(options.requests), String(options.seed), options.percentEncoding ? '0' : '1'],
    stopOn: 'FLOODDONE',
  });
}
