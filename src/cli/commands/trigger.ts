import { writeFile } from 'node:fs/promises';
import { triggerMigrationFile, type TriggerRequest } from '../../admin/trigger.js';
import type { Command } from '../command.js';
import { UsageError } from '../failure.js';

interface TriggerArgs {
  request: TriggerRequest;
  dryRun: boolean;
  migration: string | undefined;
}

export const triggerCommand: Command<TriggerArgs> = {
  name: 'trigger',
  summary: "install a trigger that sends an instruction whenever a table's rows change",
  usage: 'trigger TABLE --refresher ID --key COLUMN [--row-limit N] [--dry-run | --migration FILE]',
  description:
    'Inserted and updated rows refresh their keys (an updated key refreshes its old and new value), deleted rows remove ' +
    'theirs, in the same transaction as the change: a rollback sends nothing. PostgreSQL: one statement trigger per event ' +
    'with transition tables, one instruction row per statement, and a refresh-all when a statement changes more than ' +
    '--row-limit rows. MySQL/MariaDB and SQLite: row triggers, one instruction row per changed row. Needs migration 005 ' +
    '(distcache migrate).',
  examples: [
    'distcache trigger products --refresher product --key id --dry-run',
    'distcache trigger products --refresher product --key id',
    'distcache trigger products --refresher product --key id --migration migrations/20260101_products_cache.ts',
  ],
  options: {
    refresher: { type: 'string', value: 'ID', description: 'the refresher every server calls with the changed keys' },
    key: { type: 'string', value: 'COLUMN', description: "the column holding the refresher's ids (usually the primary key)" },
    'row-limit': { type: 'string', value: 'N', description: 'PostgreSQL: past N rows in one statement, send a refresh-all (default 1000)' },
    'dry-run': { type: 'boolean', description: 'print the SQL; change nothing' },
    migration: {
      type: 'string',
      value: 'FILE',
      description: 'write a knex migration file that installs it (.ts/.mjs: ESM, .js/.cjs: CommonJS); change nothing',
    },
  },
  positionals: { min: 1, max: 1, names: 'TABLE' },
  parse(values, positionals) {
    const refresher = values.refresher as string | undefined;
    const keyColumn = values.key as string | undefined;
    if (!refresher) {
      throw new UsageError('--refresher is required, as in: distcache trigger products --refresher product --key id', 'trigger');
    }
    if (!keyColumn) throw new UsageError('--key is required: the column whose values are the ids, as in --key id', 'trigger');
    const limitText = values['row-limit'] as string | undefined;
    const rowLimit = limitText === undefined ? undefined : Number(limitText);
    if (rowLimit !== undefined && (!Number.isSafeInteger(rowLimit) || rowLimit < 1)) {
      throw new UsageError(`--row-limit ${limitText} must be a whole number of at least 1`, 'trigger');
    }
    const migration = values.migration as string | undefined;
    if (migration !== undefined && values['dry-run'] === true) {
      throw new UsageError('--dry-run and --migration go alone: --migration changes nothing either', 'trigger');
    }
    const request: TriggerRequest = { table: positionals[0]!, refresher, keyColumn, ...(rowLimit === undefined ? {} : { rowLimit }) };
    return { request, dryRun: values['dry-run'] === true, migration };
  },
  access: (args) => (args.dryRun || args.migration !== undefined ? 'read' : 'write'),
  async run({ admin, out }, { request, dryRun, migration }) {
    if (dryRun || migration !== undefined) {
      const plan = admin.triggerPlan(request);
      if (migration !== undefined) {
        await writeFile(migration, triggerMigrationFile(plan, migration), { flag: 'wx' });
        if (out.json) return out.document({ file: migration, ...plan });
        out.line(`wrote ${migration}: ${plan.up.length} statements (${plan.dialect}); run it with your knex migrations`);
        return;
      }
      if (out.json) return out.document(plan);
      for (const statement of plan.up) out.line(`${statement};\n`);
      return;
    }
    const plan = await admin.installTrigger(request);
    if (out.json) return out.document(plan);
    const { table, refresher, keyColumn } = request;
    out.line(`installed the distcache trigger on ${table}: changes send ${refresher} instructions keyed by ${keyColumn} (${plan.dialect})`);
  },
};
