import type { Command } from '../command.js';

export const resyncCommand: Command<{ server: string }> = {
  name: 'resync',
  summary: "make one server cold-boot at its next poll (no access to that server's files needed)",
  usage: 'resync SERVER',
  description: "Sets the server's cold-boot flag in the database, the same flag a prune sets: at its next poll it reloads every cache and continues from the head.",
  examples: ['distcache resync web-2'],
  options: {},
  positionals: { min: 1, max: 1, names: 'SERVER' },
  parse: (_values, positionals) => ({ server: positionals[0]! }),
  access: () => 'write',
  async run({ admin, out }, { server }) {
    const result = await admin.resync(server);
    if (out.json) return out.document(result);
    out.line(
      `server ${result.server} cold-boots at its next poll${result.alreadyRequested ? ' (it was already flagged)' : ''}${result.active ? '' : '; it is not active now, so that happens when it next starts'}`,
    );
  },
};
