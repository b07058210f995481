import { availability, selectedDialects, type DialectName } from '../support/databases.js';

/**
 * The dialects a fault test runs on, each with its skip reason, all resolved before any test is
 * registered: a reachability check left pending while a CPU-heavy SQLite test runs would time out
 * and skip PostgreSQL for no reason. MariaDB runs where `cheap`, or with DISTCACHE_FAULTS_MYSQL=1.
 */
export async function faultDialects(
  options: { mysql?: boolean; only?: DialectName[] } = {},
): Promise<Array<{ dialect: DialectName; skip: string | false }>> {
  const wanted = selectedDialects().filter(
    (d) =>
      (options.only ? options.only.includes(d) : true) && (d !== 'mysql' || options.mysql || process.env.DISTCACHE_FAULTS_MYSQL === '1'),
  );
  const out: Array<{ dialect: DialectName; skip: string | false }> = [];
  for (const dialect of wanted) out.push({ dialect, skip: await availability(dialect) });
  return out;
}
