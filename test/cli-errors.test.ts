import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import knexFactory from 'knex';
import { COMMANDS } from '../src/cli/commands/index.js';
import { MIGRATIONS } from '../src/migrations/list.js';
import { migrationConfig, resolveTables } from '../src/migrations/migrate.js';
import {
  availability,
  DATABASES,
  dropPrefixed,
  freshPrefix,
  MYSQL_URL,
  PG_URL,
  selectedDialects,
  sqliteConfig,
  sqliteFile,
} from './support/databases.js';
import { cli, cliDatabase, cliJson } from './support/cli-run.js';
import * as shape from './support/cli-shapes.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const PASSWORD = 's3cr3t-pw';

/** A URL with PASSWORD in it, for a host:port where nothing listens. */
const unreachable = {
  postgres: `postgres://postgres:${PASSWORD}@127.0.0.1:9/test`,
  postgresHost: `postgres://postgres:${PASSWORD}@no-such-host.invalid:5432/test`,
  mysql: `mysql://root:${PASSWORD}@127.0.0.1:9/test`,
};

function assertNoPassword(result: { stdout: string; stderr: string }, secret = PASSWORD, what = 'output'): void {
  const all = result.stdout + result.stderr;
  assert.ok(!all.includes(secret), `${what} contains the password:\n${all}`);
  assert.ok(!all.includes(encodeURIComponent(secret)), `${what} contains the encoded password`);
}

test('help: --help lists every command with examples; each command has its own help; no command is a usage error', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c.name}\\s`, 'm'), `--help lists ${c.name}`);
  assert.match(help.stdout, /Examples:\n {2}distcache /);
  assert.match(help.stdout, /Exit codes: 0 success, 1 .*, 2 a usage error/);
  for (const c of COMMANDS) {
    const own = await cli([c.name, '--help']);
    assert.equal(own.code, 0, `${c.name} --help`);
    assert.match(own.stdout, new RegExp(`^Usage: distcache ${c.name}`));
    assert.match(own.stdout, /Examples:/);
  }
  const bare = await cli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /Usage: distcache <command>/);
  const version = await cli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('usage errors exit 2 with what to type: unknown command, unknown flag, missing or extra arguments, bad numbers', async () => {
  const db = ['--db', unreachable.postgres];
  const cases: Array<[string[], RegExp]> = [
    [['stauts', ...db], /unknown command 'stauts'\. Did you mean 'status'\?/],
    [['status', '--jsno', ...db], /unknown option --jsno for 'status'; did you mean --json\?/],
    [['prune', '--dryrun', ...db], /did you mean --dry-run\?/],
    [['tail', '--folow', ...db], /did you mean --follow\?/],
    [['pending', '--server', ...db], /argument missing|--server/],
    [['show', ...db], /'show' takes ROW_ID/],
    [['show', 'abc', ...db], /ROW_ID must be a row id/],
    [['status', 'extra', ...db], /'status' takes no arguments; unexpected: extra/],
    [['pending', '--limit', 'ten', ...db], /--limit ten is not valid; give a whole number/],
    [['prune', '--duty-cycle', '0', ...db], /--duty-cycle 0 is not valid; give a number above 0 and at most 1, such as --duty-cycle 0.1/],
    [['prune', '--duty-cycle', '1.5', ...db], /--duty-cycle 1.5 is not valid/],
    [['tail', '--follow', '--interval', 'soon', ...db], /--interval soon is not a duration/],
    [['send', 'refresh', 'product', ...db], /refresh needs ids, as in: distcache send refresh product 42 43/],
    [['send', 'refrseh', 'product', '1', ...db], /is not an instruction kind\. Did you mean refresh\?/],
    [['send', 'remove', 'product', '-5', ...db], /put ids after --/],
    [['send', 'payload', 'price', '--payload', '{"id":', ...db], /--payload number 1 is not JSON .*quote it for your shell/],
    [
      ['send', 'payload', 'price', '--payload', `${'['.repeat(2001)}${']'.repeat(2001)}`, ...db],
      /servers would refuse this instruction: instructions\[0\]\.payloads nest deeper than 2000 levels/,
    ],
    [['servers', 'forgot', 'x', ...db], /unknown servers subcommand 'forgot'/],
    [['status', '--prefix', 'Bad-Prefix', ...db], /tablePrefix: "Bad-Prefix" \(from --prefix\) is not valid/],
    [['status', '--db', 'redis://u:s3cr3t-pw@host/0'], /redis:\/\/u:\*\*\*@host\/0 is not one distcache understands/],
  ];
  for (const [args, message] of cases) {
    const result = await cli(args);
    assert.equal(result.code, 2, `${args.join(' ')} exits 2; stderr: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.equal(result.stdout, '', `${args.join(' ')} prints nothing on stdout`);
    assertNoPassword(result, PASSWORD, args.join(' '));
  }
});

test('an unreachable database exits 1 with what to check, and never shows the password', async () => {
  for (const url of [unreachable.postgres, unreachable.postgresHost, unreachable.mysql]) {
    for (const args of [['status'], ['status', '--json'], ['tail', '--follow'], ['send', 'refresh', 'product', '1'], ['migrate']]) {
      const result = await cli([...args, '--db', url, '--timeout', '5s']);
      assert.equal(result.code, 1, `${args.join(' ')} on ${url}: ${result.stderr}`);
      assert.match(result.stderr, /^distcache: cannot use (postgres|mysql):\/\/(postgres|root):\*\*\*@/);
      assert.match(result.stderr, /\nCheck: that the database server is running and reachable/);
      assert.equal(result.stdout, '');
      assertNoPassword(result);
    }
  }
  // From the environment too, and named as such.
  const fromEnv = await cli(['status'], { env: { DATABASE_URL: unreachable.postgres } });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.stderr, /\(from DATABASE_URL\)/);
  assertNoPassword(fromEnv);
});

test('a missing SQLite file exits 1 and is not created; tables that are missing point at migrate', async () => {
  const file = sqliteFile();
  const missing = await cli(['status', '--db', `sqlite://${file}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /there is no SQLite database at .*distcache migrate/s);
  assert.equal(existsSync(file), false, 'a read command did not create the file');
  const migrated = await cliJson(['migrate', '--db', `sqlite://${file}`, '--prefix', 'app_']);
  assert.deepEqual(
    shape.shaped(shape.migrate, migrated, 'migrate').applied,
    MIGRATIONS.map((m) => m.name),
  );
  const otherPrefix = await cli(['status', '--db', `sqlite://${file}`, '--prefix', 'other_']);
  assert.equal(otherPrefix.code, 1);
  assert.match(otherPrefix.stderr, /distcache's tables are missing .*no such table: other_cache_/);
  assert.match(otherPrefix.stderr, /Check: --prefix matches the servers' tablePrefix, or run `distcache migrate`/);
});

test('bad input that the database answers exits 1: unknown refresher, no published refreshers, unknown server, unknown row', async (t) => {
  const db = await cliDatabase('sqlite');
  t.after(() => db.close());
  // No server has published anything yet: refused unless --force.
  const unchecked = await cli(['send', 'refresh', 'product', '1', ...db.flags]);
  assert.equal(unchecked.code, 1);
  assert.match(
    unchecked.stderr,
    new RegExp(
      "cannot check refresher 'product': no server of cluster 'default' has published its refresher ids " +
        '\\(no server is registered\\); .*--force',
    ),
  );
  const forced = shape.shaped(shape.send, await cliJson(['send', 'refresh', 'product', '1', '--force', ...db.flags]), 'send --force');
  assert.equal(forced.verified, false);

  await db.server('web-1', [recorder('product'), recorder('member')]);
  const typo = await cli(['send', 'refresh', 'prodcut', '1', ...db.flags]);
  assert.equal(typo.code, 1);
  assert.match(
    typo.stderr,
    /no server of cluster 'default' has a refresher 'prodcut'\. Did you mean 'product'\? Known ids: member, product\. Pass --force/,
  );
  const unknown = await cli(['send', 'refresh-all', 'orders', ...db.flags]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /has a refresher 'orders'\. Known ids: member, product/);
  assert.equal((await db.knex(`${db.prefix}cache_instruction`).count({ n: '*' }))[0]!.n, 1, 'refused sends wrote nothing');

  for (const args of [
    ['pending', '--server', 'web-9'],
    ['resync', 'web-9'],
    ['failures', '--server', 'web-9'],
    ['servers', 'forget', 'web-9'],
  ]) {
    const result = await cli([...args, ...db.flags]);
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, /no server 'web-9' in cluster 'default'; known servers: web-1/, args.join(' '));
  }
  const otherCluster = await cli(['resync', 'web-1', '--cluster', 'staging', ...db.flags]);
  assert.equal(otherCluster.code, 1);
  assert.match(otherCluster.stderr, /no server 'web-1' in cluster 'staging'; no server has registered or synced in it yet/);
  const row = await cli(['show', '999', ...db.flags]);
  assert.equal(row.code, 1);
  assert.match(row.stderr, /no row 999 in cluster 'default' \(never written, or pruned\); the log holds ids 1 to 1/);
});

test('connection, prefix and cluster resolve flag > environment > knexfile > default', async (t) => {
  const db = await cliDatabase('sqlite');
  t.after(() => db.close());
  await db.server('web-1', [recorder('product')]);
  const status = async (args: string[], options: Parameters<typeof cli>[1]) =>
    shape.shaped(shape.status, await cliJson(['status', ...args], options), 'status');

  // The environment: DISTCACHE_DATABASE_URL before DATABASE_URL; DISTCACHE_TABLE_PREFIX.
  const env = await status([], {
    env: { DISTCACHE_DATABASE_URL: db.url, DATABASE_URL: unreachable.postgres, DISTCACHE_TABLE_PREFIX: db.prefix },
  });
  assert.equal(env.database.source, 'DISTCACHE_DATABASE_URL');
  assert.equal(env.tablePrefix, db.prefix);
  assert.deepEqual(
    env.servers.map((s) => s.identity),
    ['web-1'],
  );
  // --db and --prefix before the environment.
  const flags = await status(db.flags, { env: { DISTCACHE_DATABASE_URL: unreachable.postgres, DISTCACHE_TABLE_PREFIX: 'nothing_' } });
  assert.equal(flags.database.source, '--db');
  assert.equal(flags.servers.length, 1);
  // DISTCACHE_CLUSTER scopes everything.
  const staging = await status(db.flags, { env: { DISTCACHE_CLUSTER: 'staging' } });
  assert.equal(staging.cluster, 'staging');
  assert.deepEqual(staging.servers, []);

  // A knexfile in the working folder, with distcache's own settings beside knex's.
  const dir = mkdtempSync(join(tmpdir(), 'distcache-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = db.url.replace(/^sqlite:\/\//, '');
  writeFileSync(
    join(dir, 'knexfile.mjs'),
    `export default { client: 'better-sqlite3', connection: { filename: ${JSON.stringify(file)} }, useNullAsDefault: true, ` +
      `distcache: { tablePrefix: ${JSON.stringify(db.prefix)} } };\n`,
  );
  const fromFile = await status([], { cwd: dir });
  assert.equal(fromFile.database.source, 'knexfile');
  assert.match(fromFile.database.display, /knexfile\.mjs: better-sqlite3 /);
  assert.equal(fromFile.tablePrefix, db.prefix);
  assert.deepEqual(
    fromFile.servers.map((s) => s.identity),
    ['web-1'],
  );
  // An environment map picks NODE_ENV.
  writeFileSync(
    join(dir, 'knexfile.mjs'),
    `export default { production: { client: 'better-sqlite3', connection: { filename: ${JSON.stringify(file)} }, ` +
      `useNullAsDefault: true } };\n`,
  );
  const noEnv = await cli(['status', '--prefix', db.prefix], { cwd: dir });
  assert.equal(noEnv.code, 2);
  assert.match(noEnv.stderr, /knexfile\.mjs has no 'development' configuration; set NODE_ENV to one of: production/);
  assert.equal((await status(['--prefix', db.prefix], { cwd: dir, env: { NODE_ENV: 'production' } })).servers.length, 1);

  // A TypeScript knexfile cannot be loaded by node: refused rather than silently using another database.
  const tsDir = mkdtempSync(join(tmpdir(), 'distcache-cli-'));
  t.after(() => rmSync(tsDir, { recursive: true, force: true }));
  writeFileSync(join(tsDir, 'knexfile.ts'), 'export default {};\n');
  const ts = await cli(['status'], { cwd: tsDir });
  assert.equal(ts.code, 2);
  assert.match(ts.stderr, /found knexfile\.ts .* compile it to knexfile\.js, or pass --db/);

  // Nothing at all: ./distcache.sqlite in the working folder, which migrate creates.
  const bare = mkdtempSync(join(tmpdir(), 'distcache-cli-'));
  t.after(() => rmSync(bare, { recursive: true, force: true }));
  assert.equal((await cli(['status'], { cwd: bare })).code, 1);
  const created = await cli(['migrate'], { cwd: bare });
  assert.equal(created.code, 0, created.stderr);
  assert.ok(existsSync(join(bare, 'distcache.sqlite')));
  assert.equal((await status([], { cwd: bare })).database.source, 'default');
});

test('migrate --dry-run prints the SQL and changes nothing (SQLite, PostgreSQL); MySQL refuses it with a reason', async (t) => {
  // SQLite: an existing empty file stays empty; a missing file is not created.
  const file = sqliteFile();
  const empty = knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
  await empty.raw('create table unrelated (x integer)');
  const plan = shape.shaped(
    shape.migratePlan,
    await cliJson(['migrate', '--dry-run', '--db', `sqlite://${file}`, '--prefix', 'dry_']),
    'migrate --dry-run',
  );
  assert.deepEqual(
    plan.pending,
    MIGRATIONS.map((m) => m.name),
  );
  assert.ok(plan.statements.some((s) => s.migration === '001_instruction_log' && /^create table `dry_cache_instruction`/.test(s.sql)));
  assert.ok(
    plan.statements.some(
      (s) => s.migration === '003_server_refreshers' && /alter table `dry_cache_server` add column `refreshers` text/.test(s.sql),
    ),
  );
  const tables = await empty.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'");
  assert.deepEqual(
    tables.map((r: { name: string }) => r.name),
    ['unrelated'],
    'nothing was created',
  );
  await empty.destroy();
  const missing = sqliteFile();
  const human = await cli(['migrate', '--dry-run', '--db', `sqlite://${missing}`]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^-- distcache migrate --dry-run: ${MIGRATIONS.length} pending migrations on sqlite`));
  assert.match(human.stdout, /rolled back: nothing was changed/);
  assert.match(human.stdout, /^create table `cache_instruction` .*;$/m);
  assert.equal(existsSync(missing), false);

  const pg = await availability('postgres');
  if (!pg) {
    const pgPlan = shape.shaped(
      shape.migratePlan,
      await cliJson(['migrate', '--dry-run', '--db', PG_URL, '--prefix', 'dryrun_never_']),
      'pg plan',
    );
    assert.ok(pgPlan.statements.some((s) => /add column txid xid8/.test(s.sql)));
    const knex = knexFactory({ client: 'pg', connection: PG_URL });
    t.after(() => knex.destroy());
    assert.equal(await knex.schema.hasTable('dryrun_never_cache_instruction'), false);
    assert.equal(await knex.schema.hasTable('dryrun_never_distcache_migrations'), false);
  }
  const my = await availability('mysql');
  if (!my) {
    const refused = await cli(['migrate', '--dry-run', '--db', MYSQL_URL, '--prefix', 'dryrun_never_']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /a dry run needs DDL that can be rolled back, and mysql commits every DDL statement at once/);
  }
});

test(
  'a password in --db never appears in any output, even where the database accepts it (PostgreSQL trust auth)',
  { skip: await availability('postgres') },
  async (t) => {
    const url = new URL(PG_URL);
    if (!url.password) url.password = PASSWORD;
    const secret = decodeURIComponent(url.password);
    const withPassword = url.toString();
    const probe = knexFactory({ client: 'pg', connection: withPassword });
    const accepted = await probe.raw('select 1').then(
      () => true,
      () => false,
    );
    await probe.destroy();
    if (!accepted) return t.skip('the server checks passwords; the unreachable-host tests cover the error path');
    const db = await cliDatabase('postgres', { url: withPassword });
    t.after(() => db.close());
    await db.server('web-1', [recorder('product')]);
    const runs = [
      ['migrate'],
      ['migrate', '--dry-run'],
      ['status'],
      ['servers'],
      ['send', 'refresh', 'product', '1'],
      ['pending'],
      ['pending', '--server', 'web-1'],
      ['show', '1'],
      ['tail'],
      ['resync', 'web-1'],
      ['failures'],
      ['actions'],
      ['prune', '--dry-run'],
      ['prune'],
      // and failures that carry the connection in their message
      ['resync', 'nobody'],
      ['send', 'refresh', 'nothing', '1'],
      ['status', '--prefix', 'missing_'],
    ];
    let sawMasked = false;
    for (const args of runs) {
      for (const json of [[], ['--json']]) {
        const result = await cli([...args, ...json, ...db.flags]);
        assertNoPassword(result, secret, args.join(' '));
        if (/postgres:\*\*\*@/.test(result.stdout + result.stderr)) sawMasked = true;
      }
    }
    const env = await cli(['status'], { env: { DATABASE_URL: withPassword, DISTCACHE_TABLE_PREFIX: db.prefix } });
    assert.equal(env.code, 0, env.stderr);
    assertNoPassword(env, secret, 'status from DATABASE_URL');
    assert.ok(sawMasked, 'the connection is shown, masked');
  },
);

test(
  '--timeout 2s against a database that accepts TCP and never answers: the 2 s error, exit code 1, and the process ends',
  { timeout: 30_000 },
  async (t) => {
    const { createServer } = await import('node:net');
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as { port: number };
    for (const [scheme, args] of [
      ['postgres', ['status']],
      ['mysql', ['servers', '--json']],
    ] as const) {
      const began = performance.now();
      const result = await cli([...args, '--db', `${scheme}://u:${PASSWORD}@127.0.0.1:${port}/x`, '--timeout', '2s']);
      const took = performance.now() - began;
      t.diagnostic(`${scheme}: exit ${result.code} after ${took.toFixed(0)} ms`);
      assert.equal(result.code, 1, result.stderr);
      // The message proves the 2 s timer fired; the bound only proves nothing kept the process alive
      // after it (a loaded machine takes a second or more just to start node, so no tighter figure).
      assert.match(result.stderr, /no answer within 2 s \(--timeout/);
      assert.ok(took < 20_000, `${scheme}: the process ended after ${took.toFixed(0)} ms`);
      assertNoPassword(result);
    }
  },
);

for (const dialect of selectedDialects()) {
  test(
    `status on ${dialect} with a migration pending shows it pending and exits 0 (not E_NOT_MIGRATED)`,
    { skip: await availability(dialect) },
    async (t) => {
      // Migrated up to 003 only, as a database is between a package upgrade and `distcache migrate`.
      const file = sqliteFile();
      const config = dialect === 'sqlite' ? sqliteConfig(file) : DATABASES[dialect].config();
      const url = dialect === 'sqlite' ? `sqlite://${file}` : DATABASES[dialect].url();
      const knex = knexFactory(config);
      const prefix = freshPrefix();
      t.after(async () => {
        await dropPrefixed(knex, prefix);
        await knex.destroy();
      });
      const migrations = migrationConfig(knex, resolveTables(prefix));
      for (const name of ['001_instruction_log', '002_cluster', '003_server_refreshers']) {
        const [, ran] = (await knex.migrate.up(migrations)) as [number, string[]];
        assert.deepEqual(ran, [name]);
      }
      const flags = ['--db', url, '--prefix', prefix];
      const human = await cli(['status', ...flags]);
      assert.equal(human.code, 0, human.stderr);
      const pending = MIGRATIONS.map((m) => m.name).slice(3);
      assert.ok(
        human.stdout.includes(
          `schema: ${pending.length} migration${pending.length === 1 ? '' : 's'} pending (${pending.join(', ')}): run ` +
            `\`distcache migrate\``,
        ),
        human.stdout,
      );
      const json = shape.shaped(shape.status, await cliJson(['status', ...flags]), 'status');
      assert.deepEqual(json.schema.pending, pending);
      // The cursor columns of 004 are missing, so the servers are not listed, and it says so.
      assert.deepEqual(json.unreadable, ['servers']);
      assert.match(human.stdout, /not shown until the pending migrations run: servers/);
    },
  );
}
