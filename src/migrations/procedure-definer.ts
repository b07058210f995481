import type { Knex } from 'knex';
import { describeError, errors } from '../errors.js';
import type { TableNames } from '../store/tables.js';

/**
 * MariaDB's equivalent of PostgreSQL's function owner (function-owner.ts). A procedure runs as its
 * DEFINER, the user who migrated (often root), so a writer holding only EXECUTE would act with all
 * of that user's rights. This re-defines migration 007's procedures with `DEFINER = '<user>'@'%'`, a
 * locked account (it can never log in) holding INSERT on the log and EXECUTE on these procedures
 * alone. `CREATE OR REPLACE` keeps the EXECUTE grants made to writers (a DROP would revoke them), and
 * the body is the one the migration created, read back with SHOW CREATE PROCEDURE under its own
 * sql_mode. MariaDB only: MySQL has no CREATE OR REPLACE PROCEDURE, and a drop there loses the grants.
 */

/** Migration 007's procedures. */
const PROCEDURES = ['write', 'refresh', 'remove', 'refresh_all', 'payload'];

/** The owner's name and its host, as `'<user>'@'%'`: the name is checked plain, so no quoting is needed. */
const account = (user: string) => `'${user}'@'%'`;

/** The first row of a mysql2 raw result. */
function rowsOf<T>(result: unknown): T[] {
  return (result as [T[]])[0];
}

/** Re-defines the procedures with `user` as their definer; returns their names. Idempotent. */
export async function defineProcedures(knex: Knex, tables: TableNames, user: string): Promise<string[]> {
  const step = async <T>(what: string, hint: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw new errors.MigrationFailedError(`distcache could not ${what}: ${describeError(err)}; ${hint}`, { cause: err });
    }
  };
  const [{ version }] = rowsOf<{ version: string }>(await knex.raw('select version() as version')) as [{ version: string }];
  if (!/mariadb/i.test(version)) {
    throw new errors.InvalidOptionError(
      `functionOwner needs MariaDB (this is MySQL ${version}): MySQL has no CREATE OR REPLACE PROCEDURE, so re-defining ` +
        'the procedures would revoke every EXECUTE grant; migrate as a user holding only what docs/security.md lists instead',
    );
  }
  const who = account(user);
  await step(`create the locked account ${who}`, 'migrate as a user with CREATE USER, or create it yourself (… ACCOUNT LOCK)', async () => {
    await knex.raw(`create user if not exists ${who} account lock`);
    // An account that existed already: it must not log in either.
    await knex.raw(`alter user ${who} account lock`);
  });
  // An owner holding more than the log (a global or database-wide grant) is what the hand-over exists to avoid.
  const grants = rowsOf<Record<string, string>>(await knex.raw(`show grants for ${who}`)).map((r) => Object.values(r)[0]!);
  const broad = grants.find((g) => (/\bON \*\.\*/i.test(g) ? !/^GRANT USAGE ON/i.test(g) : /\bON `[^`]*`\.\*/i.test(g)));
  if (broad) {
    throw new errors.InvalidOptionError(
      `functionOwner ${user} holds more than the log (${broad}): the procedures would run with all of it; ` +
        "name an account that holds nothing else (distcache creates it when missing), e.g. 'distcache_owner'",
    );
  }
  const names = PROCEDURES.map((name) => `${tables.prefix}distcache_${name}`);
  await step(`grant ${who} its privileges`, 'migrate as a user holding the GRANT OPTION on the distcache tables', async () => {
    await knex.raw(`grant insert on \`${tables.instruction}\` to ${who}`);
    // MariaDB checks that a definer may execute the procedure that runs as it (and the thin ones call distcache_write).
    for (const name of names) await knex.raw(`grant execute on procedure \`${name}\` to ${who}`);
  });
  const definers = rowsOf<{ name: string; definer: string }>(
    await knex.raw(
      'select routine_name as name, definer from information_schema.routines ' +
        `where routine_schema = database() and routine_type = 'PROCEDURE' and routine_name in (${names.map(() => '?').join(', ')})`,
      names,
    ),
  );
  const hint = `MariaDB needs the migrating user to hold SET USER (or SUPER) to name another definer`;
  await step(`re-define the procedures with DEFINER = ${who}`, hint, () =>
    // One connection: each procedure is re-created under the sql_mode it was created with.
    knex.transaction(async (trx) => {
      const [{ mode }] = rowsOf<{ mode: string }>(await trx.raw('select @@session.sql_mode as mode')) as [{ mode: string }];
      try {
        for (const { name, definer } of definers) {
          if (definer === `${user}@%`) continue;
          const [shown] = rowsOf<Record<string, string | null>>(await trx.raw(`show create procedure \`${name}\``));
          const text = shown?.['Create Procedure'];
          if (!text) throw new Error(`SHOW CREATE PROCEDURE ${name} shows no body (the migrating user must hold it)`);
          const redefined = text.replace(
            /^CREATE DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*` PROCEDURE/,
            `CREATE OR REPLACE DEFINER=${who} PROCEDURE`,
          );
          if (redefined === text) throw new Error(`SHOW CREATE PROCEDURE ${name} has an unexpected form`);
          await trx.raw('set session sql_mode = ?', [shown.sql_mode ?? mode]);
          // No bindings: knex passes the text through as it is (a `?` in the body stays one).
          await trx.raw(redefined);
        }
      } finally {
        await trx.raw('set session sql_mode = ?', [mode]);
      }
    }),
  );
  return definers.map((d) => d.name).sort();
}
