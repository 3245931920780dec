/**
 * `npm run bench` / `npm run bench:smoke`: runs the sections, writes bench/results/<date>.json and,
 * for full runs, the tables of bench/BENCHMARKS.md. Not part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from './context.js';
import type { ServerProcess } from './lib/proc.js';
import { wrkVersion } from './lib/wrk.js';
import { machineInfo } from './machine.js';
import { parseOptions, type Section } from './options.js';
import { evaluateGoals, markdown, type Results, spliceMarkdown } from './report.js';
import { runConsumer } from './sections/consumer.js';
import { runFlood } from './sections/flood.js';
import { runGrowth } from './sections/growth.js';
import { runHotpath } from './sections/hotpath.js';
import { runOverhead } from './sections/overhead.js';
import { runProfile } from './sections/profile.js';
import { runScrape } from './sections/scrape.js';
import { runUsers } from './sections/users.js';
import { apiEntry } from './soak/api.js';

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
const REPO = join(BENCH_DIR, '..');

/** Splices the tables into bench/BENCHMARKS.md and formats it as `npm run lint` (biome) wants it. */
function writeBenchmarksMd(tables: string, resultFile: string): string {
  const mdFile = join(BENCH_DIR, 'BENCHMARKS.md');
  const existing = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : undefined;
  writeFileSync(mdFile, spliceMarkdown(existing, tables, relative(BENCH_DIR, resultFile)));
  const biome = join(REPO, 'node_modules/.bin/biome');
  if (existsSync(biome)) spawnSync(biome, ['format', '--write', mdFile], { cwd: REPO, stdio: 'ignore' });
  return mdFile;
}

/** `--rewrite <results.json>`: regenerate goals and tables from a result file, without measuring. */
function rewrite(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  results.goals = evaluateGoals(results);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const tables = markdown(results);
  writeFileSync(file.replace(/\.json$/, '.md'), `${tables}\n`);
  if (results.mode === 'full') writeBenchmarksMd(tables, file.replace(/\.json$/, '.md'));
  process.stdout.write(`rewrote the tables from ${file}\n`);
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--rewrite');
  if (at >= 0) return rewrite(process.argv[at + 1] ?? '');
  const options = parseOptions(process.argv.slice(2));
  if (!wrkVersion()) throw new Error('wrk is not installed: apt-get install -y wrk (see bench/BENCHMARKS.md, "Load generator")');
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0)
    throw new Error('taskset (util-linux) is needed to pin servers and load generator');
  // The harness itself (every thread) shares wrk's core: what it does between quanta and slices must
  // not land on the servers' core.
  spawnSync('taskset', ['-a', '-p', '-c', options.loadCpu, String(process.pid)], { stdio: 'ignore' });
  if ((options.sections.includes('users') || options.sections.includes('growth')) && !existsSync(apiEntry()))
    throw new Error('build first: npx tsc -b');

  const day = new Date().toISOString().slice(0, 10);
  const stamp = options.mode === 'smoke' ? `${day}-smoke` : day;
  const resultsDir = options.outDir ?? join(BENCH_DIR, 'results');
  const profilesDir = join(resultsDir, 'profiles');
  mkdirSync(profilesDir, { recursive: true });

  const servers = new Set<ServerProcess>();
  const started = Date.now();
  const log = (message: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`);
  const ctx: Context = {
    options,
    resultsDir,
    profilesDir,
    stamp,
    log,
    track: (server) => servers.add(server),
    stop: async (server) => {
      servers.delete(server);
      await server.stop();
    },
  };
  const stopAll = async () => {
    await Promise.all([...servers].map((s) => s.stop().catch(() => undefined)));
    servers.clear();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping servers`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  log(`bench (${options.mode}): sections ${options.sections.join(', ')}; adapters ${options.adapters.join(', ')}; seed ${options.seed}`);
  const machine = machineInfo();
  const results: Partial<Results> & { errors: Results['errors'] } = { errors: [] };
  const run = async <T>(section: Section, body: () => Promise<T>): Promise<T | undefined> => {
    if (!options.sections.includes(section)) return undefined;
    const t = Date.now();
    try {
      const value = await body();
      log(`${section}: done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
      return value;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${section}: FAILED ${message}`);
      results.errors.push({ section, error: message });
      await stopAll();
      return undefined;
    }
  };
  const consumer = await run('consumer', () => runConsumer(ctx));
  const overhead = await run('overhead', () => runOverhead(ctx));
  const users = await run('users', () => runUsers(ctx));
  const growth = await run('growth', () => runGrowth(ctx));
  const scrape = await run('scrape', () => runScrape(ctx));
  const flood = await run('flood', () => runFlood(ctx));
  const profile = await run('profile', () => runProfile(ctx));
  const hotpath = await run('hotpath', () => runHotpath(ctx));
  await stopAll();

  const final: Results = {
    schema: 1,
    mode: options.mode,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    options,
    machine,
    consumer,
    overhead,
    users,
    growth,
    scrape,
    flood,
    profile,
    hotpath,
    errors: results.errors,
    goals: [],
  };
  final.goals = evaluateGoals(final);
  const jsonFile = join(resultsDir, `${stamp}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(final, null, 2)}\n`);
  const tables = markdown(final);
  writeFileSync(join(resultsDir, `${stamp}.md`), `${tables}\n`);
  if (options.writeMarkdown) log(`wrote ${relative(REPO, writeBenchmarksMd(tables, join(resultsDir, `${stamp}.md`)))}`);
  log(`wrote ${relative(REPO, jsonFile)} and ${relative(REPO, join(resultsDir, `${stamp}.md`))} in ${final.seconds} s`);
  process.stdout.write(
    `\n${final.goals.map((g) => `${g.met === null ? 'n/a ' : g.met ? 'MET ' : 'MISS'}  [${g.section}] ${g.scope}: ${g.goal} — ${g.measured}`).join('\n')}\n`,
  );
  if (results.errors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
