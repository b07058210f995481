export type { WakeSource, WakeSourceConfig } from '../wake/wake-source.js';
export { notifyChannel } from './postgres/channel.js';
export { PostgresWakeSource, openListenerCount, type PostgresWakeOptions } from './postgres/wake-source.js';
export { SqliteWakeSource, createSqliteWakeSource, openWatcherCount, sqliteFileOf } from './sqlite/wake-source.js';
