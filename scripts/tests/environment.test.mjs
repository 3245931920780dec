// @ts-check
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@obsnest/testkit';
import { parseDotenv, readEnvironment } from '../lib/environment.mjs';
import { loadStackSettings } from '../stack/settings.mjs';

const API_SCRIPT = fileURLToPath(new URL('../api.mjs', import.meta.url));

/** @param {(dir: string) => Promise<void>} body */
async function inTempDir(body) {
  const dir = await mkdtemp(join(tmpdir(), 'obsnest-env-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `node scripts/api.mjs`, what `npm run api` runs once built, with exactly the given environment
 * (plus PATH); the repository's own .env is never read since ENV_FILE always names a file.
 * @param {Record<string, string>} env
 */
function runApi(env) {
  const child = spawn(process.execPath, [API_SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

describe('.env loader', () => {
  it('parses what .env.example shows: comments, export, quotes, inline comments, and reports bad lines', () => {
    const { values, problems } = parseDotenv(
      '# comment\n\nexport A=1\nB="two\\nlines \\"q\\""\nC=\'lit $x\'\nD=plain # note\nE=\nnot a line\n',
    );
    assert.deepEqual(values, { A: '1', B: 'two\nlines "q"', C: 'lit $x', D: 'plain', E: '' });
    assert.deepEqual(problems, ['line 8: expected KEY=VALUE']);
  });

  it('reads .env at the root by default, the environment winning; ENV_FILE names another file', async () => {
    await inTempDir(async (dir) => {
      await writeFile(join(dir, '.env'), 'FROM_FILE=file\nBOTH=file\n');
      await writeFile(join(dir, 'other.env'), 'OTHER=yes\n');
      const byDefault = readEnvironment(dir, { BOTH: 'environment' });
      assert.equal(byDefault.envFile, join(dir, '.env'));
      assert.equal(byDefault.values.FROM_FILE, 'file');
      assert.equal(byDefault.values.BOTH, 'environment');
      const other = readEnvironment(dir, { ENV_FILE: 'other.env' });
      assert.equal(other.values.OTHER, 'yes');
      assert.equal(other.values.FROM_FILE, undefined);
      assert.deepEqual(readEnvironment(dir, { ENV_FILE: 'missing.env' }).problems, [
        `ENV_FILE: ${join(dir, 'missing.env')} does not exist`,
      ]);
      assert.deepEqual(readEnvironment(join(dir, 'nowhere'), {}).problems, [], 'no .env at all is fine');
    });
  });

  it('the stack validates its own variables from .env and names the bad one', async () => {
    await inTempDir(async (dir) => {
      await writeFile(join(dir, '.env'), 'PROMETHEUS_RETENTION=forever\nRUN_DIR=elsewhere\n');
      assert.throws(() => loadStackSettings(dir, {}), /PROMETHEUS_RETENTION: expected a duration such as 30d, got "forever"/);
      const settings = loadStackSettings(dir, { PROMETHEUS_RETENTION: '7d', STACK_MODE: 'native' });
      assert.equal(settings.prometheusRetention, '7d', 'the environment wins');
      assert.equal(settings.runDir, join(dir, 'elsewhere'), 'RUN_DIR from .env, relative to the root');
      assert.equal(settings.mode, 'native');
      assert.throws(
        () => loadStackSettings(dir, { PROMETHEUS_RETENTION: '7d', STACK_MODE: 'docker' }),
        /STACK_MODE: expected auto, native or compose/,
      );
    });
  });
});

describe('npm run api reads .env', { timeout: 90_000 }, () => {
  it('a value from the file reaches the API, and the environment wins over the file', async () => {
    await inTempDir(async (dir) => {
      const [filePort, envPort] = [await freePort(), await freePort()];
      const envFile = join(dir, 'api.env');
      await writeFile(
        envFile,
        `PORT=${filePort}\nMAIL_FROM="From The File <file@example.com>"\nDATA_DIR=${join(dir, 'data')}\nLOG_LEVEL=info\n`,
      );
      const api = runApi({ ENV_FILE: envFile, PORT: String(envPort), HOST: '127.0.0.1' });
      try {
        await waitFor(
          'the API to listen',
          () => {
            if (api.child.exitCode !== null) throw new Error(`the API exited: ${api.output()}`);
            return api.output().includes('"msg":"listening"') || undefined;
          },
          60_000,
        );
        const starting = JSON.parse(
          /** @type {string} */ (
            api
              .output()
              .split('\n')
              .find((l) => l.includes('"msg":"starting"'))
          ),
        );
        assert.equal(starting.config.MAIL_FROM, 'From The File <file@example.com>', 'MAIL_FROM came from the file');
        assert.equal(starting.config.PORT, envPort, 'PORT came from the environment, not the file');
        const ready = await fetch(`http://127.0.0.1:${envPort}/health/ready`);
        assert.equal(ready.status, 200);
      } finally {
        api.child.kill('SIGTERM');
        assert.equal(await api.exited, 0, api.output());
      }
    });
  });

  it('a bad value in the file stops it before it listens, naming the variable (exit 78)', async () => {
    await inTempDir(async (dir) => {
      const envFile = join(dir, 'bad.env');
      await writeFile(envFile, `PORT=not-a-port\nDATA_DIR=${join(dir, 'data')}\n`);
      const api = runApi({ ENV_FILE: envFile });
      assert.equal(await api.exited, 78, api.output());
      assert.match(api.output(), /PORT: expected a port number, got "not-a-port"/);
      assert.match(api.output(), /See \.env\.example/);
      assert.doesNotMatch(api.output(), /listening/);
    });
  });

  it('a missing ENV_FILE or an unreadable line stops it the same way', async () => {
    await inTempDir(async (dir) => {
      const missing = runApi({ ENV_FILE: join(dir, 'absent.env') });
      assert.equal(await missing.exited, 78, missing.output());
      assert.match(missing.output(), /ENV_FILE: .*absent\.env does not exist/);
      const envFile = join(dir, 'garbled.env');
      await writeFile(envFile, 'PORT=3000\nthis is not a setting\n');
      const garbled = runApi({ ENV_FILE: envFile });
      assert.equal(await garbled.exited, 78, garbled.output());
      assert.match(garbled.output(), /garbled\.env line 2: expected KEY=VALUE/);
    });
  });
});
