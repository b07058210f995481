import { cliOrigin } from '../origin.js';
import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { plural } from '../format.js';

export const resyncCommand: Command<{ server: string | null }> = {
  name: 'resync',
  summary: "make one server, or with --all every server, cold-boot at its next poll (no access to the servers' files needed)",
  usage: 'resync SERVER | resync --all',
  description:
    "Sets the server's cold-boot flag in the database, the same flag a prune sets: " +
    'at its next poll it reloads every cache and continues from the head. ' +
    '--all flags every server of the cluster: run it after restoring an older backup whose cursors were copied forward, ' +
    'which no check can detect (see docs/operations.md).',
  examples: ['distcache resync web-2', 'distcache resync --all --cluster production'],
  options: {
    all: { type: 'boolean', description: 'flag every server of the cluster' },
  },
  positionals: { min: 0, max: 1, names: 'SERVER' },
  parse: (values, positionals) => {
    const all = values.all === true;
    if (all === (positionals.length === 1)) {
      throw new UsageError(
        all ? 'give either SERVER or --all, not both' : 'give a SERVER, or --all for every server of the cluster',
        'resync',
      );
    }
    return { server: all ? null : positionals[0]! };
  },
  access: () => 'write',
  async run({ admin, out }, { server }) {
    if (server === null) {
      const result = await admin.resyncAll({ originated: cliOrigin() });
      if (out.json) return out.document(result);
      const names = result.servers.length > 0 ? `: ${result.servers.join(', ')}` : '';
      out.line(
        `${plural(result.flagged, 'server')} cold-boot at their next poll${names}; servers without a cursor cold-boot at their ` +
          `first poll anyway`,
      );
      return;
    }
    const result = await admin.resync(server, { originated: cliOrigin() });
    if (out.json) return out.document(result);
    out.line(
      `server ${result.server} cold-boots at its next ` +
        `poll${result.alreadyRequested ? ' (it was already flagged)' : ''}` +
        `${result.active ? '' : '; it is not active now, so that happens when it next starts'}`,
    );
  },
};
