/**
 * Holds SQLite's write lock from another process: BEGIN IMMEDIATE, report 'locked', wait for
 * 'release', roll back. The SQLite form of a hung connection: every writer waits on the lock.
 */
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]!);
db.pragma('journal_mode = WAL');
db.exec('BEGIN IMMEDIATE');
process.send?.('locked');
process.on('message', (message) => {
  if (message !== 'release') return;
  db.exec('ROLLBACK');
  db.close();
  process.disconnect();
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 50).unref());
