export type { WakeSource, WakeSourceConfig } from './wake-source.js';
export { notifyChannel } from './channel.js';
export { PostgresWakeSource, openListenerCount, type PostgresWakeOptions } from './postgres/source.js';
export { SqliteWakeSource, createSqliteWakeSource, openWatcherCount, sqliteFileOf } from './sqlite/source.js';
