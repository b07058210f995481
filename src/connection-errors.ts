import type { Knex } from 'knex';

type KnexLogger = { warn?: (message: string) => void };

/** Per knex logger: the original warn() and how many quiet sections are open on it. */
const quieted = new WeakMap<KnexLogger, { warn: (message: string) => void; open: number }>();

/**
 * Runs `work` while knex's "Acquire connection error" warnings are held back. knex's pool logs
 * every failed connection attempt with a stack trace before the caller sees the error; during
 * migrate() and the first heartbeat of start(), distcache turns that error into one typed message
 * with its fix (errors.connectionError), so that message is the first thing printed. Every other
 * knex warning passes; nested and concurrent sections restore the original once the last ends.
 */
export async function quietPoolWarnings<T>(knex: Knex, work: () => Promise<T>): Promise<T> {
  const logger = (knex.client as { logger?: KnexLogger } | undefined)?.logger;
  if (!logger || typeof logger.warn !== 'function') return work();
  let state = quieted.get(logger);
  if (!state) {
    const warn = logger.warn;
    state = { warn, open: 0 };
    quieted.set(logger, state);
    logger.warn = (message: string) => {
      if (!String(message).startsWith('Acquire connection error')) warn.call(logger, message);
    };
  }
  state.open += 1;
  try {
    return await work();
  } finally {
    state.open -= 1;
    if (state.open === 0) {
      logger.warn = state.warn;
      quieted.delete(logger);
    }
  }
}
