import type { Knex } from 'knex';
import type { Db } from './db.js';

/** Each backlog row: one refresh of one id, the ids cycling over this many, written 30 days ago (so a prune takes them). */
export const DISTINCT_IDS = 10_000;

const json = (idSql: string, concat: (parts: string[]) => string) =>
  concat([`'{"v":1,"instructions":[{"refresher":"bench","kind":"refresh","ids":['`, idSql, `']}]}'`]);

/**
 * Writes `rows` instruction rows with SQL on the server, in transactions of `perTransaction`
 * rows, as many writers over time would have (on PostgreSQL each transaction is its own txid;
 * on MariaDB the sequence trigger numbers every row).
 */
export async function writeBacklog(knex: Knex, db: Db, table: string, rows: number, perTransaction = 1000, sameId?: number): Promise<void> {
  const columns = 'json_instruction, originated, origin_instance, instruction_count, cluster, utc_stamp';
  if (db === 'postgres') {
    const id = (g: string) => (sameId === undefined ? `((b * ${perTransaction} + ${g}) % ${DISTINCT_IDS})::text` : `'${sameId}'`);
    // One DO block, committing after each transaction's worth of rows (PostgreSQL 11+).
    await knex.raw(`do $$ begin
      for b in 0..${Math.ceil(rows / perTransaction) - 1} loop
        insert into ${quote(table, '"')} (${columns})
        select ${json(id('g'), (p) => p.join(' || '))}, 'backlog', null, 1, 'default', now() - interval '30 days'
        from generate_series(1, least(${perTransaction}, ${rows} - b * ${perTransaction})) g;
        commit;
      end loop;
    end $$`);
    return;
  }
  if (db === 'mysql') {
    for (let start = 1; start <= rows; start += perTransaction) {
      const end = Math.min(rows, start + perTransaction - 1);
      const id = sameId === undefined ? `cast(seq % ${DISTINCT_IDS} as char)` : `'${sameId}'`;
      // MariaDB's sequence engine: seq_1_to_N is a table of the numbers 1..N.
      await knex.raw(
        `insert into ${quote(table, '`')} (${columns})
         select ${json(id, (p) => `concat(${p.join(', ')})`)}, 'backlog', null, 1, 'default', current_timestamp(3) - interval 30 day
         from seq_${start}_to_${end}`,
      );
    }
    return;
  }
  const id = sameId === undefined ? `cast(x % ${DISTINCT_IDS} as text)` : `'${sameId}'`;
  await knex.raw(
    `with recursive g(x) as (select 1 union all select x + 1 from g where x < ${rows})
     insert into ${quote(table, '"')} (${columns})
     select ${json(id, (p) => p.join(' || '))}, 'backlog', null, 1, 'default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') from g`,
  );
}

/**
 * Lets the database finish the background work a large write leaves behind (PostgreSQL's
 * checkpoint, InnoDB's flushing of dirty pages, SQLite's WAL), so a figure that follows measures
 * the steady state rather than the tail of the previous one. At most `deadlineMs`.
 */
export async function settle(knex: Knex, db: Db, deadlineMs = 60_000): Promise<void> {
  if (db === 'postgres') {
    // The checkpoint writes every dirty buffer of the whole server, other databases' too: bounded
    // like the rest (cancelling the wait leaves the checkpointer to finish on its own).
    await knex
      .raw('checkpoint')
      .timeout(deadlineMs, { cancel: true })
      .catch(() => undefined);
    return;
  }
  if (db === 'sqlite') {
    await knex.raw('pragma wal_checkpoint(truncate)');
    return;
  }
  // InnoDB flushes in the background until few pages are dirty, then (with the default low-water
  // mark of 0) leaves the rest: wait until the count is small or stops falling.
  const deadline = Date.now() + deadlineMs;
  const status = async (name: string) =>
    Number(((await knex.raw('show global status like ?', [name])) as [Array<{ Value: string }>])[0][0]?.Value ?? 0);
  const total = await status('Innodb_buffer_pool_pages_total');
  let dirty = await status('Innodb_buffer_pool_pages_dirty');
  while (Date.now() < deadline && dirty > total / 100) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await status('Innodb_buffer_pool_pages_dirty');
    if (now >= dirty) break;
    dirty = now;
  }
}

/** Fresh statistics, as autovacuum (PostgreSQL) or an operator would have gathered on a table that grew over time. */
export async function analyze(knex: Knex, db: Db, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    if (db === 'postgres') await knex.raw(`analyze ${quote(table, '"')}`);
    else if (db === 'mysql') await knex.raw(`analyze table ${quote(table, '`')}`);
    else await knex.raw(`analyze ${quote(table, '"')}`);
  }
}

function quote(name: string, q: string): string {
  return `${q}${name}${q}`;
}
