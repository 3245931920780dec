import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADAPTERS, BACKENDS, json, postJson, type RunningApi, startApi } from './support/api.js';
import { scrape } from './support/scrape.js';
import { waitFor } from './support/services.js';

for (const backends of BACKENDS) {
  for (const adapter of ADAPTERS) {
    describe(`users REST API (${adapter}, ${backends} backends)`, () => {
      let api: RunningApi;
      before(async () => {
        api = await startApi(backends, adapter);
      });
      after(() => api?.close());

      it('creates a user with a UUID and reads it back', async () => {
        const res = await postJson(`${api.url}/users`, { email: 'Ada@Example.com', name: '  Ada  ' });
        assert.equal(res.status, 201);
        const user = await json(res);
        assert.match(String(user.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.equal(user.email, 'Ada@Example.com');
        assert.equal(user.name, 'Ada', 'name is trimmed');
        assert.ok(!Number.isNaN(Date.parse(String(user.createdAt))));
        const read = await fetch(`${api.url}/users/${user.id}`);
        assert.equal(read.status, 200);
        assert.deepEqual(await json(read), user);
      });

      it('answers 409 for a duplicate email, whatever its case', async () => {
        assert.equal((await postJson(`${api.url}/users`, { email: 'dup@example.com', name: 'One' })).status, 201);
        const res = await postJson(`${api.url}/users`, { email: 'DUP@example.com', name: 'Two' });
        assert.equal(res.status, 409);
        const body = await json(res);
        assert.equal(body.statusCode, 409);
        assert.equal(body.error, 'Conflict');
        assert.match(String(body.message), /already exists/);
        assert.equal(typeof body.requestId, 'string');
      });

      it('answers 400 naming every invalid field', async () => {
        const res = await postJson(`${api.url}/users`, { email: 'not-an-email', name: '' });
        assert.equal(res.status, 400);
        const body = await json(res);
        const fields = (body.details as { field: string }[]).map((d) => d.field).sort();
        assert.deepEqual(fields, ['email', 'name']);
        assert.match(String(body.message), /email: expected an email address/);
      });

      it('answers 400 for unknown fields, a missing body and malformed JSON', async () => {
        const unknown = await postJson(`${api.url}/users`, { email: 'u@example.com', name: 'U', admin: true });
        assert.equal(unknown.status, 400);
        assert.match(String((await json(unknown)).message), /unknown field\(s\): admin/);

        const empty = await fetch(`${api.url}/users`, { method: 'POST' });
        assert.equal(empty.status, 400);
        assert.match(String((await json(empty)).message), /expected a JSON object/);

        const malformed = await fetch(`${api.url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"email":',
        });
        assert.equal(malformed.status, 400);
        const body = await json(malformed);
        assert.equal(body.statusCode, 400);
        assert.equal(body.error, 'Bad Request');
      });

      it('answers 415 for a body that is not JSON, and 413 for one over the limit', async () => {
        for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
          const res = await fetch(`${api.url}/users`, { method: 'POST', headers: { 'content-type': type }, body: 'email=a@b.co&name=x' });
          assert.equal(res.status, 415, type);
          assert.equal((await json(res)).message, 'expected Content-Type: application/json');
        }
        const big = await postJson(`${api.url}/users`, { email: 'big@example.com', name: 'x'.repeat(200_000) });
        assert.equal(big.status, 413);
        assert.equal((await json(big)).error, 'Payload Too Large');
      });

      it('answers 400 for an id that is not a UUID and 404 for an unknown one', async () => {
        const bad = await fetch(`${api.url}/users/42`);
        assert.equal(bad.status, 400);
        assert.deepEqual((await json(bad)).details, [{ field: 'id', message: 'expected a UUID' }]);
        const missing = await fetch(`${api.url}/users/00000000-0000-4000-8000-000000000000`);
        assert.equal(missing.status, 404);
        assert.equal((await json(missing)).error, 'Not Found');
      });

      it('deletes: 204, then 404', async () => {
        const user = await json(await postJson(`${api.url}/users`, { email: 'gone@example.com', name: 'Gone' }));
        assert.equal((await fetch(`${api.url}/users/${user.id}`, { method: 'DELETE' })).status, 204);
        assert.equal((await fetch(`${api.url}/users/${user.id}`)).status, 404);
        assert.equal((await fetch(`${api.url}/users/${user.id}`, { method: 'DELETE' })).status, 404);
      });

      it('pages through every user exactly once with a cursor', async () => {
        const created = new Set<string>();
        for (let i = 0; i < 7; i++) {
          const user = await json(await postJson(`${api.url}/users`, { email: `page${i}@example.com`, name: `P${i}` }));
          created.add(String(user.id));
        }
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const qs: string = cursor ? `limit=3&cursor=${encodeURIComponent(cursor)}` : 'limit=3';
          const page = await json(await fetch(`${api.url}/users?${qs}`));
          const data = page.data as { id: string }[];
          assert.ok(data.length <= 3);
          seen.push(...data.map((u) => u.id));
          cursor = page.nextCursor as string | null;
          pages++;
        } while (cursor && pages < 20);
        assert.equal(new Set(seen).size, seen.length, 'no user twice');
        for (const id of created) assert.ok(seen.includes(id), `user ${id} listed`);
      });

      it('answers 400 for a bad limit or cursor', async () => {
        for (const qs of ['limit=0', 'limit=101', 'limit=abc', 'cursor=garbage']) {
          const res = await fetch(`${api.url}/users?${qs}`);
          assert.equal(res.status, 400, qs);
          const field = qs.split('=')[0];
          assert.equal(Array.isArray((await json(res)).details), true);
          assert.match(JSON.stringify(await (await fetch(`${api.url}/users?${qs}`)).json()), new RegExp(`"field":"${field}"`), qs);
        }
      });

      it('survives malformed percent-encoding in a path parameter (400 with the error shape, counted once)', async () => {
        // Counted under the template on Express (it reached the route's pattern), under UNMATCHED on
        // Fastify (its router rejects the URL before matching): either way exactly one more request.
        const counted = async () =>
          (await scrape(api.url))
            .filter((s) => s.name === 'http_requests_total' && s.labels.status_code === '400')
            .reduce((n, s) => n + s.value, 0);
        const before = await counted();
        const res = await fetch(`${api.url}/users/%zz`);
        assert.equal(res.status, 400);
        const body = await json(res);
        assert.equal(body.statusCode, 400);
        assert.equal(typeof body.requestId, 'string');
        assert.equal((await fetch(`${api.url}/health/live`)).status, 200, 'the process is still up');
        await waitFor('the 400 to be counted', async () => ((await counted()) === before + 1 ? true : undefined));
        const routes = (await scrape(api.url))
          .filter((s) => s.name === 'http_requests_total' && s.labels.status_code === '400')
          .map((s) => s.labels.route);
        assert.ok(
          routes.every((r) => r === '/users' || r === '/users/:id' || r === 'UNMATCHED'),
          routes.join(),
        );
      });

      it('answers unknown routes with a JSON 404', async () => {
        const res = await fetch(`${api.url}/no/such/route`);
        assert.equal(res.status, 404);
        const body = await json(res);
        assert.equal(body.statusCode, 404);
        assert.equal(typeof body.requestId, 'string');
      });
    });
  }
}
