import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import type pg from 'pg';
import { DistributedCache, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { postgresDialect } from '../src/dialects/postgres/dialect.js';
import type { ReplicatedStore } from '../src/dialects/postgres/replicated-store.js';
import { pageSql } from '../src/dialects/postgres/sql/page.js';
import { Ticker } from '../src/sync/ticker.js';
import type { InstructionStore } from '../src/store/store.js';
import { tableNames } from '../src/store/tables.js';
import { clusterAvailability } from './support/pg-clusters.js';
import { createReplicaPair, waitStreaming, type PgServer } from './support/replica-pair.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

/**
 * Issue 25: reading from streaming replicas. One throwaway primary and one hot standby
 * (pg_basebackup -R, ports 5460-5461), shared by every test of this file and always dropped.
 */
checkLeaksAfterEach();

const skip = await clusterAvailability();
const PREFIX = 'rp_';
const tables = tableNames(PREFIX);
const PAGE = 50;

function knexFor(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 2000 },
    pool: { min: 0, max: 6 },
    acquireConnectionTimeout: 3000,
    log: { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined },
  });
}

/** Runs `work` on one pooled pg connection: the page statement uses numbered parameters more than once. */
async function onConnection<T>(knex: Knex, work: (connection: pg.Client) => Promise<T>): Promise<T> {
  const connection = (await knex.client.acquireConnection()) as pg.Client;
  try {
    return await work(connection);
  } finally {
    await knex.client.releaseConnection(connection);
  }
}

interface Reader {
  head(): Promise<string>;
  read(from: string, token: string | null): Promise<{ rows: Array<{ id: number }>; token: string | null; position: string | null }>;
}

interface RaceResult {
  committed: number;
  rolledBack: number;
  lost: number;
  unexpected: number;
  duplicates: number;
  polls: number;
}

describe('replicas on PostgreSQL: page targets from the primary tick, never from the standby', { skip, concurrency: false }, () => {
  let primary: PgServer;
  let standby: PgServer;
  let primaryKnex: Knex;
  let standbyKnex: Knex;

  /** Waits until the standby has replayed everything the primary has written so far. */
  async function replayed(): Promise<void> {
    const [row] = (await primaryKnex.raw('select pg_current_wal_insert_lsn()::text as lsn')).rows as Array<{ lsn: string }>;
    await waitFor(
      async () => (await standbyKnex.raw('select pg_last_wal_replay_lsn() >= ?::pg_lsn as ok', [row!.lsn])).rows[0].ok === true,
      { timeout: 20_000, describe: () => 'the standby replays the primary' },
    );
  }

  before(
    async () => {
      ({ primary, standby } = await createReplicaPair('rp', 5460));
      primaryKnex = knexFor(primary.url);
      standbyKnex = knexFor(standby.url);
      await migrate(primaryKnex, { tablePrefix: PREFIX });
      await replayed();
    },
    { timeout: 120_000 },
  );
  after(async () => {
    await primaryKnex?.destroy();
    await standbyKnex?.destroy();
    await primary?.drop();
    await standby?.drop();
  });

  function replicatedStore(cluster: string, maxReplicaLag = 60_000): ReplicatedStore {
    return postgresDialect.createReplicatedStore(
      { knex: primaryKnex, tables, cluster, queryTimeout: 10_000 },
      { replicas: [standbyKnex], maxReplicaLag, retryAfter: 200 },
    ) as ReplicatedStore;
  }

  /**
   * 8 writers commit out of order on the primary: each inserts, then holds its transaction open
   * (up to 300 ms, across many reader polls of 10 ms) before committing, and 5 % roll back. Each
   * commit is followed by a tick (as the Writer's after-commit hook does), and a ticker runs on
   * its own as the elected server's does. The reader polls `reader` with its position in memory.
   */
  async function race(cluster: string, reader: Reader, tick: () => Promise<void>): Promise<RaceResult> {
    const writerStore = postgresDialect.createStore({ knex: primaryKnex, tables, cluster, queryTimeout: 10_000 });
    const ticker = new Ticker({ tick, elected: () => true, intervalMs: 50, logger: silentLogger, onError: () => undefined });
    const committed = new Set<number>();
    let rolledBack = 0;
    const seen: number[] = [];
    let position = await reader.head();
    let polls = 0;
    let stopReading = false;
    let readerError: unknown;
    const reading = (async () => {
      for (;;) {
        let token: string | null = null;
        let next = position;
        do {
          const page = await reader.read(position, token);
          for (const r of page.rows) seen.push(r.id);
          if (page.position !== null) next = page.position;
          token = page.token;
        } while (token !== null);
        position = next;
        polls += 1;
        if (stopReading) return;
        await delay(10);
      }
    })().catch((err: unknown) => void (readerError = err));
    ticker.start();
    const until = Date.now() + 4000;
    const writer = async (w: number) => {
      for (let n = 0; Date.now() < until; n += 1) {
        const trx = await primaryKnex.transaction();
        const row = { json: JSON.stringify({ w, n }), originated: `w${w}`, originInstance: null, instructionCount: 1 };
        const [id] = await writerStore.insert([row], trx);
        // Workload pacing, not a wait for a condition: most transactions short, some held across many polls.
        await delay(Math.random() < 0.3 ? 50 + Math.random() * 250 : Math.random() * 10);
        if (Math.random() < 0.05) {
          await trx.rollback();
          rolledBack += 1;
        } else {
          await trx.commit();
          committed.add(id!);
          ticker.afterCommit();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    await ticker.stop();
    await tick();
    await replayed();
    // Two full polls after the standby has everything: whatever is still missing is lost.
    const after = polls;
    await waitFor(() => polls >= after + 2 || readerError !== undefined, { timeout: 20_000 });
    stopReading = true;
    await reading;
    if (readerError) throw readerError;
    const seenSet = new Set(seen);
    return {
      committed: committed.size,
      rolledBack,
      lost: [...committed].filter((id) => !seenSet.has(id)).length,
      unexpected: [...seenSet].filter((id) => !committed.has(id)).length,
      duplicates: seen.length - seenSet.size,
      polls,
    };
  }

  test('8 out-of-order writers, transactions held across replica polls, 5 % rollbacks: readers on the replica lose nothing', async () => {
    const store = replicatedStore('race-tick');
    await store.tick();
    await replayed();
    const reader: Reader = {
      head: () => store.head(),
      read: (from, token) => store.readPage('reader', from, token, PAGE),
    };
    const result = await race('race-tick', reader, () => store.tick());
    console.log(`# replicas, tick targets: ${JSON.stringify(result)}`);
    assert.ok(result.committed > 200, `enough commits to mean something (${result.committed})`);
    assert.ok(result.rolledBack > 0, 'some transactions rolled back');
    assert.equal(result.lost, 0, 'lost');
    assert.equal(result.unexpected, 0, 'unexpected');
    assert.equal(result.duplicates, 0, 'duplicates');
    assert.equal(store.primaryReads, 0, 'every page was read on the replica');
  });

  test("the same race with the standby's own snapshot as the target loses rows (the race can fail)", async () => {
    const store = replicatedStore('race-own');
    // What a read-routing proxy or a naive "read from a replica" does: the primary's page statement, run on the standby.
    const text = pageSql(`"${tables.instruction}"`, `"${tables.cursor}"`, PAGE);
    const reader: Reader = {
      head: () => store.head(),
      read: async (from, token) => {
        const resume = token === null ? null : (JSON.parse(token) as [string, string, string]);
        const values = [from, resume?.[0] ?? null, resume?.[1] ?? '0', resume?.[2] ?? '0', 'race-own', 'naive'];
        const rows = await onConnection(standbyKnex, (c) => c.query(text, values));
        const found = (rows.rows as Array<Record<string, unknown>>).filter((r) => r.id != null);
        const full = found.length >= PAGE;
        const target = String((rows.rows[0] as Record<string, unknown>).target);
        const last = found[found.length - 1];
        return {
          rows: found.map((r) => ({ id: Number(r.id) })),
          token: full ? JSON.stringify([target, String(last!.txid), String(last!.id)]) : null,
          position: full ? null : target,
        };
      },
    };
    const result = await race('race-own', reader, () => store.tick());
    console.log(`# the standby's own snapshot: ${JSON.stringify(result)}`);
    assert.ok(result.lost > 0, `rows were lost (${JSON.stringify(result)})`);
  });
});
