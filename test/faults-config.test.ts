import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, errors, migrate } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { cliPath, exerciseCache, HOSTILE_NAMES, OutputCapture, runCli, secretPassword } from './faults/config.js';
import { DATABASES, PG_URL, MYSQL_URL } from './support/databases.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const dialects = await faultDialects({ mysql: true });

/** A knex whose every query is counted; no connection is opened until a query runs. */
function countingKnex(dialect: (typeof dialects)[number]['dialect']): { knex: Knex; queries: () => number } {
  const knex = knexFactory(
    dialect === 'sqlite'
      ? { client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true }
      : DATABASES[dialect].config(),
  );
  let count = 0;
  knex.on('query', () => count++);
  return { knex, queries: () => count };
}

for (const { dialect } of dialects) {
  test(`hostile table prefixes, cluster names, identities and refresher ids are refused before any query (${dialect})`, async () => {
    const { knex, queries } = countingKnex(dialect);
    try {
      const refused = (option: string) => (err: unknown) =>
        err instanceof errors.InvalidOptionError && (err as Error).message.startsWith(option);
      for (const bad of HOSTILE_NAMES) {
        // '' is the default prefix (none), not a hostile one.
        if (bad !== '')
          assert.throws(
            () => new DistributedCache({ knex, tablePrefix: bad, logger: silentLogger }),
            refused('tablePrefix'),
            JSON.stringify(bad),
          );
        assert.throws(() => new DistributedCache({ knex, cluster: bad, logger: silentLogger }), refused('cluster'), JSON.stringify(bad));
        assert.throws(
          () => new DistributedCache({ knex, serverIdentity: bad, logger: silentLogger }),
          refused('serverIdentity'),
          JSON.stringify(bad),
        );
        assert.throws(
          () => new DistributedCache({ knex, refreshers: [{ id: bad, refreshAll() {} }], logger: silentLogger }),
          refused('refreshers'),
          JSON.stringify(bad),
        );
        if (bad !== '')
          await assert.rejects(
            migrate(knex, { tablePrefix: bad }),
            (err: unknown) => err instanceof errors.InvalidOptionError && /tablePrefix/.test((err as Error).message),
          );
      }
      // Writing to a refresher id nobody registered is refused on the caller's side too.
      const cache = new DistributedCache({
        knex,
        refreshers: [{ id: 'item', refreshAll() {}, refresh() {} }],
        logger: silentLogger,
        pruneSchedule: false,
      });
      for (const bad of HOSTILE_NAMES) await assert.rejects(cache.refresh(bad, [1]), errors.UnknownRefresherError);
      assert.equal(queries(), 0, 'not one query reached the database');
    } finally {
      await knex.destroy();
    }
  });
}

test('a password in the connection string never reaches logs, errors, events, return values or console output', async (t) => {
  const password = secretPassword();
  const encoded = encodeURIComponent(password);
  const capture = new OutputCapture();
  capture.teeConsole();
  try {
    const pg = new URL(PG_URL);
    const mysql = new URL(MYSQL_URL);
    const urls: Array<[string, string]> = [
      ['postgres, nothing listening', `postgres://distcache:${encoded}@127.0.0.1:1/test`],
      ['postgres, password in the query string', `postgres://127.0.0.1:1/test?user=distcache&password=${encoded}`],
      ['postgres, the test server with a wrong password', `postgres://${pg.username || 'postgres'}:${encoded}@${pg.host}${pg.pathname}`],
      ['postgres, a user that does not exist', `postgres://no_such_user_${Date.now()}:${encoded}@${pg.host}${pg.pathname}`],
      ['mysql, nothing listening', `mysql://root:${encoded}@127.0.0.1:1/test`],
      ['mysql, the test server with a wrong password', `mysql://${mysql.username || 'root'}:${encoded}@${mysql.host}${mysql.pathname}`],
      ['a scheme distcache does not know', `redis://user:${encoded}@127.0.0.1:6379/0`],
    ];
    const cli = cliPath();
    await Promise.all([
      ...urls.map(([label, url]) => exerciseCache(capture, label, url)),
      // The default logger too, which writes to the console.
      exerciseCache(capture, 'default logger', urls[0]![1], { defaultLogger: true }),
      ...(cli
        ? urls.flatMap(([, url]) => [runCli(capture, ['status', '--db', url]), runCli(capture, ['status', '--db', url, '--json'])])
        : []),
    ]);
    if (!cli) {
      t.diagnostic('the CLI is not built (no dist/src/cli/main.js), so its output is not checked yet');
    }
  } finally {
    capture.stopTee();
  }
  t.diagnostic(`searched ${capture.texts.length} captured outputs`);
  assert.ok(capture.texts.length > 50, 'the failures were actually exercised');
  assert.ok(
    capture.texts.some((text) => /ECONNREFUSED|connect/i.test(text)),
    'connection failures were captured',
  );
  assert.deepEqual(capture.find(password), [], 'the password appears nowhere');
});
