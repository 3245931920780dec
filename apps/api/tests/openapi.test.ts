import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { INestApplication } from '@nestjs/common';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logging/logger.js';
import type { OpenApiDocument, OpenApiOperation } from '../src/openapi/document.js';
import { ADAPTERS, type Adapter, isolatedEnv, startApi } from './support/api.js';
import { tempDir } from './support/services.js';

type Schema = Record<string, unknown> & { type?: string; properties?: Record<string, Schema>; required?: string[] };

const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));
/** The document's own routes and Swagger UI's, which it leaves out on purpose. */
const UNDOCUMENTED = ['GET /openapi.json', 'GET /docs', 'GET /docs/:asset'];

const toNestPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

function operations(doc: OpenApiDocument): [string, OpenApiOperation][] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, OpenApiOperation] => [
      `${method.toUpperCase()} ${toNestPath(path)}`,
      operation,
    ]),
  );
}

interface ReadmeRoute {
  readonly route: string;
  readonly success?: string;
  readonly errors: string[];
}

/** The rows of README.md's REST API table: each method and path, its success status, its error statuses. */
async function readmeRoutes(): Promise<ReadmeRoute[]> {
  const text = await readFile(README, 'utf8');
  const section = text.split('\n## REST API\n')[1]?.split('\n## ')[0] ?? '';
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => {
    const [routes = '', success = '', errors = ''] = row.split(/(?<!\\)\|/).slice(1, 4);
    const statuses = (cell: string) => [...cell.matchAll(/`(\d{3})`/g)].map((m) => m[1]);
    return [...routes.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s?]*)/g)].map((m) => ({
      route: `${m[1]} ${m[2]}`,
      success: statuses(success)[0],
      errors: statuses(errors),
    }));
  });
}

/** A value the schema accepts, the simplest one: what a client generated from the document would send. */
function sampleOf(schema: Schema): unknown {
  if (schema.type === 'object') {
    const properties = schema.properties ?? {};
    return Object.fromEntries((schema.required ?? []).map((key) => [key, sampleOf(properties[key] ?? {})]));
  }
  if (schema.type === 'integer' || schema.type === 'number') return (schema.minimum as number | undefined) ?? 1;
  if (schema.type === 'string') {
    if (schema.format === 'email') return `openapi-${randomBytes(4).toString('hex')}@example.com`;
    if (schema.format === 'uuid') return randomUUID();
    return 'x'.repeat(Math.max(1, (schema.minLength as number | undefined) ?? 1));
  }
  throw new Error(`no sample for schema ${JSON.stringify(schema)}`);
}

/** Validates answers against the document's own schemas, `$ref`s to its components included. */
function schemaChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  return (schema: Schema, value: unknown, what: string) => {
    const validate = ajv.compile(typeof schema.$ref === 'string' ? { $ref: `openapi.json${schema.$ref}` } : schema);
    assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value)}`);
  };
}

const jsonSchemaOf = (operation: OpenApiOperation, status: number) => {
  const schema = operation.responses[String(status)]?.content?.['application/json']?.schema;
  assert.ok(schema, `${operation.operationId} documents a JSON ${status}`);
  return schema as Schema;
};

/** Nest's own log of what it routes ("Mapped {/users/:id, GET} route"), from a start with a capturing logger. */
async function startWithRouteLog(
  adapter: Adapter,
): Promise<{ url: string; mapped: string[]; app: INestApplication; close(): Promise<void> }> {
  const { env, cleanup } = await isolatedEnv('embedded', adapter, { LOG_LEVEL: 'info' });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig(env);
  const app = await createApp(config, createLogger(config.LOG_LEVEL, sink));
  await app.listen(0, '127.0.0.1');
  const mapped = lines.flatMap((line) => {
    const match = /^Mapped \{(\S+), (\w+)\} route$/.exec((JSON.parse(line) as { msg: string }).msg);
    return match ? [`${match[2]} ${match[1]}`] : [];
  });
  return {
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    mapped,
    app,
    close: async () => {
      await app.close();
      await cleanup();
    },
  };
}

/** Headless Chromium's DOM of a page once its scripts ran. */
async function renderedDom(url: string): Promise<string> {
  const profile = await tempDir('obsnest-chromium-');
  try {
    const chromium = spawn(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        `--user-data-dir=${profile.path}`,
        '--virtual-time-budget=10000',
        '--dump-dom',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let dom = '';
    chromium.stdout.on('data', (d) => (dom += d));
    const timer = setTimeout(() => chromium.kill('SIGKILL'), 60_000);
    await new Promise((resolve) => chromium.once('exit', resolve));
    clearTimeout(timer);
    return dom;
  } finally {
    await profile.remove();
  }
}

for (const adapter of ADAPTERS) {
  describe(`OpenAPI document (${adapter})`, () => {
    let api: Awaited<ReturnType<typeof startWithRouteLog>>;
    let doc: OpenApiDocument;
    before(async () => {
      api = await startWithRouteLog(adapter);
      const res = await fetch(`${api.url}/openapi.json`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      doc = (await res.json()) as OpenApiDocument;
    });
    after(async () => {
      await api?.close();
    });

    it('validates as OpenAPI 3.1', async () => {
      const validator = new Validator();
      const result = await validator.validate(doc as unknown as Record<string, unknown>);
      assert.deepEqual(result.errors ?? [], [], JSON.stringify(result.errors));
      assert.equal(result.valid, true);
      assert.equal(validator.version, '3.1');
    });

    it("lists every route, success and error status of README.md's REST table", async () => {
      const rows = await readmeRoutes();
      assert.ok(rows.length >= 7, `parsed ${rows.length} routes from the README table`);
      const documented = new Map(operations(doc));
      for (const row of rows) {
        const operation = documented.get(row.route);
        assert.ok(operation, `${row.route} is in the document`);
        assert.ok(operation.summary, `${row.route} has a summary`);
        for (const status of [row.success, ...row.errors].filter((s) => s !== undefined)) {
          assert.ok(operation.responses[status], `${row.route} documents ${status}`);
        }
      }
    });

    it('describes exactly the routes Nest maps', () => {
      assert.ok(api.mapped.length >= 7, `Nest logged ${api.mapped.length} mapped routes`);
      const documented = operations(doc).map(([route]) => route);
      assert.deepEqual([...documented, ...UNDOCUMENTED].sort(), [...api.mapped].sort());
      for (const [route, operation] of operations(doc)) assert.ok(operation.summary, `${route} has a summary`);
    });

    it("reaches a route of the application for every operation, never the router's 404", async () => {
      const check = schemaChecker(doc);
      for (const [route, operation] of operations(doc)) {
        const [method, template] = route.split(' ');
        const path = template.replace(/:(\w+)/g, (_m, name: string) => {
          const parameter = operation.parameters?.find((p) => p.in === 'path' && p.name === name);
          return String(sampleOf((parameter?.schema ?? { type: 'string' }) as Schema));
        });
        const body = operation.requestBody?.content['application/json']?.schema;
        const res = await fetch(`${api.url}${path}`, {
          method,
          ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(sampleOf(body as Schema)) } : {}),
        });
        const text = await res.text();
        assert.ok(operation.responses[String(res.status)], `${route} answered ${res.status}, which it does not document: ${text}`);
        if (res.status === 404) assert.doesNotMatch(text, /Cannot |Route .* not found/, `${route} hit the router's 404`);
        const schema = operation.responses[String(res.status)]?.content?.['application/json']?.schema;
        if (schema) check(schema as Schema, JSON.parse(text), `${route} ${res.status}`);
      }
    });

    it("accepts a request built from the document's schemas, and answers as it says", async () => {
      const check = schemaChecker(doc);
      const create = doc.paths['/users']?.post;
      assert.ok(create?.requestBody, 'POST /users has a request body');
      const bodySchema = create.requestBody.content['application/json'].schema as Schema;
      const body = sampleOf(bodySchema);
      check(bodySchema, body, 'the sample request body');
      const created = await fetch(`${api.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(created.status, 201);
      const user = (await created.json()) as { id: string };
      check(jsonSchemaOf(create, 201), user, 'POST /users 201');

      const get = doc.paths['/users/{id}']?.get;
      assert.ok(get);
      const fetched = await fetch(`${api.url}/users/${user.id}`);
      assert.equal(fetched.status, 200);
      check(jsonSchemaOf(get, 200), await fetched.json(), 'GET /users/{id} 200');

      const list = doc.paths['/users']?.get;
      assert.ok(list?.parameters);
      // As a generated client sends by default: the required parameters and those with a default.
      const sent = list.parameters.filter((p) => p.required || p.schema.default !== undefined);
      assert.ok(sent.length > 0);
      const query = new URLSearchParams(sent.map((p): [string, string] => [p.name, String(sampleOf(p.schema as Schema))]));
      const page = await fetch(`${api.url}/users?${query}`);
      assert.equal(page.status, 200, `GET /users?${query}`);
      check(jsonSchemaOf(list, 200), await page.json(), 'GET /users 200');

      // The schema is the one the controller validates with: what it rules out, the API refuses.
      const invalid = { ...(body as Record<string, unknown>), unknown: 1 };
      assert.equal(bodySchema.additionalProperties, false);
      const refused = await fetch(`${api.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(invalid),
      });
      assert.equal(refused.status, 400);
      check(jsonSchemaOf(create, 400), await refused.json(), 'POST /users 400');
    });
  });

  describe(`Swagger UI at /docs (${adapter})`, () => {
    let api: Awaited<ReturnType<typeof startApi>>;
    before(async () => {
      api = await startApi('embedded', adapter);
    });
    after(async () => {
      await api?.close();
    });

    it('serves the page and every file it loads from the API itself, under the security headers', async () => {
      const page = await fetch(`${api.url}/docs`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      const html = await page.text();
      assert.doesNotMatch(html, /https?:\/\//, 'no file from another origin');
      assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script, which the CSP would block');
      const files = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      assert.ok(files.length >= 3, html);
      for (const file of files) {
        const res = await fetch(`${api.url}${file}`);
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get('content-type') ?? '', /^(text\/css|text\/javascript|image\/png)/, file);
        assert.ok((await res.arrayBuffer()).byteLength > 0, file);
      }
      const unknown = await fetch(`${api.url}/docs/package.json`);
      assert.equal(unknown.status, 404);
    });

    it('renders every operation of the document in Chromium', { timeout: 90_000 }, async () => {
      const dom = await renderedDom(`${api.url}/docs`);
      const shown = [...dom.matchAll(/class="opblock-summary-path" data-path="([^"]+)"/g)].map((m) => m[1]);
      const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as OpenApiDocument;
      const expected = operations(doc).map(([route]) => route.split(' ')[1].replace(/:(\w+)/g, '{$1}'));
      assert.deepEqual(shown.sort(), expected.sort(), dom.slice(0, 2000));
    });

    it('keeps the route label of its requests to the closed set of its templates', async () => {
      const names = Array.from({ length: 5 }, () => `x-${randomBytes(6).toString('hex')}.js`);
      for (const path of ['/openapi.json', '/docs', '/docs/init.js', ...names.map((n) => `/docs/${n}`)])
        await (await fetch(`${api.url}${path}`)).arrayBuffer();
      const text = await (await fetch(`${api.url}/metrics`)).text();
      const routes = new Set([...text.matchAll(/^http_requests_total\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]));
      for (const template of ['/openapi.json', '/docs', '/docs/:asset']) assert.ok(routes.has(template), `${template} in ${[...routes]}`);
      for (const route of routes) assert.ok(!names.some((n) => route.includes(n)), `route label ${route} carries a request's path`);
    });
  });
}

describe('OpenAPI in production', () => {
  it('serves /openapi.json but no Swagger UI, and documents the metrics token', async () => {
    const api = await startApi('embedded', 'express', { NODE_ENV: 'production', METRICS_TOKEN: randomBytes(16).toString('hex') });
    try {
      for (const path of ['/docs', '/docs/swagger-ui-bundle.js', '/docs/init.js']) {
        assert.equal((await fetch(`${api.url}${path}`)).status, 404, path);
      }
      const res = await fetch(`${api.url}/openapi.json`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as OpenApiDocument;
      assert.ok(doc.paths['/metrics']?.get?.responses['401'], 'GET /metrics documents 401 when a token is set');
    } finally {
      await api.close();
    }
  });
});
