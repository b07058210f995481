import { escapeControl } from './util/redact.js';

/**
 * A pino-compatible logger: pass a pino instance (or anything with these four methods).
 * Methods are called as `logger.warn({ ...context }, 'message')`.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The default: warnings and errors to stderr, nothing else, so a library stays quiet. */
export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn(obj, msg) {
    console.warn(`[distcache] ${escapeControl(msg ?? '')}`, obj);
  },
  error(obj, msg) {
    console.error(`[distcache] ${escapeControl(msg ?? '')}`, obj);
  },
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
