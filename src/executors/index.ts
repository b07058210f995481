/**
 * Executors: distcache writes through another library's transaction, `{ trx: executor }`. Each
 * adapter uses structural types only; importing this module loads none of those libraries.
 */
export { pgExecutor } from './pg.js';
export { postgresJsExecutor } from './postgres-js.js';
export { mysql2Executor } from './mysql2.js';
export { betterSqliteExecutor } from './better-sqlite3.js';
export { kyselyExecutor } from './kysely.js';
export { drizzleExecutor, drizzleSqliteExecutor } from './drizzle.js';
export { numbered, rowsOf, isExecutor } from '../store/executor.js';
export type { Executor, SyncExecutor, ExecutorRow, ExecutorDialect } from '../store/executor.js';
export { sequelizeExecutor } from './sequelize.js';
export { typeormExecutor } from './typeorm.js';
export { mikroOrmExecutor } from './mikro-orm.js';
