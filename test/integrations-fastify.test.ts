import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { batchPerRequest } from '../src/integrations/fastify.js';
import { errors } from '../src/index.js';
import { availability, type DialectName } from './support/databases.js';
import { harness, type Harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Listens on port 0 and closes when the test ends. */
async function serve(t: TestContext, app: FastifyInstance): Promise<string> {
  t.after(() => app.close());
  return app.listen({ port: 0, host: '127.0.0.1' });
}

async function rows(h: Harness): Promise<Array<{ json: string; count: number }>> {
  const list = await h.knex(h.table('cache_instruction')).select('json_instruction', 'instruction_count').orderBy('id');
  return list.map((r: { json_instruction: string; instruction_count: unknown }) => ({
    json: r.json_instruction,
    count: Number(r.instruction_count),
  }));
}

const instructionsOf = (row: { json: string } | undefined) => JSON.parse(row!.json).instructions;

/** The same assertions on every dialect: SQLite always, PostgreSQL when reachable. */
function suite(dialect: DialectName): void {
  test('a request writes one row when its reply is sent, applied here before the client gets it', async (t) => {
    const h = await harness(t, dialect);
    const rowsWhenApplied: number[] = [];
    const product = recorder('product', { onCall: async () => void rowsWhenApplied.push((await rows(h)).length) });
    const a = h.cache({ serverIdentity: 'a', refreshers: [product, recorder('member')] });
    const remote = recorder('product');
    const b = h.cache({ serverIdentity: 'b', refreshers: [remote, recorder('member')] });
    await a.start();
    await b.start();
    const app = Fastify();
    await app.register(batchPerRequest, { cache: a });
    // Hooks and handlers of a child plugin share the request's batch: the plugin is not encapsulated.
    await app.register(async (child) => {
      child.addHook('preHandler', async () => {
        await a.refreshAll('member');
      });
      child.put<{ Params: { id: string }; Body: { price: number } }>('/products/:id', async (request) => {
        const id = Number(request.params.id);
        await a.refresh('product', id);
        await a.refreshPayload('product', { id, price: request.body.price });
        assert.equal(product.calls.length, 0, 'nothing is applied while the request runs');
        return { ok: true };
      });
    });
    const url = await serve(t, app);

    const response = await fetch(`${url}/products/4`, {
      method: 'PUT',
      body: JSON.stringify({ price: 12 }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    const written = await rows(h);
    assert.equal(written.length, 1, 'one row for the request, hooks included');
    assert.deepEqual(instructionsOf(written[0]), [
      { refresher: 'member', kind: 'refresh-all' },
      { refresher: 'product', kind: 'refresh', ids: [4] },
      { refresher: 'product', kind: 'payload', payloads: [{ id: 4, price: 12 }] },
    ]);
    assert.deepEqual(product.calls, [
      { kind: 'refresh', ids: [4] },
      { kind: 'payload', payloads: [{ id: 4, price: 12 }] },
    ]);
    assert.deepEqual(rowsWhenApplied, [1, 1], 'the local refresher ran after the row was written');
    await b.sync();
    assert.deepEqual(remote.refreshedIds(), [4]);
  });

  test('concurrent requests with bodies each write their own row', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = Fastify();
    await app.register(batchPerRequest, { cache: a });
    app.post<{ Body: { ids: number[] } }>('/refresh', async (request, reply) => {
      for (const id of request.body.ids) {
        await a.refresh('product', id);
        await h.knex.raw('select 1'); // interleave with the other requests
      }
      return reply.code(204).send();
    });
    const url = await serve(t, app);
    const requests = Array.from({ length: 15 }, (_, i) => [i * 10, i * 10 + 1]);
    const statuses = await Promise.all(
      requests.map(
        async (ids) =>
          (
            await fetch(`${url}/refresh`, {
              method: 'POST',
              body: JSON.stringify({ ids }),
              headers: { 'content-type': 'application/json' },
            })
          ).status,
      ),
    );
    assert.deepEqual(new Set(statuses), new Set([204]));
    const written = (await rows(h)).map((r) => instructionsOf(r)[0].ids).sort((x: number[], y: number[]) => x[0]! - y[0]!);
    assert.deepEqual(written, requests);
  });

  test('a 5xx reply writes nothing with discardOnServerError; by default it writes', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [local] });
    const build = async (discardOnServerError: boolean) => {
      const app = Fastify();
      await app.register(batchPerRequest, { cache: a, discardOnServerError });
      app.put<{ Params: { id: string } }>('/fails/:id', async (request) => {
        await a.refresh('product', Number(request.params.id));
        throw new Error('handler failed after gathering');
      });
      app.put<{ Params: { id: string } }>('/conflict/:id', async (request, reply) => {
        await a.refresh('product', Number(request.params.id));
        return reply.code(409).send({ error: 'conflict' });
      });
      return serve(t, app);
    };
    const discarding = await build(true);
    assert.equal((await fetch(`${discarding}/fails/1`, { method: 'PUT' })).status, 500);
    assert.equal((await rows(h)).length, 0);
    assert.deepEqual(local.calls, []);
    assert.equal((await fetch(`${discarding}/conflict/2`, { method: 'PUT' })).status, 409);
    assert.equal((await rows(h)).length, 1, 'only 5xx discards');

    const writing = await build(false);
    assert.equal((await fetch(`${writing}/fails/3`, { method: 'PUT' })).status, 500);
    const written = await rows(h);
    assert.equal(written.length, 2);
    assert.deepEqual(instructionsOf(written[1]), [{ refresher: 'product', kind: 'refresh', ids: [3] }]);
    assert.deepEqual(local.refreshedIds(), [2, 3]);
  });

  test('{ trx } still commits with its transaction inside a batched request', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [local] });
    const app = Fastify();
    await app.register(batchPerRequest, { cache: a });
    app.put<{ Params: { id: string }; Querystring: { rollback?: string } }>('/products/:id', async (request, reply) => {
      const id = Number(request.params.id);
      await h.knex
        .transaction(async (trx) => {
          await a.refresh('product', [id], { trx });
          if (request.query.rollback === '1') throw new Error('roll back');
        })
        .catch(() => undefined);
      await a.refresh('product', [id + 100]);
      return reply.code(204).send();
    });
    const url = await serve(t, app);
    assert.equal((await fetch(`${url}/products/1`, { method: 'PUT' })).status, 204);
    assert.equal((await fetch(`${url}/products/2?rollback=1`, { method: 'PUT' })).status, 204);
    const written = (await rows(h)).map(instructionsOf);
    assert.deepEqual(written, [
      [{ refresher: 'product', kind: 'refresh', ids: [1] }],
      [{ refresher: 'product', kind: 'refresh', ids: [101] }],
      [{ refresher: 'product', kind: 'refresh', ids: [102] }],
    ]);
    await waitFor(() => local.refreshedIds().length === 3, { describe: () => JSON.stringify(local.calls) });
    assert.deepEqual(
      [...local.refreshedIds()].sort((x, y) => Number(x) - Number(y)),
      [1, 101, 102],
    );
  });

  test('a row that cannot be written goes to onError; the reply is still sent', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const failures: Error[] = [];
    const app = Fastify();
    await app.register(batchPerRequest, { cache: a, onError: (err) => failures.push(err) });
    app.put('/products/:id', async () => {
      await a.refresh('product', 1);
      return { ok: true };
    });
    const url = await serve(t, app);
    await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
    try {
      assert.equal((await fetch(`${url}/products/1`, { method: 'PUT' })).status, 200);
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
    }
    assert.equal(failures.length, 1);
    assert.ok(failures[0] instanceof errors.WriteFailedError);
  });

  test('registering without a cache fails with a message that says what to pass', async () => {
    const app = Fastify();
    await assert.rejects(async () => {
      await app.register(batchPerRequest, {} as never);
    }, /pass the cache/);
    await app.close();
  });

  test('a body that arrives in several chunks keeps the request in its batch', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = Fastify();
    await app.register(batchPerRequest, { cache: a });
    app.post<{ Body: { ids: number[] } }>('/refresh', async (request, reply) => {
      for (const id of request.body.ids) await a.refresh('product', id);
      return reply.code(204).send();
    });
    const url = await serve(t, app);
    const json = JSON.stringify({ ids: [1, 2, 3] });
    // The body is parsed from socket events that run outside the request's async context.
    const chunks = [json.slice(0, 5), json.slice(5, 12), json.slice(12)];
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = chunks.shift();
        if (chunk === undefined) return controller.close();
        await h.knex.raw('select 1'); // let the server read what it has before the next chunk
        controller.enqueue(new TextEncoder().encode(chunk));
      },
    });
    const response = await fetch(`${url}/refresh`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 204);
    const written = await rows(h);
    assert.equal(written.length, 1);
    assert.deepEqual(instructionsOf(written[0]), [{ refresher: 'product', kind: 'refresh', ids: [1, 2, 3] }]);
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`fastify on ${dialect}`, { skip: await availability(dialect) }, () => suite(dialect));
}
