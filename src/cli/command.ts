import type { Admin } from '../admin/admin.js';
import type { Settings } from './connection.js';
import type { Output } from './output.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The placeholder in help: `--limit N`. */
  value?: string;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What a command touches: read commands get a connection that refuses writes. */
export type Access = 'read' | 'write';

export interface CommandContext {
  admin: Admin;
  out: Output;
  settings: Settings;
  /** For a command that runs until stopped: a signal aborted by SIGINT/SIGTERM (see RunEnvironment). */
  interrupts(): AbortSignal;
}

/**
 * One CLI command: its help, its options, `parse` (every usage error, before any connection is
 * opened) and a thin `run` over the Admin API.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds commands of every argument type
export interface Command<A = any> {
  name: string;
  summary: string;
  /** After `distcache `, e.g. `pending [--server ID] [--limit N]`. */
  usage: string;
  /** Longer help, printed under the usage. */
  description?: string;
  examples: string[];
  options: OptionSpecs;
  /** Names of the positional arguments, for messages; `max` of Infinity takes any number. */
  positionals: { min: number; max: number; names: string };
  /** Checks and converts the arguments; throws UsageError. Runs before anything connects. */
  parse(values: OptionValues, positionals: string[]): A;
  access(args: A): Access;
  run(ctx: CommandContext, args: A): Promise<void>;
}
