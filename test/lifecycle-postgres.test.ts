import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { migrate } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { cli } from './support/cli-run.js';
import { asPostgres, clusterAvailability, createCluster, PG_BIN, TcpProxy, type Cluster } from './support/pg-clusters.js';
import {
  burnUntilPast,
  burnXids,
  lifecycleServer,
  range,
  receivedOrColdBooted,
  retrying,
  write,
  type LifecycleServer,
} from './support/lifecycle.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * The issue-15 operations, done for real on throwaway clusters: a dump restored into a new cluster,
 * the promotion of a lagging standby behind a moved address, and an older base backup restored
 * with the cursors copied forward. The rule checked everywhere: every instruction written on the
 * database a reader now reads reaches it, or it cold-boots after the change; never a silent loss.
 */
const skip = await clusterAvailability();
const PREFIX = 'lc_';

type Server = LifecycleServer;

function knexFor(url: string): Knex {
  // A small pool and short timeouts: a reader behind a cut address must notice and reconnect quickly.
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 2000 },
    pool: { min: 0, max: 3 },
    acquireConnectionTimeout: 3000,
    // The cut connections are the point of these tests; knex would print each one.
    log: { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined },
  });
}

/** A server on its own pool; stopAll destroys it. */
const server = (url: string, identity: string, options: { polling?: boolean } = {}) =>
  lifecycleServer(knexFor(url), PREFIX, identity, options);

async function stopAll(servers: Array<Server | undefined>): Promise<void> {
  for (const s of servers) {
    if (!s) continue;
    await s.cache.stop().catch(() => undefined);
    await s.knex.destroy().catch(() => undefined);
  }
}

describe(
  'database lifecycle on PostgreSQL: restores, failovers and PITR never lose instructions silently',
  { skip, concurrency: false },
  () => {
    const pgDumpTest =
      'pg_dump of a cluster with a high xid counter restored into a new one: the reader cold-boots, old rows are never applied again';
    test(pgDumpTest, async () => {
      const clusters: Cluster[] = [];
      const servers: Array<Server | undefined> = [];
      const extra: Knex[] = [];
      const dump = '/tmp/distcache_t_app.dump';
      try {
        // The old cluster's xid epoch is 5: its txids are far above any a new cluster hands out.
        const old = await createCluster('dump_old', 5440, { xidEpoch: 5 });
        clusters.push(old);
        const oldKnex = knexFor(old.url);
        await migrate(oldKnex, { tablePrefix: PREFIX });
        await oldKnex.destroy();
        const writerOld = await server(old.url, 'writer');
        const readerOld = await server(old.url, 'reader');
        servers.push(writerOld, readerOld);
        await write(writerOld, range(1, 5));
        await readerOld.cache.sync();
        assert.deepEqual(readerOld.product.refreshedIds(), range(1, 5));
        await stopAll([writerOld, readerOld]);

        // The operator's move: dump the app's tables, restore them into a fresh cluster.
        await asPostgres(`${PG_BIN}/pg_dump`, [
          '-h',
          '127.0.0.1',
          '-p',
          String(old.port),
          '-d',
          'postgres',
          '-Fc',
          '-t',
          `${PREFIX}*`,
          '-f',
          dump,
        ]);
        const restored = await createCluster('dump_new', 5441);
        clusters.push(restored);
        await asPostgres(`${PG_BIN}/pg_restore`, ['-h', '127.0.0.1', '-p', String(restored.port), '-d', 'postgres', '--no-owner', dump]);

        const adminKnex = knexFor(restored.url);
        extra.push(adminKnex);
        const admin = new Admin({ knex: adminKnex, tablePrefix: PREFIX });
        const before = await admin.status();
        assert.equal(before.history.foreignRows, 5, 'status reports the rows of the other history');
        assert.deepEqual(before.history.otherDatabase.sort(), ['reader', 'writer'], 'and the cursors read from the other database');

        // Written on the restored database before the reader's first poll there.
        const writer = await server(restored.url, 'writer');
        servers.push(writer);
        assert.equal(writer.boots[0]?.reason, 'database-changed', 'the writer process, starting on the new database, cold-boots too');
        await write(writer, range(100, 5));
        const reader = await server(restored.url, 'reader');
        servers.push(reader);
        assert.ok(receivedOrColdBooted(reader, range(100, 5), 0), 'every instruction written there reached the reader, or it cold-booted');
        assert.equal(reader.boots[0]?.reason, 'database-changed');
        assert.match(reader.boots[0]?.detail ?? '', /database/);

        // The old rows were re-stamped: covered by every snapshot, whatever this counter does later.
        const stamps = await reader.knex.raw(
          `select count(*) filter (where txid = '3'::xid8) as frozen, count(*) filter (where txid >= ` +
            `pg_snapshot_xmax(pg_current_snapshot())) as ahead from ??`,
          [`${PREFIX}cache_instruction`],
        );
        assert.deepEqual([Number(stamps.rows[0].frozen), Number(stamps.rows[0].ahead)], [5, 0]);
        const after = await admin.status();
        assert.equal(after.history.foreignRows, 0);
        assert.deepEqual(after.history.otherDatabase, []);
        assert.match((await reader.cache.health()).databaseChanged?.detail ?? '', /ahead of the database/, 'health() says what was found');
        assert.match(
          (await writer.cache.health()).databaseChanged?.detail ?? '',
          /5 rows of the other history were re-stamped/,
          'the first to find them re-stamped them',
        );
        const recorded = await reader
          .knex(`${PREFIX}cache_failure`)
          .where({ server_identity: 'reader', action: 'cold-boot-database-changed' });
        assert.equal(recorded.length, 1, 'the cold boot is recorded');

        // Later instructions arrive; the old ones (1..5) never do.
        await write(writer, range(200, 5));
        await reader.cache.sync();
        const got = reader.product.refreshedIds();
        assert.deepEqual(
          range(200, 5).filter((id) => !got.includes(id)),
          [],
        );
        assert.deepEqual(
          got.filter((id) => typeof id === 'number' && id < 100),
          [],
          'no old row was applied again',
        );
      } finally {
        await stopAll(servers);
        for (const c of clusters) await c.drop();
        for (const k of extra) await k.destroy();
        await rm(dump, { force: true });
      }
    });

    test('a lagging asynchronous standby is promoted behind a moved address: the connected reader cold-boots', async () => {
      const clusters: Cluster[] = [];
      const servers: Array<Server | undefined> = [];
      const extra: Knex[] = [];
      const proxy = new TcpProxy(5449, 5442);
      try {
        const primary = await createCluster('fo_p', 5442);
        clusters.push(primary);
        const standby = await createCluster('fo_s', 5443, { start: false });
        clusters.push(standby);
        await asPostgres('find', [standby.dataDir, '-mindepth', '1', '-delete']);
        await asPostgres(`${PG_BIN}/pg_basebackup`, [
          '-h',
          '127.0.0.1',
          '-p',
          '5442',
          '-U',
          'postgres',
          '-D',
          standby.dataDir,
          '-R',
          '-X',
          'stream',
          '-c',
          'fast',
        ]);
        await standby.start();
        await waitFor(
          async () => (await primary.sql("select count(*) from pg_stat_replication where state = 'streaming'")).trim() === '1',
          { timeout: 20_000 },
        );
        const primaryKnex = knexFor(primary.url);
        extra.push(primaryKnex);
        await migrate(primaryKnex, { tablePrefix: PREFIX });
        const oldIdentity = (await new Admin({ knex: primaryKnex, tablePrefix: PREFIX }).status()).history.databaseIdentity;
        await proxy.start();

        const writer = await server(primary.url, 'writer');
        const reader = await server('postgres://postgres@127.0.0.1:5449/postgres', 'reader', { polling: true });
        servers.push(writer, reader);
        await write(writer, range(1, 5));
        await waitFor(() => range(1, 5).every((id) => reader.product.refreshedIds().includes(id)), { timeout: 10_000 });
        await waitFor(async () => (await standby.sql(`select count(*) from ${PREFIX}cache_instruction`)).trim() === '5', {
          timeout: 10_000,
        });

        // The standby falls behind: its WAL receiver stops, and the primary commits what it never gets.
        await standby.sql("alter system set primary_conninfo = ''");
        await standby.sql('select pg_reload_conf()');
        await waitFor(async () => (await standby.sql('select count(*) from pg_stat_wal_receiver')).trim() === '0', { timeout: 10_000 });
        await write(writer, range(10, 5));
        await waitFor(() => range(10, 5).every((id) => reader.product.refreshedIds().includes(id)), {
          timeout: 10_000,
          describe: () => 'the reader applies what the standby missed',
        });

        // The failover: the primary dies, the standby is promoted, the address moves.
        await primary.stop('immediate');
        await standby.sql('select pg_promote(true, 30)');
        const checkpointTimeline = (await standby.sql('select timeline_id from pg_control_checkpoint()')).trim();
        const standbyKnex = knexFor(standby.url);
        extra.push(standbyKnex);
        const newIdentity = (await new Admin({ knex: standbyKnex, tablePrefix: PREFIX }).status()).history.databaseIdentity;
        console.log(
          `identity before ${oldIdentity}, after promotion ${newIdentity}; pg_control_checkpoint() timeline right ` +
            `after: ${checkpointTimeline}`,
        );
        assert.notEqual(newIdentity, oldIdentity, 'the identity distcache reads moves with the promotion at once');
        const bootsBefore = reader.boots.length;
        proxy.switchTo(5443);

        const writer2 = await server(standby.url, 'writer-2');
        servers.push(writer2);
        const onNewPrimary = range(20, 5);
        await write(writer2, onNewPrimary);
        await waitFor(() => receivedOrColdBooted(reader, onNewPrimary, bootsBefore), {
          timeout: 20_000,
          describe: () => `reader got ${JSON.stringify(reader.product.refreshedIds())}, boots ${JSON.stringify(reader.boots)}`,
        });
        assert.equal(
          reader.boots[bootsBefore]?.reason,
          'database-changed',
          'the reader had applied rows the new primary never got: only a cold boot makes it right',
        );
        const later = range(30, 5);
        await write(writer2, later);
        await waitFor(() => later.every((id) => reader.product.refreshedIds().includes(id)), { timeout: 10_000 });
        assert.equal(reader.boots.length, bootsBefore + 1, 'one cold boot, then instructions flow again');
      } finally {
        await stopAll(servers);
        for (const k of extra) await k.destroy();
        await proxy.stop();
        for (const c of clusters) await c.drop();
      }
    });

    const baseBackupTest =
      'an older base backup restored with the cursors copied forward: a ' +
      'running reader cold-boots; what no check can see, resync --all recovers';
    test(baseBackupTest, async () => {
      const clusters: Cluster[] = [];
      const servers: Array<Server | undefined> = [];
      const extra: Knex[] = [];
      const backupDir = '/tmp/distcache_t_bk_copy';
      try {
        const db = await createCluster('bk', 5444);
        clusters.push(db);
        const direct = knexFor(db.url);
        extra.push(direct);
        await migrate(direct, { tablePrefix: PREFIX });
        const writer = await server(db.url, 'writer');
        const reader = await server(db.url, 'reader', { polling: true });
        const late = await server(db.url, 'late');
        servers.push(writer, reader, late);
        await write(writer, range(1, 5));
        await asPostgres('rm', ['-rf', backupDir]);
        await asPostgres(`${PG_BIN}/pg_basebackup`, [
          '-h',
          '127.0.0.1',
          '-p',
          '5444',
          '-U',
          'postgres',
          '-D',
          backupDir,
          '-X',
          'stream',
          '-c',
          'fast',
        ]);

        // After the backup the database lives on: a busy one hands out many xids, and the servers read on.
        await burnXids(direct, 300);
        await write(writer, range(10, 5));
        await waitFor(() => range(10, 5).every((id) => reader.product.refreshedIds().includes(id)), { timeout: 10_000 });
        await late.cache.sync();
        await late.cache.stop();
        const cursors: Array<{ server_identity: string; position: string; database_identity: string | null }> = await direct(
          `${PREFIX}cache_cursor`,
        ).select('server_identity', 'position', 'database_identity');

        // The restore: the old copy replaces the data directory; the app's cursors are copied forward.
        const bootsBefore = reader.boots.length;
        await db.stop();
        await asPostgres('find', [db.dataDir, '-mindepth', '1', '-delete']);
        await asPostgres('cp', ['-a', `${backupDir}/.`, db.dataDir]);
        await db.start();
        for (const c of cursors)
          await retrying(() =>
            direct(`${PREFIX}cache_cursor`).where('server_identity', c.server_identity).update({ position: c.position }),
          );

        // (a) The reader stayed up: its position is ahead of the restored xid counter (it may find
        // that before the cursors are copied, at its first poll on the restored database).
        const written = range(20, 5);
        await retrying(() => write(writer, written));
        await waitFor(() => receivedOrColdBooted(reader, written, bootsBefore), {
          timeout: 20_000,
          describe: () => `reader got ${JSON.stringify(reader.product.refreshedIds())}, boots ${JSON.stringify(reader.boots)}`,
        });
        assert.equal(reader.boots[bootsBefore]?.reason, 'database-changed');
        assert.match(reader.boots[bootsBefore]?.detail ?? '', /ahead/);

        // (b) A server that was down, whose copied cursor the restored counter has since passed: same
        // system identifier, same timeline, a position that looks valid. No check can tell, so the
        // runbook says to run resync --all after such a restore, and that recovers it.
        const lateCursor = cursors.find((c) => c.server_identity === 'late')!;
        await burnUntilPast(direct, lateCursor.position);
        const restarted = await server(db.url, 'late');
        servers.push(restarted);
        const got = new Set(restarted.product.refreshedIds());
        console.log(
          `a restarted server with a copied-forward cursor: cold boots ${JSON.stringify(restarted.boots)}, ` +
            `received ${written.filter((id) => got.has(id)).length} of ${written.length} written after the restore`,
        );
        const result = await cli(['resync', '--all', '--db', db.url, '--prefix', PREFIX, '--json']);
        assert.equal(result.code, 0, result.stderr);
        const flagged = JSON.parse(result.stdout) as { flagged: number; servers: string[] };
        assert.ok(flagged.servers.includes('late'), result.stdout);
        const bootsLate = restarted.boots.length;
        await restarted.cache.sync();
        assert.equal(restarted.boots[bootsLate]?.reason, 'requested', 'resync --all makes it cold-boot at its next poll');
        const after = range(40, 3);
        await write(writer, after);
        await restarted.cache.sync();
        assert.deepEqual(
          after.filter((id) => !restarted.product.refreshedIds().includes(id)),
          [],
        );
      } finally {
        await stopAll(servers);
        for (const k of extra) await k.destroy();
        for (const c of clusters) await c.drop();
        await asPostgres('rm', ['-rf', backupDir]).catch(() => undefined);
      }
    });

    const pitrTest =
      'a PITR (archive recovery of an older backup to a target) with the ' +
      'cursors copied forward: the new timeline makes every server cold-boot';
    test(pitrTest, async () => {
      const clusters: Cluster[] = [];
      const servers: Array<Server | undefined> = [];
      const extra: Knex[] = [];
      const backupDir = '/tmp/distcache_t_pitr_copy';
      try {
        const db = await createCluster('pitr', 5446);
        clusters.push(db);
        const direct = knexFor(db.url);
        extra.push(direct);
        await migrate(direct, { tablePrefix: PREFIX });
        const writer = await server(db.url, 'writer');
        const late = await server(db.url, 'late');
        servers.push(writer, late);
        await write(writer, range(1, 5));
        await asPostgres('rm', ['-rf', backupDir]);
        await asPostgres(`${PG_BIN}/pg_basebackup`, [
          '-h',
          '127.0.0.1',
          '-p',
          '5446',
          '-U',
          'postgres',
          '-D',
          backupDir,
          '-X',
          'stream',
          '-c',
          'fast',
        ]);
        await burnXids(direct, 300);
        await write(writer, range(10, 5));
        await late.cache.sync();
        assert.ok(range(10, 5).every((id) => late.product.refreshedIds().includes(id)));
        await late.cache.stop();
        const cursors: Array<{ server_identity: string; position: string; database_identity: string | null }> = await direct(
          `${PREFIX}cache_cursor`,
        ).select('server_identity', 'position', 'database_identity');

        // Recovery of the old backup to its first consistent point, then promotion: a new timeline.
        await db.stop();
        await asPostgres('find', [db.dataDir, '-mindepth', '1', '-delete']);
        await asPostgres('cp', ['-a', `${backupDir}/.`, db.dataDir]);
        await asPostgres('sh', [
          '-c',
          `touch '${db.dataDir}/recovery.signal' && printf "%s\\n" "restore_command = 'false'" "recovery_target = 'immediate'" ` +
            `"recovery_target_action = 'promote'" >> '${db.dataDir}/postgresql.auto.conf'`,
        ]);
        await db.start();
        await waitFor(async () => (await db.sql('select pg_is_in_recovery()').catch(() => 't')).trim() === 'f', { timeout: 20_000 });
        // The app's data restored with its cursors copied forward, identity column included.
        for (const c of cursors) {
          await retrying(() =>
            direct(`${PREFIX}cache_cursor`)
              .where('server_identity', c.server_identity)
              .update({ position: c.position, database_identity: c.database_identity }),
          );
        }
        const written = range(20, 5);
        await retrying(() => write(writer, written));
        // Past the copied cursor's xmax, so only the identity check can tell.
        await burnUntilPast(direct, cursors.find((c) => c.server_identity === 'late')!.position);
        const restarted = await server(db.url, 'late');
        servers.push(restarted);
        assert.ok(receivedOrColdBooted(restarted, written, 0), `got ${JSON.stringify(restarted.product.refreshedIds())}`);
        assert.equal(restarted.boots[0]?.reason, 'database-changed');
        assert.match(restarted.boots[0]?.detail ?? '', /:1, but the database is now \d+:2/);
      } finally {
        await stopAll(servers);
        for (const k of extra) await k.destroy();
        for (const c of clusters) await c.drop();
        await asPostgres('rm', ['-rf', backupDir]).catch(() => undefined);
      }
    });
  },
);
