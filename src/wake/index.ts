export type { WakeSource, WakeSourceConfig } from './wake-source.js';
export { notifyChannel } from '../dialects/postgres/channel.js';
export { PostgresWakeSource, openListenerCount, type PostgresWakeOptions } from '../dialects/postgres/wake-source.js';
export { SqliteWakeSource, createSqliteWakeSource, openWatcherCount, sqliteFileOf } from '../dialects/sqlite/wake-source.js';
