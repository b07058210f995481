import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import express, { type Express } from 'express';
import { batchPerRequest } from '../src/integrations/express.js';
import { errors } from '../src/index.js';
import { availability, type DialectName } from './support/databases.js';
import { harness, type Harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Listens on port 0 and closes (with its keep-alive sockets) when the test ends. */
async function serve(t: TestContext, app: Express): Promise<string> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function rows(h: Harness): Promise<Array<{ id: number; json: string; count: number }>> {
  const list = await h.knex(h.table('cache_instruction')).select('id', 'json_instruction', 'instruction_count').orderBy('id');
  return list.map((r: { id: unknown; json_instruction: string; instruction_count: unknown }) => ({
    id: Number(r.id),
    json: r.json_instruction,
    count: Number(r.instruction_count),
  }));
}

/** The same assertions on every dialect: SQLite always, PostgreSQL when reachable. */
function suite(dialect: DialectName): void {
  test('a request writes one row when its response ends, applied here before the client gets it', async (t) => {
    const h = await harness(t, dialect);
    const rowsWhenApplied: number[] = [];
    const product = recorder('product', { onCall: async () => void rowsWhenApplied.push((await rows(h)).length) });
    const member = recorder('member');
    const a = h.cache({ serverIdentity: 'a', refreshers: [product, member] });
    const remote = recorder('product');
    const b = h.cache({ serverIdentity: 'b', refreshers: [remote, recorder('member')] });
    await a.start();
    await b.start();
    const app = express();
    app.use(batchPerRequest(a));
    app.put('/products/:id', async (req, res) => {
      const id = Number(req.params.id);
      await a.refresh('product', id);
      await a.refresh('product', [id + 1]);
      await a.refreshAll('member');
      assert.equal(product.calls.length, 0, 'nothing is applied while the request runs');
      res.json({ ok: true });
    });
    const url = await serve(t, app);

    const response = await fetch(`${url}/products/1`, { method: 'PUT' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    // No waiting: the row and the local apply both happen before the response is sent.
    const written = await rows(h);
    assert.equal(written.length, 1, 'one row for the whole request');
    assert.equal(written[0]!.count, 3);
    assert.deepEqual(JSON.parse(written[0]!.json).instructions, [
      { refresher: 'product', kind: 'refresh', ids: [1, 2] },
      { refresher: 'member', kind: 'refresh-all' },
    ]);
    assert.deepEqual(product.calls, [{ kind: 'refresh', ids: [1, 2] }]);
    assert.deepEqual(member.calls, [{ kind: 'refresh-all' }]);
    assert.deepEqual(rowsWhenApplied, [1], 'the local refresher ran after the row was written');

    await b.sync();
    assert.deepEqual(remote.calls, [{ kind: 'refresh', ids: [1, 2] }], 'another server gets the same instructions');
  });

  test('concurrent requests each write their own row', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = express();
    app.use(batchPerRequest(a));
    app.post('/products/:id', async (req, res) => {
      const id = Number(req.params.id);
      await a.refresh('product', id);
      await h.knex.raw('select 1'); // interleave with the other requests
      await a.refreshPayload('product', { id });
      res.sendStatus(204);
    });
    const url = await serve(t, app);
    const ids = Array.from({ length: 20 }, (_, i) => i + 1);
    const statuses = await Promise.all(ids.map(async (id) => (await fetch(`${url}/products/${id}`, { method: 'POST' })).status));
    assert.deepEqual(new Set(statuses), new Set([204]));
    const written = await rows(h);
    assert.equal(written.length, 20);
    const perRow = written.map((r) => JSON.parse(r.json).instructions).sort((x, y) => x[0].ids[0] - y[0].ids[0]);
    assert.deepEqual(
      perRow,
      ids.map((id) => [
        { refresher: 'product', kind: 'refresh', ids: [id] },
        { refresher: 'product', kind: 'payload', payloads: [{ id }] },
      ]),
      "each row holds exactly its own request's instructions",
    );
  });

  test('a request that gathers nothing writes nothing', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = express();
    app.use(batchPerRequest(a));
    app.get('/products/:id', (_req, res) => void res.json({ price: 10 }));
    const url = await serve(t, app);
    const response = await fetch(`${url}/products/1`);
    assert.deepEqual(await response.json(), { price: 10 });
    assert.equal((await rows(h)).length, 0);
  });

  test('a 5xx response writes nothing with discardOnServerError, and a 4xx still writes', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [local] });
    const app = express();
    app.use(batchPerRequest(a, { discardOnServerError: true }));
    app.put('/fails/:id', async (req) => {
      await a.refresh('product', Number(req.params.id));
      throw new Error('handler failed after gathering');
    });
    app.put('/rejects/:id', async (req, res) => {
      await a.refresh('product', Number(req.params.id));
      res.status(409).json({ error: 'conflict' });
    });
    // Express's default handler would log the stack; answer quietly instead.
    app.use(
      (_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send('failed'),
    );
    const url = await serve(t, app);

    assert.equal((await fetch(`${url}/fails/1`, { method: 'PUT' })).status, 500);
    assert.equal((await rows(h)).length, 0, 'nothing written for the failed request');
    assert.deepEqual(local.calls, [], 'nothing applied either');

    assert.equal((await fetch(`${url}/rejects/2`, { method: 'PUT' })).status, 409);
    assert.equal((await rows(h)).length, 1, 'only 5xx discards');
    assert.deepEqual(local.refreshedIds(), [2]);
  });

  test('by default a 5xx response still writes what the request gathered', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = express();
    app.use(batchPerRequest(a));
    app.put('/fails/:id', async (req) => {
      await a.refresh('product', Number(req.params.id));
      throw new Error('failed after changing data');
    });
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(503).end());
    const url = await serve(t, app);
    assert.equal((await fetch(`${url}/fails/7`, { method: 'PUT' })).status, 503);
    const written = await rows(h);
    assert.equal(written.length, 1);
    assert.deepEqual(JSON.parse(written[0]!.json).instructions, [{ refresher: 'product', kind: 'refresh', ids: [7] }]);
  });

  test('{ trx } still commits with its transaction inside a batched request', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [local] });
    const remote = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [remote] });
    await b.start();
    const app = express();
    app.use(batchPerRequest(a));
    app.put('/products/:id', async (req, res) => {
      const id = Number(req.params.id);
      const rollBack = req.query.rollback === '1';
      await h.knex
        .transaction(async (trx) => {
          await a.refresh('product', [id], { trx });
          if (rollBack) throw new Error('roll back');
        })
        .catch(() => undefined);
      await a.refresh('product', [id + 100]); // outside the transaction: the request's batch
      res.sendStatus(204);
    });
    const url = await serve(t, app);

    assert.equal((await fetch(`${url}/products/1`, { method: 'PUT' })).status, 204);
    let written = await rows(h);
    assert.equal(written.length, 2, "the transaction's row and the request's row");
    assert.deepEqual(
      JSON.parse(written[0]!.json).instructions,
      [{ refresher: 'product', kind: 'refresh', ids: [1] }],
      'the transaction commits first',
    );
    assert.deepEqual(JSON.parse(written[1]!.json).instructions, [{ refresher: 'product', kind: 'refresh', ids: [101] }]);
    await waitFor(() => local.refreshedIds().length === 2, { describe: () => JSON.stringify(local.calls) });

    assert.equal((await fetch(`${url}/products/2?rollback=1`, { method: 'PUT' })).status, 204);
    written = await rows(h);
    assert.equal(written.length, 3, 'the rolled-back transaction wrote nothing; the request still wrote its row');
    assert.deepEqual(JSON.parse(written[2]!.json).instructions, [{ refresher: 'product', kind: 'refresh', ids: [102] }]);
    await b.sync();
    assert.deepEqual(
      remote.refreshedIds().sort((x, y) => Number(x) - Number(y)),
      [1, 101, 102],
    );
    assert.ok(!local.refreshedIds().includes(2));
  });

  test('a body parser mounted after the middleware keeps the request in its batch', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const app = express();
    app.use(batchPerRequest(a));
    app.use(express.json());
    app.post('/prices', async (req, res) => {
      for (const { id } of req.body as Array<{ id: number }>) await a.refresh('product', id);
      res.sendStatus(204);
    });
    const url = await serve(t, app);
    const body = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i, price: i * 2 })));
    const response = await fetch(`${url}/prices`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(response.status, 204);
    const written = await rows(h);
    assert.equal(written.length, 1);
    assert.equal(written[0]!.count, 50);
  });

  test('a row that cannot be written goes to onError; the response is still sent', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'a', refreshers: [local] });
    const failures: Error[] = [];
    const app = express();
    app.use(batchPerRequest(a, { onError: (err) => failures.push(err) }));
    app.put('/products/:id', async (req, res) => {
      await a.refresh('product', Number(req.params.id));
      res.json({ ok: true });
    });
    const url = await serve(t, app);
    await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
    try {
      const response = await fetch(`${url}/products/1`, { method: 'PUT' });
      assert.equal(response.status, 200);
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
    }
    assert.equal(failures.length, 1);
    assert.ok(failures[0] instanceof errors.WriteFailedError);
    assert.deepEqual(local.calls, []);
  });

  test('a cache call made after the response ended is written on its own', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    let lateDone!: () => void;
    const late = new Promise<void>((resolve) => (lateDone = resolve));
    const app = express();
    app.use(batchPerRequest(a));
    app.put('/products/:id', async (req, res) => {
      res.sendStatus(202);
      await h.knex.raw('select 1'); // the request's batch is closed by now
      await a.refresh('product', Number(req.params.id));
      lateDone();
    });
    const url = await serve(t, app);
    assert.equal((await fetch(`${url}/products/5`, { method: 'PUT' })).status, 202);
    await late;
    await waitFor(async () => (await rows(h)).length === 1, { timeout: 2000, describe: () => 'the late refresh was never written' });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`express on ${dialect}`, { skip: await availability(dialect) }, () => suite(dialect));
}
