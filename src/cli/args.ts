import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../suggest.js';
import { parseDuration } from '../duration.js';
import type { OptionSpecs, OptionValues } from './command.js';
import { UsageError } from './failure.js';

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  db: {
    type: 'string',
    value: 'URL',
    description:
      'connection string (postgres://, mysql://, sqlite://path); else DISTCACHE_DATABASE_URL, DATABASE_URL, ./knexfile.js, ' +
      './distcache.sqlite',
  },
  prefix: {
    type: 'string',
    value: 'PREFIX',
    description: "the servers' tablePrefix; else DISTCACHE_TABLE_PREFIX, the knexfile's distcache.tablePrefix, ''",
  },
  cluster: {
    type: 'string',
    value: 'NAME',
    description: "the servers' cluster; else DISTCACHE_CLUSTER, the knexfile's distcache.cluster, 'default'",
  },
  json: { type: 'boolean', description: 'print one JSON document (shapes in docs/cli.md)' },
  timeout: { type: 'string', value: 'DURATION', description: "bound on connecting and on every query, e.g. '5s' (default 10s)" },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

function parseConfig(specs: OptionSpecs): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  return options;
}

/** Splits the command name (and a `servers` subcommand stays a positional) from the rest. */
export function splitCommand(args: readonly string[]): { name: string | undefined; rest: string[] } {
  const { tokens } = parseArgs({
    args: [...args],
    options: parseConfig(GLOBAL_OPTIONS),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (!first || first.kind !== 'positional') return { name: undefined, rest: [...args] };
  const rest = [...args];
  rest.splice(first.index, 1);
  return { name: first.value, rest };
}

/**
 * Parses a command's arguments. Unknown options are refused with the closest known one; a
 * negative number is taken for an option, so the message says to put it after `--`.
 */
export function parseCommandArgs(
  command: string,
  specs: OptionSpecs,
  args: readonly string[],
): { values: OptionValues; positionals: string[] } {
  const all = { ...GLOBAL_OPTIONS, ...specs };
  const config = parseConfig(all);
  const { tokens } = parseArgs({ args: [...args], options: config, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name in all) continue;
    if (/^-\d/.test(token.rawName) || /^\d+$/.test(token.name)) {
      throw new UsageError(
        `${token.rawName} looks like a negative number, which is read as an option; put ids after --, as in: distcache send ` +
          `remove product -- -5`,
        command,
      );
    }
    const names = Object.keys(all).map((n) => `--${n}`);
    const guess = closest(token.rawName.startsWith('--') ? token.rawName : `--${token.name}`, names);
    throw new UsageError(`unknown option ${token.rawName} for '${command}'${guess ? `; did you mean ${guess}?` : ''}`, command);
  }
  try {
    const parsed = parseArgs({ args: [...args], options: config, strict: true, allowPositionals: true });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError(String((err as Error).message).replace(/\. To specify a positional argument.*$/s, ''), command);
  }
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function integerOption(values: OptionValues, name: string, fallback: number, min: number, command: string): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(
      `--${name} ${raw} is not valid; give a whole number of at least ${min}, such as --${name} ${Math.max(min, fallback)}`,
      command,
    );
  }
  return Number(raw);
}

/** A share between 0 (excluded) and 1, as `--duty-cycle 0.5`. */
export function fractionOption(values: OptionValues, name: string, fallback: number, command: string): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const parsed = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(parsed) || parsed <= 0 || parsed > 1) {
    throw new UsageError(`--${name} ${raw} is not valid; give a number above 0 and at most 1, such as --${name} ${fallback}`, command);
  }
  return parsed;
}

export function durationOption(values: OptionValues, name: string, fallback: number, command: string): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const parsed = parseDuration(/^\d+$/.test(raw.trim()) ? Number(raw) : raw);
  if (parsed === undefined)
    throw new UsageError(`--${name} ${raw} is not a duration; give milliseconds or a value such as 500ms, 30s, 2m, 2d`, command);
  return parsed;
}
