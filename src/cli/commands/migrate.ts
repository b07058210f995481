import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { plural } from '../format.js';

export const migrateCommand: Command<{ dryRun: boolean; functionOwner: string | undefined }> = {
  name: 'migrate',
  summary: 'apply the migrations; --dry-run prints their SQL instead',
  usage: 'migrate [--dry-run] [--function-owner ROLE]',
  description:
    'Idempotent and safe from several processes at once. --dry-run runs the pending migrations inside a transaction that is ' +
    'always rolled back and prints every statement; it needs transactional DDL, so it works on SQLite and PostgreSQL, not MySQL. ' +
    '--function-owner hands the SECURITY DEFINER functions (PostgreSQL) to a NOLOGIN role, or makes the procedures (MariaDB) ' +
    "DEFINER = a locked account 'NAME'@'%', holding only INSERT on the log; created when missing (see docs/security.md); " +
    'pass it on every run.',
  examples: [
    'distcache migrate --db postgres://app@db/app',
    'distcache migrate --dry-run --prefix app_',
    'distcache migrate --function-owner distcache_definer',
  ],
  options: {
    'dry-run': { type: 'boolean', description: 'print the SQL the pending migrations would run; change nothing' },
    'function-owner': {
      type: 'string',
      value: 'ROLE',
      description: 'PostgreSQL: the NOLOGIN role to own the SQL functions; MariaDB: the locked account to define the procedures',
    },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => {
    const functionOwner = typeof values['function-owner'] === 'string' ? values['function-owner'] : undefined;
    // The dry run prints the migrations' SQL only; a hand-over it did not show would be a surprise.
    if (values['dry-run'] === true && functionOwner !== undefined)
      throw new UsageError('--function-owner cannot be combined with --dry-run', 'migrate');
    return { dryRun: values['dry-run'] === true, functionOwner };
  },
  // The dry run executes DDL (then rolls it back), so it cannot use a read-only session.
  access: () => 'write',
  async run({ admin, out, settings }, { dryRun, functionOwner }) {
    if (dryRun) {
      const plan = await admin.migrationPlan();
      if (out.json) return out.document({ dryRun: true, ...plan });
      if (plan.pending.length === 0) return out.line(`-- nothing to do: every migration is applied (prefix '${settings.tablePrefix}')`);
      out.line(
        `-- distcache migrate --dry-run: ${plural(plan.pending.length, 'pending migration')} on ${admin.dialect}, prefix ` +
          `'${settings.tablePrefix}'`,
      );
      out.line('-- captured inside a transaction that was rolled back: nothing was changed');
      let current = '';
      for (const s of plan.statements) {
        if (s.migration !== current) {
          current = s.migration;
          out.line(`\n-- ${current}`);
        }
        out.line(`${s.sql.replace(/;?\s*$/, '')};`);
        if (s.bindings.length > 0) out.line(`-- bindings: ${JSON.stringify(s.bindings)}`);
      }
      out.line(
        `\n-- then knex records each migration in ${settings.tablePrefix}distcache_migrations (creating it and its _lock table ` +
          `when missing)`,
      );
      return;
    }
    const { applied, ownedFunctions } = await admin.migrate({ functionOwner });
    if (out.json) return out.document({ dryRun: false, applied, ...(ownedFunctions ? { functionOwner, ownedFunctions } : {}) });
    out.line(applied.length === 0 ? 'already up to date: every migration is applied' : `applied ${applied.join(', ')}`);
    if (ownedFunctions) out.line(`owned by ${functionOwner}: ${ownedFunctions.join(', ')}`);
  },
};
