/**
 * The database clock on MySQL/MariaDB: CURRENT_TIMESTAMP, like the timestamp columns' default, so
 * a cutoff is in the same (session) zone as utc_stamp. Milliseconds, as the columns store.
 */
export const MYSQL_NOW = 'CURRENT_TIMESTAMP(3)';

/** "Now minus an interval". Params: `?` the interval in microseconds. */
export const MYSQL_CUTOFF = 'CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND';
