/**
 * What each database reports about a captured statement's plan, run for real and rolled back:
 * - PostgreSQL: EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), as a custom plan (the values bound, as
 *   every statement gets for its first five runs) and as a generic plan (what a prepared statement
 *   may switch to after that, planned without the values); the cost is the buffers touched.
 * - MariaDB: ANALYZE FORMAT=JSON; the cost is the rows examined (r_loops × r_rows per table).
 * - SQLite: EXPLAIN QUERY PLAN, which has no counts; only a SCAN of the log is looked for.
 * Each runs on one pooled connection inside a transaction that is rolled back, so explaining a
 * write or a prune changes nothing.
 */
import type { Knex } from 'knex';
import pg from 'pg';
import type { DialectName } from '../support/databases.js';
import type { CapturedStatement } from './capture.js';

export interface PlanReport {
  /** How the plan was made: 'custom', 'generic' (PostgreSQL), or the dialect's name. */
  variant: string;
  /** What the database names as a full scan of the log (Seq Scan, access_type ALL/index, SCAN). */
  logScans: string[];
  /** Buffers touched (PostgreSQL), rows examined (MariaDB); null where the database gives no count (SQLite). */
  cost: number | null;
  /** PostgreSQL compiled the statement with JIT: its estimate was large enough to think so. */
  jit: boolean;
  /** The plan as the database gave it, for the failure message. */
  text: string;
}

interface PoolClient<C> {
  acquireConnection(): Promise<C>;
  releaseConnection(connection: C): Promise<void>;
}

async function onConnection<C, R>(knex: Knex, work: (connection: C) => Promise<R>): Promise<R> {
  const client = knex.client as unknown as PoolClient<C>;
  const connection = await client.acquireConnection();
  try {
    return await work(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

/** Every plan the database may run `statement` with. `log` is the instruction table's name. */
export function explain(knex: Knex, dialect: DialectName, log: string, statement: CapturedStatement): Promise<PlanReport[]> {
  if (dialect === 'postgres') return explainPostgres(knex, log, statement);
  if (dialect === 'mysql') return explainMysql(knex, log, statement).then((r) => [r]);
  return explainSqlite(knex, log, statement).then((r) => [r]);
}

interface PgClient {
  query(config: { text: string; values?: unknown[] }): Promise<{ rows: Array<Record<string, unknown>> }>;
}

interface PgNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Parent Relationship'?: string;
  'Subplan Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  depth?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PgNode[];
}

async function explainPostgres(knex: Knex, log: string, statement: CapturedStatement): Promise<PlanReport[]> {
  return onConnection(knex, async (connection: PgClient) => {
    const reports: PlanReport[] = [];
    for (const variant of ['custom', 'generic'] as const) {
      await connection.query({ text: 'begin' });
      try {
        await connection.query({ text: `set local plan_cache_mode = force_${variant}_plan` });
        await connection.query({ text: `prepare distcache_plan_gate as ${statement.sql}` });
        // EXECUTE takes no bound parameters: the values go in as literals, as pg would send them.
        const args = statement.bindings.map(literal).join(', ');
        const { rows } = await connection.query({
          text: `explain (analyze, buffers, format json) execute distcache_plan_gate${args ? `(${args})` : ''}`,
        });
        const [doc] = rows[0]!['QUERY PLAN'] as Array<{ Plan: PgNode; JIT?: unknown }>;
        const nodes = flatten(doc!.Plan);
        reports.push({
          variant,
          logScans: nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === log).map(() => `Seq Scan on ${log}`),
          cost: (doc!.Plan['Shared Hit Blocks'] ?? 0) + (doc!.Plan['Shared Read Blocks'] ?? 0),
          jit: doc!.JIT !== undefined,
          text: nodes.map(describeNode).join('\n'),
        });
      } finally {
        await connection.query({ text: 'rollback' });
        await connection.query({ text: 'deallocate distcache_plan_gate' }).catch(() => undefined);
      }
    }
    return reports;
  });
}

/** A value as a PostgreSQL literal, converted as node-postgres converts a bound value. */
function literal(value: unknown): string {
  const prepared = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils.prepareValue(value);
  if (prepared === null || prepared === undefined) return 'null';
  const text = Buffer.isBuffer(prepared) ? `\\x${prepared.toString('hex')}` : String(prepared);
  return pg.escapeLiteral(text);
}

function flatten(node: PgNode, depth = 0): PgNode[] {
  return [{ ...node, depth }, ...(node.Plans ?? []).flatMap((child) => flatten(child, depth + 1))];
}

/** One line per plan node, as EXPLAIN's text format would put it, with what it touched. */
function describeNode(n: PgNode): string {
  const on = n['Relation Name'] ? ` on ${n['Relation Name']}` : '';
  const using = n['Index Name'] ? ` using ${n['Index Name']}` : '';
  const sub = n['Subplan Name'] ? ` (${n['Subplan Name']})` : '';
  const buffers = (n['Shared Hit Blocks'] ?? 0) + (n['Shared Read Blocks'] ?? 0);
  const counts = `rows=${n['Actual Rows'] ?? '?'} loops=${n['Actual Loops'] ?? '?'} buffers=${buffers}`;
  return `${'  '.repeat(n.depth ?? 0)}${n['Node Type']}${on}${using}${sub} ${counts}`;
}

interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (err: Error | null, result: unknown) => void): void;
}

function mysqlQuery(connection: MysqlConnection, sql: string, values: unknown[] = []): Promise<unknown> {
  return new Promise((resolve, reject) => connection.query(sql, values, (err, result) => (err ? reject(err) : resolve(result))));
}

async function explainMysql(knex: Knex, log: string, statement: CapturedStatement): Promise<PlanReport> {
  return onConnection(knex, async (connection: MysqlConnection) => {
    await mysqlQuery(connection, 'start transaction');
    try {
      const rows = (await mysqlQuery(connection, `analyze format=json ${statement.sql}`, statement.bindings)) as Array<
        Record<string, string>
      >;
      const text = Object.values(rows[0] ?? {})[0] ?? '{}';
      const tables = mysqlTables(JSON.parse(text));
      return {
        variant: 'mysql',
        logScans: tables
          .filter((t) => t.table_name === log && (t.access_type === 'ALL' || t.access_type === 'index'))
          .map((t) => `access_type ${t.access_type} on ${log}`),
        cost: Math.round(tables.reduce((sum, t) => sum + (t.r_loops ?? 0) * (t.r_rows ?? 0), 0)),
        jit: false,
        text,
      };
    } finally {
      await mysqlQuery(connection, 'rollback');
    }
  });
}

interface MysqlTable {
  table_name?: string;
  access_type?: string;
  r_loops?: number;
  r_rows?: number;
}

/** Every `table` object of a MariaDB ANALYZE FORMAT=JSON document, however deeply nested. */
function mysqlTables(value: unknown): MysqlTable[] {
  if (Array.isArray(value)) return value.flatMap(mysqlTables);
  if (!value || typeof value !== 'object') return [];
  const found: MysqlTable[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (key === 'table' && child && typeof child === 'object' && 'table_name' in child) found.push(child as MysqlTable);
    found.push(...mysqlTables(child));
  }
  return found;
}

interface SqliteDatabase {
  prepare(sql: string): { all(...params: unknown[]): Array<{ detail: string }> };
}

async function explainSqlite(knex: Knex, log: string, statement: CapturedStatement): Promise<PlanReport> {
  return onConnection(knex, async (connection: SqliteDatabase) => {
    const lines = connection
      .prepare(`explain query plan ${statement.sql}`)
      // As knex's better-sqlite3 client converts them before running a statement.
      .all(...statement.bindings.map((b) => (b instanceof Date ? b.valueOf() : typeof b === 'boolean' ? Number(b) : b)))
      .map((r) => r.detail);
    // The log under its own name or any alias the statement gives it.
    const names = new Set([log, ...aliasesOf(statement.sql, log)]);
    return {
      variant: 'sqlite',
      // Only a SCAN: a temporary b-tree for ORDER BY is also SQLite's best plan over a narrow
      // index range (a prune held back by a lagging cursor), and EXPLAIN QUERY PLAN has no counts
      // to tell the two apart.
      logScans: lines.filter((line) => {
        const scanned = /^SCAN (\S+)/.exec(line)?.[1];
        return scanned !== undefined && names.has(scanned.replace(/^"|"$/g, ''));
      }),
      cost: null,
      jit: false,
      text: lines.join('\n'),
    };
  });
}

/** The aliases `sql` gives table `name` (`"name" as i`, `"name" i`). */
function aliasesOf(sql: string, name: string): string[] {
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`["\`]?${quoted}["\`]?\\s+(?:as\\s+)?([A-Za-z_][A-Za-z0-9_]*)`, 'gi');
  const reserved = new Set(['where', 'set', 'values', 'order', 'group', 'limit', 'join', 'left', 'on', 'union', 'inner', 'cross']);
  return [...sql.matchAll(pattern)].map((m) => m[1]!).filter((alias) => !reserved.has(alias.toLowerCase()));
}
