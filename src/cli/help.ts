import { GLOBAL_OPTIONS } from './args.js';
import type { Command, OptionSpecs } from './command.js';
import { COMMANDS } from './commands/index.js';

function optionLines(specs: OptionSpecs): string[] {
  const entries = Object.entries(specs).map(
    ([name, spec]) => [`${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`, spec.description] as const,
  );
  const width = Math.max(0, ...entries.map(([flag]) => flag.length));
  return entries.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

export function globalHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `distcache ${version}: inspect and repair the cache instruction log that keeps your servers' in-memory caches in step`,
    '',
    'Usage: distcache <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Examples:',
    '  distcache migrate --db postgres://app@db.internal/app',
    '  distcache status                          # who is the publisher, who is behind',
    '  distcache pending --server web-2          # what web-2 has not applied yet',
    '  distcache tail --follow                   # every instruction as it commits',
    '  distcache send refresh product 42 43      # refresh two products on every server',
    '  distcache resync web-2                    # make web-2 reload everything at its next poll',
    '  distcache prune --dry-run',
    '',
    'Options for every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Exit codes: 0 success, 1 the command failed (the message says what to check), 2 a usage error.',
    "Run `distcache <command> --help` for a command's options. Full guide: docs/cli.md.",
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `Usage: distcache ${command.usage}`,
    '',
    command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.',
    ...(command.description ? ['', command.description] : []),
    ...(Object.keys(command.options).length > 0 ? ['', 'Options:', ...optionLines(command.options)] : []),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Examples:',
    ...command.examples.map((e) => `  ${e}`),
  ].join('\n');
}
