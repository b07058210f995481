import { DistributedCache, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { FaultChecker, type CheckerReport } from './fault-checker.js';
import type { DialectName } from '../support/databases.js';
import { faultDatabase } from './setup.js';

/**
 * Two narrow windows found by the fault suite, injected deterministically at the store seam
 * (the same object the poller and writer use).
 */

function recordingCache(checker: FaultChecker, db: Awaited<ReturnType<typeof faultDatabase>>, name: string): DistributedCache {
  const item: CacheRefresher = {
    id: 'item',
    refreshAll() {},
    refresh: (ids) => ids.forEach((id) => checker.applied(name, process.pid, String(id))),
  };
  const cache = new DistributedCache({
    knex: db.knex,
    tablePrefix: db.prefix,
    serverIdentity: name,
    refreshers: [item],
    syncInterval: 60_000,
    notify: false,
    pruneSchedule: false,
    logger: silentLogger,
  });
  cache.on('sync:complete', (r) => {
    if (r.coldBoot) checker.cover({ server: name, pid: process.pid, position: r.position, reason: 'cold-boot' });
  });
  checker.expect(name);
  return cache;
}

/**
 * A fresh server (no cursor) checks whether the log is empty, then takes the head. A row that
 * commits between the two is covered by the head it stores, yet it was neither applied nor
 * cold-booted over (an empty log is not a cold boot).
 */
export async function freshStartRace(dialect: DialectName): Promise<CheckerReport> {
  const db = await faultDatabase(dialect);
  const checker = new FaultChecker(dialect);
  const writer = new DistributedCache({
    knex: db.knex,
    tablePrefix: db.prefix,
    serverIdentity: 'writer',
    refreshers: [{ id: 'item', refreshAll() {}, refresh() {} }],
    pruneSchedule: false,
    logger: silentLogger,
  });
  const server = recordingCache(checker, db, 's');
  try {
    const newest = server.store.newest.bind(server.store);
    let injected = false;
    server.store.newest = async (limit) => {
      const rows = await newest(limit);
      if (!injected) {
        injected = true;
        await writer.refresh('item', ['committed-during-first-start']);
        checker.committed('committed-during-first-start', { at: Date.now() });
      }
      return rows;
    };
    await server.start();
    await server.sync();
    return checker.report();
  } finally {
    await server.stop();
    await writer.stop();
    await db.cleanup();
  }
}

/**
 * A write whose commit succeeds but whose acknowledgement is lost (the connection drops after
 * COMMIT): it rejects with E_WRITE_FAILED and is not applied locally, as documented. But the row
 * exists with this instance's id, so this instance's poller skips it as "already applied at write
 * time": the writing server never applies it. Every other server does.
 */
export async function ambiguousCommit(dialect: DialectName): Promise<{ report: CheckerReport; rejectedWith: string | undefined }> {
  const db = await faultDatabase(dialect);
  const checker = new FaultChecker(dialect);
  const writer = recordingCache(checker, db, 'writer');
  const other = recordingCache(checker, db, 'other');
  let rejectedWith: string | undefined;
  try {
    await writer.start();
    await other.start();
    const insert = writer.store.insert.bind(writer.store);
    let inject = true;
    writer.store.insert = async (rows, trx) => {
      const ids = await insert(rows, trx);
      if (inject) {
        inject = false;
        // What pg reports when the connection dies after the server committed.
        throw new Error('Connection terminated unexpectedly');
      }
      return ids;
    };
    await writer.refresh('item', ['acknowledgement-lost']).catch((err: { code?: string }) => (rejectedWith = err.code));
    checker.committed('acknowledgement-lost', { at: Date.now() });
    await writer.refresh('item', ['next-write']);
    checker.committed('next-write', { at: Date.now() });
    await writer.sync();
    await other.sync();
    return { report: checker.report(), rejectedWith };
  } finally {
    await writer.stop();
    await other.stop();
    await db.cleanup();
  }
}
