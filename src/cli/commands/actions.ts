import { integerOption } from '../args.js';
import type { Command } from '../command.js';
import { plural, table, time } from '../format.js';

export const actionsCommand: Command<{ limit: number }> = {
  name: 'actions',
  summary: 'operator actions (resync, prune) from the CLI and the dashboard, with who ran them',
  usage: 'actions [--limit N]',
  description:
    'Read from the cache_action table (migration 010): every resync, resync --all and prune run through the CLI, the dashboard ' +
    'or the Admin API, by the database clock, newest first. The newest 1,000 per cluster are kept.',
  examples: ['distcache actions', 'distcache actions --limit 5 --json'],
  options: {
    limit: { type: 'string', value: 'N', description: 'the newest N (default 20, at most 1000)' },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => ({ limit: integerOption(values, 'limit', 20, 1, 'actions') }),
  access: () => 'read',
  async run({ admin, out }, { limit }) {
    const actions = await admin.actions({ limit });
    if (out.json) return out.document({ cluster: admin.cluster, actions });
    if (actions.length === 0) return out.line(`no actions recorded in cluster '${admin.cluster}'`);
    out.line(
      table(
        ['ID', 'TIME (UTC)', 'ACTION', 'SERVER', 'BY'],
        actions.map((a) => [String(a.id), time(a.at), a.action, a.server ?? '-', a.originated]),
      ),
    );
    out.line(`${plural(actions.length, 'action')} shown, newest first`);
  },
};
