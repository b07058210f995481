import { DEFAULTS } from '../../options.js';
import { durationOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { ago, table } from '../format.js';
import { stoppedNote } from './status.js';

type ServersArgs = { sub: 'list'; all: boolean } | { sub: 'forget'; id: string; force: boolean; staleAfter: number };

export const serversCommand: Command<ServersArgs> = {
  name: 'servers',
  summary: 'list the registered servers; `servers forget ID` removes one that is gone for good',
  usage: 'servers [list] [--all] | servers forget ID [--force]',
  description:
    "forget deletes the server's registration and cursor. It refuses a server that is still heartbeating unless --force: that " +
    'server would register again at its next heartbeat and, having lost its cursor, cold-boot.',
  examples: ['distcache servers', 'distcache servers forget web-old-7'],
  options: {
    force: { type: 'boolean', description: 'forget a server even while it heartbeats' },
    all: { type: 'boolean', description: 'also list servers that stopped cleanly (hidden by default)' },
    'stale-after': { type: 'string', value: 'DURATION', description: 'a heartbeat older than this counts as gone (default 2m)' },
  },
  positionals: { min: 0, max: 2, names: '[list | forget ID]' },
  parse(values, positionals) {
    const [sub = 'list', id] = positionals;
    if (sub === 'list') {
      if (id !== undefined) throw new UsageError('servers list takes no arguments', 'servers');
      return { sub, all: values.all === true };
    }
    if (sub === 'forget') {
      if (id === undefined)
        throw new UsageError('servers forget needs the server id, as in: distcache servers forget web-old-7', 'servers');
      return {
        sub,
        id,
        force: values.force === true,
        staleAfter: durationOption(values, 'stale-after', DEFAULTS.staleServerTimeout, 'servers'),
      };
    }
    throw new UsageError(`unknown servers subcommand '${sub}'; use \`distcache servers\` or \`distcache servers forget ID\``, 'servers');
  },
  access: (args) => (args.sub === 'forget' ? 'write' : 'read'),
  async run({ admin, out }, args) {
    if (args.sub === 'forget') {
      const result = await admin.forgetServer(args.id, { force: args.force, staleServerTimeout: args.staleAfter });
      if (out.json) return out.document(result);
      const what = [result.registration ? 'registration' : '', result.cursor ? 'cursor' : ''].filter(Boolean).join(' and ');
      return out.line(`forgot server ${result.server} (${what || 'nothing left to delete'})`);
    }
    const { publisher, servers, hiddenStopped } = await admin.servers({ all: args.all });
    if (out.json) return out.document({ cluster: admin.cluster, publisher, servers, hiddenStopped });
    if (servers.length === 0)
      return out.line(`no servers in cluster '${admin.cluster}'${hiddenStopped > 0 ? ` ${stoppedNote(hiddenStopped)}` : ''}`);
    out.line(
      table(
        ['SERVER', 'HOST', 'PID', 'VERSION', 'ROLE', 'ACTIVE', 'HEARTBEAT', 'WAKE-UP', 'REFRESHERS'],
        servers.map((s) => [
          s.identity + (s.publisher ? ' *' : ''),
          s.host ?? '-',
          s.pid === null ? '-' : String(s.pid),
          s.packageVersion ?? '-',
          s.registered ? (s.role ?? '-') : '(cursor only)',
          s.active ? 'yes' : 'no',
          ago(s.heartbeatAgeSeconds),
          s.wakeUp ?? '-',
          s.refreshers === null ? '-' : s.refreshers.join(', '),
        ]),
      ),
    );
    if (publisher) out.line('* holds the scheduling-publisher lease');
    if (hiddenStopped > 0) out.line(stoppedNote(hiddenStopped));
  },
};
