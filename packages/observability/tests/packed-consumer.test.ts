import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort, type TempDir, tempDir, waitFor } from '@obsnest/testkit';

/**
 * The library as a user gets it: `npm pack`, installed into a fresh Nest app in a folder outside
 * the repository (no workspace links, no TypeScript, only the public entry point), started on
 * Express and on Fastify, then asked for its metrics from outside like Prometheus would.
 */

const exec = promisify(execFile);
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOCK = JSON.parse(readFileSync(join(PACKAGE_DIR, '..', '..', 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};
/** The Nest versions this workspace is tested with, so the consumer's install resolves from the local cache. */
const versionOf = (name: string): string => LOCK.packages[`node_modules/${name}`].version;

/** Plain JavaScript, decorators applied by hand: what a user's compiled `main.js` amounts to. */
const MAIN = `
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObservabilityModule } from '@obsnest/observability';

class ItemsController {
  get(id) { return { id }; }
}
Reflect.decorate([Get(':id')], ItemsController.prototype, 'get', Object.getOwnPropertyDescriptor(ItemsController.prototype, 'get'));
Param('id')(ItemsController.prototype, 'get', 0);
Controller('items')(ItemsController);

class AppModule {}
Module({ imports: [ObservabilityModule.forRoot({ metricsEnabled: true, appVersion: '9.9.9' })], controllers: [ItemsController] })(AppModule);

const adapter = process.env.ADAPTER === 'fastify'
  ? new (await import('@nestjs/platform-fastify')).FastifyAdapter()
  : undefined;
const app = await NestFactory.create(AppModule, adapter, { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
console.log('listening');
`;

describe('the packed library in a Nest app outside the repository', () => {
  let dir: TempDir;
  let app: string;

  before(async () => {
    dir = await tempDir('obsnest-consumer-');
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir.path], { cwd: PACKAGE_DIR });
    const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
    app = join(dir.path, 'app');
    await mkdir(app);
    const dependencies = Object.fromEntries(
      [
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/platform-express',
        '@nestjs/platform-fastify',
        '@nestjs/terminus',
        'reflect-metadata',
        'rxjs',
      ].map((name) => [name, versionOf(name)]),
    );
    dependencies['@obsnest/observability'] = `file:${join(dir.path, filename)}`;
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }));
    await writeFile(join(app, 'main.js'), MAIN);
    await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 240_000 });
  });
  after(() => dir?.remove());

  for (const adapter of ['express', 'fastify'] as const) {
    it(`counts exactly, by route template, on ${adapter}`, async () => {
      const port = await freePort();
      const child = spawn(process.execPath, ['main.js'], {
        cwd: app,
        env: { PATH: process.env.PATH, PORT: String(port), ADAPTER: adapter },
      });
      let log = '';
      child.stdout.on('data', (chunk) => (log += chunk));
      child.stderr.on('data', (chunk) => (log += chunk));
      try {
        await waitFor(`the consumer app (${adapter}) to listen`, () => (log.includes('listening') ? true : undefined), 60_000);
        const base = `http://127.0.0.1:${port}`;
        for (const id of ['1', '2', 'abc', 'a-very-long-id']) assert.equal((await fetch(`${base}/items/${id}`)).status, 200);
        assert.equal((await fetch(`${base}/nowhere/${Math.random()}`)).status, 404);
        const text = await (await fetch(`${base}/metrics`)).text();
        assert.match(text, /^http_requests_total\{method="GET",route="\/items\/:id",status_code="200"\} 4$/m);
        assert.match(text, /^http_requests_total\{method="GET",route="UNMATCHED",status_code="404"\} 1$/m);
        assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/items\/:id",status_code="200"\} 4$/m);
        assert.match(text, /^app_build_info\{version="9\.9\.9",node_version="v[\d.]+"\} 1$/m);
        assert.equal(text.match(/^http_requests_total\{/gm)?.length, 2, 'one series per template and status, none per id');
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
