import type { Knex } from 'knex';
import { describeError, errors } from '../errors.js';
import type { TableNames } from '../store/tables.js';
import type { Dialect } from '../dialects/types.js';

/** A PostgreSQL role name we quote without escaping: letters, digits, `_`, at most 63. */
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Migration 007's SECURITY DEFINER functions (distcache_wake runs as its caller and stays as it is). */
const DEFINER_FUNCTIONS = ['write', 'refresh', 'remove', 'refresh_all', 'payload'];

/** A MariaDB user name we quote without escaping: letters, digits, `_`, at most 32 (MySQL's limit too). */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

/** Refuses a `functionOwner` that cannot be honoured, before any migration runs. */
export function checkFunctionOwner(role: unknown, dialect: Dialect): string {
  if (dialect.functionOwner === null) {
    throw new errors.InvalidOptionError(`functionOwner is for PostgreSQL and MariaDB; ${dialect.name} has no users (see docs/security.md)`);
  }
  if (dialect.functionOwner === 'definer' && (typeof role !== 'string' || !USER_NAME.test(role))) {
    throw new errors.InvalidOptionError(
      `functionOwner ${JSON.stringify(role)} must be a plain user name (letters, digits, _; at most 32), e.g. 'distcache_owner'`,
    );
  }
  if (typeof role !== 'string' || !ROLE_NAME.test(role)) {
    throw new errors.InvalidOptionError(
      `functionOwner ${JSON.stringify(role)} must be a plain role name (letters, digits, _; at most 63), e.g. 'distcache_definer'`,
    );
  }
  return role;
}

/**
 * Hands the SECURITY DEFINER functions to `role`, a NOLOGIN role holding only what they need
 * (INSERT and SELECT (id) on the log, its sequence, USAGE on the schema): a writer's call then runs
 * with those rights, never the migrating user's. Idempotent; one transaction.
 *
 * PostgreSQL's rules shape the steps: the migrating user must be a member of the new owner (it
 * grants itself membership, which needs CREATEROLE), and the owner must hold CREATE on the schema
 * while ownership moves (granted for the change and revoked after, unless it held it before). As a
 * member, the migrating user can still re-create the functions in later migrations.
 */
export async function ownFunctions(knex: Knex, tables: TableNames, role: string): Promise<string[]> {
  const q = `"${role}"`;
  const step = async <T>(what: string, hint: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw new errors.MigrationFailedError(`distcache could not ${what}: ${describeError(err)}; ${hint}`, { cause: err });
    }
  };
  return knex.transaction(async (trx) => {
    const rows = async <T>(sql: string, bindings: readonly unknown[] = []) =>
      ((await trx.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows;
    if ((await rows('select 1 from pg_catalog.pg_roles where rolname = ?', [role])).length === 0) {
      await step(
        `create the role ${role}`,
        `create it yourself (create role ${q} nologin; grant ${q} to <the migrating user>), or migrate as a user with CREATEROLE`,
        () => trx.raw(`create role ${q} nologin`),
      );
    }
    const [facts] = await rows<{
      login: boolean;
      superuser: boolean;
      bypass: boolean;
      member: boolean;
      schema: string;
      owner: string;
      creates: boolean;
      sequence: string | null;
    }>(
      `select r.rolcanlogin as login, r.rolsuper as superuser, r.rolbypassrls as bypass,
         pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') as member,
         pg_catalog.quote_ident(current_schema()) as schema,
         pg_catalog.pg_get_userbyid(c.relowner) as owner,
         pg_catalog.has_schema_privilege(r.oid, current_schema(), 'CREATE') as creates,
         pg_catalog.pg_get_serial_sequence(pg_catalog.quote_ident(current_schema()) || '.' || pg_catalog.quote_ident(?), 'id') as sequence
       from pg_catalog.pg_roles r, pg_catalog.pg_class c
       where r.rolname = ?
         and c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(current_schema()) || '.' || pg_catalog.quote_ident(?))`,
      [tables.instruction, role, tables.instruction],
    );
    if (!facts) throw new errors.NotMigratedError(`${tables.instruction} is missing in the current schema: run the migrations first`);
    // An owner that can log in, or holds more than the log, is what the hand-over exists to avoid.
    const problem = facts.superuser
      ? 'is a superuser'
      : facts.bypass
        ? 'bypasses row-level security'
        : facts.login
          ? 'can log in'
          : facts.owner === role
            ? `owns ${tables.instruction} (so every privilege on it)`
            : null;
    if (problem) {
      throw new errors.InvalidOptionError(
        `functionOwner ${role} ${problem}: the SECURITY DEFINER functions would run with all its rights; ` +
          `name a NOLOGIN role that holds nothing else (distcache creates it when missing), e.g. 'distcache_definer'`,
      );
    }
    if (!facts.member) {
      await step(
        `make the migrating user a member of ${role}`,
        'PostgreSQL lets only a member hand a function to a role: ' +
          `grant ${q} to <the migrating user> (as a user with CREATEROLE or a superuser)`,
        () => trx.raw(`grant ${q} to current_user`),
      );
    }
    const schema = facts.schema;
    const log = `${schema}."${tables.instruction}"`;
    await step('grant the function owner its privileges', 'run migrate as the owner of the distcache tables', async () => {
      await trx.raw(`grant usage on schema ${schema} to ${q}`);
      // select (id): the functions return the new row's id (INSERT ... RETURNING reads it).
      await trx.raw(`grant insert, select (id) on ${log} to ${q}`);
      if (facts.sequence) await trx.raw(`grant usage on sequence ${facts.sequence} to ${q}`);
    });
    const names = DEFINER_FUNCTIONS.map((name) => `${tables.prefix}distcache_${name}`);
    const functions = (
      await rows<{ signature: string }>(
        `select p.oid::pg_catalog.regprocedure::text as signature from pg_catalog.pg_proc p
         where p.pronamespace = pg_catalog.to_regnamespace(current_schema()) and p.proname = any(?) and p.prosecdef
         order by p.proname`,
        [names],
      )
    ).map((r) => r.signature);
    await step(
      `hand the functions to ${role}`,
      `PostgreSQL needs ${role} to hold CREATE on schema ${schema} while ownership moves: ` +
        `have the schema's owner run "grant create on schema ${schema} to ${q}", migrate again, then revoke it`,
      async () => {
        if (!facts.creates) await trx.raw(`grant create on schema ${schema} to ${q}`);
        for (const signature of functions) await trx.raw(`alter function ${signature} owner to ${q}`);
        if (!facts.creates) await trx.raw(`revoke create on schema ${schema} from ${q}`);
      },
    );
    return functions;
  });
}
