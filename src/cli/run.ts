import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import { closest } from '../suggest.js';
import { packageVersion } from '../cluster/version.js';
import { sqliteConfig } from '../connection.js';
import { DEFAULTS } from '../options.js';
import { settleWithin } from '../util/async.js';
import { durationOption, parseCommandArgs, splitCommand, stringOption } from './args.js';
import { COMMANDS } from './commands/index.js';
import { connectTimeoutConfig, readOnlyConfig, resolveSettings, urlSecrets, type Settings } from './connection.js';
import { ConnectionError, describeFailure, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './failure.js';
import { commandHelp, globalHelp } from './help.js';
import { Output, type Streams } from './output.js';

export interface RunEnvironment extends Streams {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * Takes over SIGINT/SIGTERM and returns a signal aborted by them, for a command that runs until
   * stopped (`tail --follow`) and ends cleanly. Other commands leave the signals' default alone:
   * Ctrl-C stops them at once, and the database rolls back any transaction cut short.
   */
  catchInterrupts(): AbortSignal;
}

/**
 * Runs one CLI invocation and returns its exit code; never calls process.exit, so the caller
 * (main.ts) sets process.exitCode and the process ends once the database connections close.
 */
export async function run(argv: readonly string[], io: RunEnvironment): Promise<number> {
  // Known before anything is parsed, so even a usage error cannot echo a password.
  const early = [io.env.DISTCACHE_DATABASE_URL, io.env.DATABASE_URL, ...argv].flatMap((a) => (a ? urlSecrets(a) : []));
  const wantsJson = argv.includes('--json');
  let out = new Output(io, wantsJson, early);
  let settings: Settings | undefined;
  try {
    const { name, rest } = splitCommand(argv);
    if (name === undefined || name === 'help') {
      if (rest.includes('--version')) {
        out.line(packageVersion());
        return EXIT_OK;
      }
      const topic = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
      const command = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
      if (topic && !command) throw unknownCommand(topic);
      if (name === undefined && !rest.includes('--help') && !rest.includes('-h')) {
        out.error(globalHelp(packageVersion()));
        return EXIT_USAGE;
      }
      out.line(command ? commandHelp(command) : globalHelp(packageVersion()));
      return EXIT_OK;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw unknownCommand(name);
    const { values, positionals } = parseCommandArgs(command.name, command.options, rest);
    if (values.help) {
      out.line(commandHelp(command));
      return EXIT_OK;
    }
    const { min, max, names } = command.positionals;
    if (positionals.length < min || positionals.length > max) {
      const expected = max === 0 ? 'no arguments' : names;
      throw new UsageError(
        `'${command.name}' ` +
          `takes ${expected}${positionals.length > max ? `; unexpected: ${positionals.slice(max).join(' ')}` : ''}; usage: ` +
          `distcache ${command.usage}`,
        command.name,
      );
    }
    const timeout = durationOption(values, 'timeout', DEFAULTS.queryTimeout, command.name);
    // Every usage error surfaces here, before anything connects.
    const args = command.parse(values, positionals);
    settings = await resolveSettings(
      { db: stringOption(values, 'db'), prefix: stringOption(values, 'prefix'), cluster: stringOption(values, 'cluster') },
      io.env,
      io.cwd,
    );
    out = new Output(io, values.json === true, [...early, ...settings.connection.secrets]);
    const access = command.access(args);
    let config = settings.connection.config;
    const file = settings.connection.sqliteFile;
    if (file !== undefined && file !== ':memory:' && !existsSync(file)) {
      if (command.name === 'migrate' && values['dry-run']) {
        // Planning against an empty database of the same dialect gives exactly the SQL a fresh file would get.
        config = sqliteConfig(':memory:');
      } else if (command.name !== 'migrate') {
        out.error(
          `distcache: there is no SQLite database at ${file} (from ${settings.connection.source}).\nCheck: the path, or pass ` +
            `--db (or set DISTCACHE_DATABASE_URL); \`distcache migrate\` creates a new one.`,
        );
        return EXIT_FAILED;
      }
    }
    if (access === 'read') config = readOnlyConfig(config, timeout);
    // Loaded only now, so help and usage errors answer at once.
    const [{ default: knexFactory }, { Admin }] = await Promise.all([import('knex'), import('../admin/admin.js')]);
    const knex = knexFactory({ ...connectTimeoutConfig(config, timeout), acquireConnectionTimeout: timeout, log: QUIET_KNEX });
    try {
      // One round trip first, so "cannot connect" is told apart from everything that can go wrong later.
      const started = Date.now();
      await knex.raw('select 1').catch((err: unknown) => {
        throw new ConnectionError({ cause: err }, Date.now() - started >= timeout * 0.9 ? timeout : undefined);
      });
      const admin = new Admin({ knex, tablePrefix: settings.tablePrefix, cluster: settings.cluster, queryTimeout: timeout });
      await command.run({ admin, out, settings, interrupts: () => io.catchInterrupts() }, args);
    } finally {
      await destroy(knex, timeout);
    }
    return EXIT_OK;
  } catch (err) {
    out.clearProgress();
    const { exitCode, message } = describeFailure(err, settings?.connection);
    out.error(message);
    return exitCode;
  }
}

/** knex logs pool errors to the console itself; the CLI reports each failure once, its own way. */
const QUIET_KNEX = { warn() {}, error() {}, debug() {}, deprecate() {} };

function unknownCommand(name: string): UsageError {
  const guess = closest(
    name,
    COMMANDS.map((c) => c.name),
  );
  return new UsageError(
    `unknown command '${name}'.${guess ? ` Did you mean '${guess}'?` : ''} Commands: ${COMMANDS.map((c) => c.name).join(', ')}`,
  );
}

/**
 * Closing the pool can itself fail on a connection that never opened; that must not hide the real
 * outcome. Nor may it hang: it waits at most `timeoutMs` (connections being opened end by then,
 * see connectTimeoutConfig).
 */
async function destroy(knex: Knex, timeoutMs: number): Promise<void> {
  await settleWithin(knex.destroy(), timeoutMs);
}
