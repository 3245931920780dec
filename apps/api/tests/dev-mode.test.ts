import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { terminalDestination } from '../src/logging/terminal.js';
import { ADAPTERS, spawnApi, startApi, waitUntilListening } from './support/api.js';
import { createTempDatabase, freePort, type TempDatabase, tempDir, waitFor } from './support/services.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
/** What `npm run dev` compiles and runs: the API and the workspaces it references. */
const WORKSPACES = ['apps/api', 'packages/observability', 'packages/testkit'];
const CONTROLLER = 'apps/api/src/users/users.controller.ts';
/**
 * The bar: an edit answers within 5 s, held for the median of three edits on a machine with
 * CPU to spare. Where the 1-minute load is above the core count (the suite runs two files at a time
 * on 2 cores, beside whatever else runs), compiling and starting take proportionally longer, and the
 * bar scales with that load, up to 3 times: starvation is not what this measures. A slower machine
 * is not either: the bar was set where `npm run dev` had the API answering about 1.5 s after launch
 * (an up-to-date build and one API start); where that first start takes longer, an edit's build and
 * API start take proportionally longer too, and the bar scales with it (on a 2-core EPYC at 2 GHz,
 * about 2.7 times slower per request in bench/BENCHMARKS.md, the first start took 2.6 s and edits
 * 5.0–5.4 s). The larger of the two factors applies, as a loaded machine starts slower too. Every edit
 * must answer within 15 s regardless.
 */
const MEDIAN_BUDGET_MS = 5000;
const REFERENCE_FIRST_START_MS = 1500;
const speedFactor = (firstStartMs: number) => Math.max(1, firstStartMs / REFERENCE_FIRST_START_MS);
const EACH_BUDGET_MS = 15_000;
const loadFactor = () => Math.min(3, Math.max(1, loadavg()[0] / availableParallelism()));
const TSC_SETTLE_MS = 5000;

/**
 * A copy of the repository's parts that `npm run dev` touches, in a temp dir, so the test edits a
 * controller without ever modifying the real sources. dist/ comes along with its timestamps, so the
 * first build is an up-to-date check; node_modules are links to the real ones, except the
 * workspaces', which point at the copies, as npm's own links do.
 */
async function copyWorkspace(into: string): Promise<void> {
  for (const file of [
    'package.json',
    'tsconfig.json',
    'tsconfig.base.json',
    'scripts/dev.mjs',
    'scripts/lib/environment.mjs',
    'scripts/lib/packages.mjs',
  ]) {
    await cp(join(REPO, file), join(into, file), { preserveTimestamps: true });
  }
  for (const dir of WORKSPACES) {
    await cp(join(REPO, dir), join(into, dir), {
      recursive: true,
      preserveTimestamps: true,
      filter: (source) => !/[/\\](node_modules|\.data)$/.test(source),
    });
  }
  const modules = join(into, 'node_modules');
  await mkdir(join(modules, '@obsnest'), { recursive: true });
  for (const entry of await readdir(join(REPO, 'node_modules'))) {
    if (entry !== '@obsnest') await symlink(join(REPO, 'node_modules', entry), join(modules, entry));
  }
  for (const [name, dir] of [
    ['api', 'apps/api'],
    ['observability', 'packages/observability'],
    ['testkit', 'packages/testkit'],
  ]) {
    await symlink(join(into, dir), join(modules, '@obsnest', name));
  }
}

interface Launched {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

/** `node scripts/dev.mjs` in its own process group, so that stopping it can never leave a child behind. */
function launchDev(cwd: string, env: Record<string, string>): Launched {
  const child = spawn(process.execPath, ['scripts/dev.mjs'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.pid === undefined) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 15_000).unref());
      if ((await Promise.race([exited, timer])) === 'late') process.kill(-child.pid, 'SIGKILL');
      // Whatever the launcher did, nothing of its group outlives the test.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    },
  };
}

/**
 * A route added first in the controller (ahead of `:id`, which Express would otherwise match),
 * answering its marker: seen only once the edit is compiled and loaded.
 */
function withProbeRoute(source: string, marker: number): string {
  const anchor = '  constructor(private readonly users: UsersService) {}\n';
  assert.ok(source.includes(anchor), `${CONTROLLER} no longer has the constructor this test edits after`);
  const route = `\n  @Get('dev-probe-${marker}')\n  devProbe${marker}(): { marker: number } {\n    return { marker: ${marker} };\n  }\n`;
  return source.replace(anchor, anchor + route);
}

/** Log lines at error level or worse, compiler errors, and a crashed or failed API run. */
function problemsIn(stdout: string, stderr: string): string[] {
  const problems = stdout.split('\n').filter((line) => {
    if (!line.startsWith('{')) return line.trim() !== '';
    return (JSON.parse(line) as { level: number }).level >= 50;
  });
  return [...problems, ...stderr.split('\n').filter((line) => /error TS\d+|Error:|exited \(|has errors/.test(line))];
}

describe('npm run dev', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: TempDatabase;
  let dev: Launched | undefined;

  before(async () => {
    dir = await tempDir('obsnest-dev-');
    db = await createTempDatabase();
    await copyWorkspace(dir.path);
  });
  after(async () => {
    await dev?.stop();
    await db?.drop();
    await dir?.remove();
  });

  it('restarts the API on each controller edit (median under 5 s), and not on a save that does not compile', {
    timeout: 180_000,
  }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // PostgreSQL rather than the embedded database: its start-up time (WASM, seconds on a loaded
    // 2-core CI machine) is not what is measured here; the same restart path runs either way.
    dev = launchDev(dir.path, {
      NODE_ENV: 'development',
      PORT: String(port),
      DATA_DIR: join(dir.path, '.data'),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'info',
    });
    const launched = dev;
    const launchedAt = Date.now();
    await waitFor(
      'npm run dev to start the API',
      async () => {
        if (launched.child.exitCode !== null) throw new Error(`dev exited early:\n${launched.stderr()}`);
        return (await fetch(`${url}/users`)).status === 200;
      },
      120_000,
    );
    const firstStartMs = Date.now() - launchedAt;

    // TypeScript 7's watch reports "Watching for file changes" before its watchers are in place, and
    // an edit saved in the next second or two is never seen. Not what is measured here: the edits
    // start once it has settled.
    await new Promise((resolve) => setTimeout(resolve, TSC_SETTLE_MS));
    const controller = join(dir.path, CONTROLLER);
    const original = await readFile(controller, 'utf8');
    let source = original;
    /** Saves one edit per marker, each once the previous one answers; returns the edit-to-answer times. */
    const editRound = async (markers: number[]): Promise<number[]> => {
      const latencies: number[] = [];
      for (const marker of markers) {
        source = withProbeRoute(source, marker);
        const saved = Date.now();
        await writeFile(controller, source);
        await waitFor(
          `GET /users/dev-probe-${marker} to answer the edit`,
          async () => {
            const res = await fetch(`${url}/users/dev-probe-${marker}`);
            return res.status === 200 && ((await res.json()) as { marker: number }).marker === marker;
          },
          30_000,
        ).catch((error: Error) => {
          throw new Error(
            `${error.message}\n--- dev stderr:\n${launched.stderr()}\n--- dev stdout (end):\n${launched.stdout().slice(-3000)}`,
          );
        });
        latencies.push(Date.now() - saved);
      }
      process.stderr.write(
        `# npm run dev: edit-to-answer ${latencies.join(', ')} ms (load ${loadavg()[0].toFixed(1)}, first start ${firstStartMs} ms)\n`,
      );
      return latencies;
    };
    const latencies = await editRound([1, 2, 3]);
    const last = 3;
    const median = [...latencies].sort((a, b) => a - b)[1];
    const budget = Math.round(MEDIAN_BUDGET_MS * Math.max(loadFactor(), speedFactor(firstStartMs)));
    assert.ok(
      median < budget,
      `median edit-to-answer ${median} ms (${latencies.join(', ')} ms), budget ${budget} ms at load ${loadavg()[0]} (first start ${firstStartMs} ms)`,
    );
    for (const [i, ms] of latencies.entries()) assert.ok(ms < EACH_BUDGET_MS, `edit ${i + 1} answered after ${ms} ms`);

    // Each restart is a fresh process with fresh metrics: the scrape works after three of them.
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^http_requests_total\{/m);
    assert.equal((dev.stderr().match(/^\[dev\] restarting the API/gm) ?? []).length, last, dev.stderr());
    assert.deepEqual(problemsIn(dev.stdout(), dev.stderr()), []);

    // A save that does not compile leaves the running API alone; the fix restarts it.
    const answer = `return { marker: ${last} };`;
    await writeFile(controller, source.replace(answer, 'return { marker: notDefined };'));
    await waitFor('the launcher to report the failed build', () => /not restarting: the build has errors/.test(launched.stderr()), 30_000);
    assert.match(launched.stderr(), /error TS\d+: Cannot find name 'notDefined'/);
    assert.deepEqual(await (await fetch(`${url}/users/dev-probe-${last}`)).json(), { marker: last });
    await writeFile(controller, source.replace(answer, 'return { marker: 100 };'));
    await waitFor(
      'the fixed code to answer',
      async () => ((await (await fetch(`${url}/users/dev-probe-${last}`)).json()) as { marker: number }).marker === 100,
      30_000,
    );
    assert.equal(await readFile(join(REPO, CONTROLLER), 'utf8'), original, 'the repository itself is never edited');
  });

  it('stops the compiler and the API together on SIGTERM', { timeout: 30_000 }, async () => {
    assert.ok(dev, 'runs after the restart test');
    const launched = dev;
    const exited = new Promise<number | null>((resolve) => launched.child.once('exit', (code) => resolve(code)));
    launched.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    // Both groups are empty (the launcher's with the API, the compiler's own): signalling a group
    // fails with ESRCH once every member has exited.
    const compilerGroup = Number(/tsc in process group (\d+)/.exec(launched.stderr())?.[1]);
    assert.ok(compilerGroup > 0, launched.stderr());
    for (const group of [launched.child.pid as number, compilerGroup]) {
      await waitFor(`process group ${group} to be empty`, () => {
        try {
          process.kill(-group, 0);
          return false;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code === 'ESRCH';
        }
      });
    }
  });
});

describe('log format', () => {
  it('writes readable lines on a terminal and JSON into a pipe', { timeout: 60_000 }, async () => {
    const data = await tempDir();
    const env = { NODE_ENV: 'development', PORT: String(await freePort()), DATA_DIR: data.path, LOG_LEVEL: 'info' };
    try {
      const piped = spawnApi(env);
      await waitUntilListening(piped);
      piped.child.kill('SIGTERM');
      await piped.exited;
      const lines = piped.output().trim().split('\n');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);

      // script(1) gives the API a pseudo-terminal as stdout, as a shell does.
      const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
      const onTerminal = spawn('script', ['-qfec', `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(main)}`, '/dev/null'], {
        env: { PATH: process.env.PATH ?? '', ...env, PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      onTerminal.stdout?.on('data', (d) => (text += d));
      const closed = new Promise((resolve) => onTerminal.once('exit', resolve));
      try {
        await waitFor('the API on a terminal to log "listening"', () => /INFO.*listening/.test(text), 30_000);
      } finally {
        onTerminal.kill('SIGTERM');
        await closed;
      }
      const plain = stripVTControlCharacters(text);
      assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: starting /m);
      assert.match(plain, /INFO: \[nest\] Nest application successfully started/);
      assert.doesNotMatch(plain, /\{"level":/);
    } finally {
      await data.remove();
    }
  });

  it('stays JSON on a terminal in production', () => {
    // The decision alone; a production start needs a protected /metrics and is tested elsewhere.
    assert.equal(terminalDestination('production', { isTTY: true }), undefined);
    assert.equal(terminalDestination('development', { isTTY: false }), undefined);
    assert.notEqual(terminalDestination('development', { isTTY: true }), undefined);
  });
});

describe('restarts in one process', () => {
  for (const adapter of ADAPTERS) {
    it(`starts, stops and starts again several apps (${adapter}) without a metric registration error`, { timeout: 120_000 }, async () => {
      const together = await Promise.all([startApi('embedded', adapter), startApi('embedded', adapter)]);
      for (let round = 0; round < 2; round++) {
        const api = await startApi('embedded', adapter);
        const res = await fetch(`${api.url}/metrics`);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /^nodejs_heap_size_used_bytes /m);
        await api.close();
      }
      for (const api of together) {
        await fetch(`${api.url}/users`);
        const text = await (await fetch(`${api.url}/metrics`)).text();
        assert.match(text, /^http_requests_total\{[^}]*route="\/users"[^}]*\} 1$/m);
      }
      await Promise.all(together.map((api) => api.close()));
    });
  }
});
