import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../src/index.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, selectedDialects, sqliteConfig, sqliteFile } from './support/databases.js';
import type { DialectName } from './support/databases.js';
import type { RywChildSettings, RywReply, RywRequest } from './support/ryw-child.js';

/**
 * Read-your-writes across servers, in separate processes on each database: three servers, a user
 * whose every request goes to another server than the last. Each round one server writes a row
 * (in the same transaction as the row) and answers with the write's position token; another
 * server, which has the row cached, then reads it, as the user's next request would, once waiting
 * for the token (cache.waitFor) and once not. The servers poll every second and have no wake-up,
 * so without the token the read is stale until the next poll; with it, never.
 */

const ROWS = 8;
const ROUNDS = Number(process.env.RYW_ROUNDS ?? 30);

class Server {
  private readonly child: ChildProcess;
  private replies: Array<{ resolve: (reply: RywReply) => void; reject: (err: Error) => void }> = [];

  constructor(settings: RywChildSettings) {
    this.child = fork(new URL('./support/ryw-child.js', import.meta.url), [JSON.stringify(settings)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: RywReply) => this.replies.shift()?.resolve(reply));
    this.child.once('exit', (code) => {
      for (const waiting of this.replies.splice(0)) waiting.reject(new Error(`server exited with ${code}`));
    });
  }

  /** The next reply (requests are answered in order, one at a time). */
  next(): Promise<RywReply> {
    return new Promise((resolve, reject) => this.replies.push({ resolve, reject }));
  }

  async ask(request: RywRequest): Promise<RywReply> {
    const reply = this.next();
    this.child.send(request);
    return reply;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

async function run(dialect: DialectName) {
  const file = dialect === 'sqlite' ? sqliteFile() : undefined;
  const knex = knexFactory(file ? sqliteConfig(file) : DATABASES[dialect].config());
  const prefix = freshPrefix();
  const servers: Server[] = [];
  try {
    await migrate(knex, { tablePrefix: prefix });
    await knex.schema.createTable(`${prefix}app_data`, (t) => {
      t.integer('id').primary();
      t.integer('version').notNullable();
    });
    await knex(`${prefix}app_data`).insert(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, version: 0 })));
    for (const n of [1, 2, 3]) {
      const server = new Server({ dialect, sqliteFile: file, prefix, identity: `web-${n}`, syncInterval: 1000 });
      servers.push(server);
      assert.equal((await server.next()).type, 'ready');
    }
    const result = { withWait: { stale: 0, reads: 0, waits: [] as number[], timedOut: 0 }, without: { stale: 0, reads: 0 } };
    for (let round = 0; round < ROUNDS; round++) {
      for (const wait of [true, false]) {
        const id = 1 + Math.floor(Math.random() * ROWS);
        const writer = servers[round % 3]!;
        const reader = servers[(round + 1 + (wait ? 0 : 1)) % 3]!;
        await reader.ask({ type: 'read', id, timeoutMs: 0 }); // the reader has the row cached
        const written = (await writer.ask({ type: 'write', id })) as Extract<RywReply, { type: 'written' }>;
        assert.notEqual(written.position, '');
        const read = (await reader.ask({ type: 'read', id, position: wait ? written.position : undefined, timeoutMs: 5000 })) as Extract<
          RywReply,
          { type: 'read' }
        >;
        const stale = read.version === undefined || read.version < written.version;
        if (wait) {
          result.withWait.reads += 1;
          result.withWait.waits.push(read.waitMs);
          if (read.applied !== true) result.withWait.timedOut += 1;
          if (stale) result.withWait.stale += 1;
        } else {
          result.without.reads += 1;
          if (stale) result.without.stale += 1;
        }
      }
    }
    for (const server of servers) assert.equal((await server.ask({ type: 'stop' })).type, 'stopped');
    return result;
  } finally {
    for (const server of servers) server.kill();
    await dropPrefixed(knex, prefix);
    await knex.destroy();
  }
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))]!;

for (const dialect of selectedDialects()) {
  test(`${dialect}: three server processes; after waitFor a user's next request on another server never reads the old value`, async (t) => {
    const skip = await availability(dialect);
    if (skip) return t.skip(skip);
    const r = await run(dialect);
    t.diagnostic(
      `with waitFor: ${r.withWait.stale} stale of ${r.withWait.reads} (waitFor p50 ${percentile(r.withWait.waits, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(r.withWait.waits, 0.99).toFixed(1)} ms); without: ${r.without.stale} stale of ${r.without.reads}`,
    );
    assert.equal(r.withWait.stale, 0, 'no stale read after waitFor');
    assert.equal(r.withWait.timedOut, 0, 'every waitFor resolved true');
    assert.ok(
      r.without.stale > r.without.reads / 2,
      'the same reads without waitFor are stale (most of them: the servers poll once a second)',
    );
  });
}
