import knexFactory, { type Knex } from 'knex';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/index.js';
import { DATABASES, dropPrefixed, freshPrefix, sqliteConfig, sqliteFile, type DialectName } from '../support/databases.js';

/** One database, one fresh prefix, migrated, plus a folder for child logs; for one fault scenario. */
export interface FaultDatabase {
  dialect: DialectName;
  knex: Knex;
  prefix: string;
  /** SQLite: the file every process opens. */
  sqliteFile?: string;
  logDir: string;
  table(name: string): string;
  /** Another knex on the same database, destroyed by cleanup(). */
  connection(overrides?: Partial<Knex.Config>): Knex;
  /** Drops the tables and logs unless `keep` (evidence of a failure) or DISTCACHE_KEEP_TABLES=1. */
  cleanup(keep?: boolean): Promise<void>;
}

export async function faultDatabase(dialect: DialectName): Promise<FaultDatabase> {
  const file = dialect === 'sqlite' ? sqliteFile() : undefined;
  const config = (): Knex.Config => (file ? sqliteConfig(file) : DATABASES[dialect].config());
  const knex = knexFactory(config());
  const prefix = freshPrefix();
  await migrate(knex, { tablePrefix: prefix });
  await knex.schema.createTable(`${prefix}app_data`, (table) => {
    table.increments('id');
    table.string('note', 128);
  });
  const logDir = mkdtempSync(join(tmpdir(), 'distcache-faults-'));
  const extra: Knex[] = [];
  return {
    dialect,
    knex,
    prefix,
    sqliteFile: file,
    logDir,
    table: (name) => `${prefix}${name}`,
    connection(overrides = {}) {
      const other = knexFactory({ ...config(), ...overrides });
      extra.push(other);
      return other;
    },
    async cleanup(keep = false) {
      await Promise.all(extra.map((k) => k.destroy()));
      keep ||= process.env.DISTCACHE_KEEP_TABLES === '1';
      if (keep) console.log(`# kept tables with prefix ${prefix} and logs in ${logDir}`);
      else {
        await dropPrefixed(knex, prefix);
        rmSync(logDir, { recursive: true, force: true });
      }
      await knex.destroy();
      if (file && !keep) for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
}
