import type { Knex } from 'knex';
import { BaseStore, toBool, toDate } from '../../store/base-store.js';
import { rawRows } from '../../store/commit-ordered-store.js';
import { poolerLostStatement, PreparedStatement, runPrepared } from './prepared.js';
import { useProtocolCancel } from './cancel.js';
import type { StoreConfig } from '../../store/base-store.js';
import type { InstructionPage, NewInstructionRow, PendingSummary, PruneChunkOptions, PruneChunkResult, StoreCapabilities, StoredInstructionRow } from '../../store/store.js';

/** Rows per INSERT statement, well under PostgreSQL's 65535 bind parameters. */
const INSERT_CHUNK = 1000;

/**
 * The exact cursor, PgQ's method. Ids are handed out at insert time but become visible at commit
 * time, so `id > last` skips a row whose transaction commits after a later id's. Instead each row
 * carries its writer's transaction id (`txid`, see dialect.ts) and a position is a `pg_snapshot`
 * ('xmin:xmax:xip,...'). A snapshot covers a row iff `pg_visible_in_snapshot(txid, snapshot)`:
 * its transaction had ended when the snapshot was taken. A rolled-back transaction leaves no rows,
 * so covered rows are exactly the committed ones.
 *
 * Rows a snapshot S does not cover are those with `txid >= xmax(S)` (started later) plus those
 * whose txid is in `xip(S)` (running then). We query exactly that, as a UNION ALL of an index
 * range scan and index point lookups, rather than the simpler `txid >= xmin(S)`: one long-open
 * transaction anywhere in the cluster (even another database) holds xmin back, and that range
 * would grow with every row written since.
 */
export class PostgresStore extends BaseStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ dialect: 'postgres', notify: true });
  private readonly pageStatements = new Map<number, PreparedStatement>();
  private insertOne: PreparedStatement | undefined;
  private insertMany: PreparedStatement | undefined;

  constructor(config: StoreConfig) {
    super(config);
    // Timed-out statements are cancelled in a way that also works through PgBouncer (see cancel.ts).
    useProtocolCancel(this.knex);
  }

  async insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]> {
    const write = async (db: Knex | Knex.Transaction) => {
      const ids: number[] = [];
      for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
        const values = rows.slice(start, start + INSERT_CHUNK).map((row) => ({
          json_instruction: row.json,
          originated: row.originated,
          origin_instance: row.originInstance,
          instruction_count: row.instructionCount,
          cluster: this.cluster,
        }));
        // One multi-row INSERT: PostgreSQL assigns ids and returns them in VALUES order.
        const inserted: Array<{ id: unknown }> = await this.bounded(db(this.t.instruction).insert(values).returning('id'));
        ids.push(...inserted.map((r) => Number(r.id)));
      }
      return ids;
    };
    if (rows.length === 0) return [];
    if (trx) return write(trx);
    // Outside a transaction, the common case: one prepared statement on a pooled connection.
    if (rows.length <= INSERT_CHUNK) return this.insertPrepared(rows);
    // A single statement is atomic on its own; a batch split over statements needs a transaction.
    return this.knex.transaction(write);
  }

  /**
   * One row or a batch of them in one autocommit statement, prepared: every write pays for
   * knex's query building and a fresh parse otherwise. A batch goes in as arrays through
   * `unnest`, so one statement text serves every batch size; ids come back in the rows' order.
   */
  private async insertPrepared(rows: readonly NewInstructionRow[]): Promise<number[]> {
    const single = rows.length === 1;
    const statement = single ? this.insertOneStatement : this.insertManyStatement;
    const values = single
      ? [rows[0]!.json, rows[0]!.originated, rows[0]!.originInstance, rows[0]!.instructionCount, this.cluster]
      : [rows.map((r) => r.json), rows.map((r) => r.originated), rows.map((r) => r.originInstance), rows.map((r) => r.instructionCount), this.cluster];
    const inserted = await this.runStatement(statement, values);
    return inserted.map((r) => Number(r.id));
  }

  private get insertOneStatement(): PreparedStatement {
    return (this.insertOne ??= new PreparedStatement(
      `insert into ${quoteIdent(this.t.instruction)} (json_instruction, originated, origin_instance, instruction_count, cluster)
       values ($1, $2, $3, $4, $5) returning id`,
    ));
  }

  private get insertManyStatement(): PreparedStatement {
    return (this.insertMany ??= new PreparedStatement(
      `insert into ${quoteIdent(this.t.instruction)} (json_instruction, originated, origin_instance, instruction_count, cluster)
       select u.json, u.originated, u.origin_instance, u.instruction_count, $5
       from unnest($1::text[], $2::text[], $3::text[], $4::int[]) with ordinality as u(json, originated, origin_instance, instruction_count, n)
       order by u.n
       returning id`,
    ));
  }

  protected executorSql(): { insert: string } {
    return { insert: `${this.insertColumns()} returning id` };
  }

  async head(): Promise<string> {
    const [raw] = rawRows(await this.bounded(this.knex.raw('select pg_current_snapshot()::text as head')));
    return String(raw?.head);
  }

  /**
   * A window is the rows `from` does not cover but its target snapshot does. The first page takes
   * the target from `pg_current_snapshot()` in the same statement: that is the statement's own
   * snapshot, so the target covers exactly the committed rows the statement can see. Later pages
   * keep the target (in the token) and continue after the last (txid, id); every row the target
   * covers is committed, so later statements still see it (unless pruned, which marks the cursor).
   * Only the last page returns the target as a position, so a cursor never passes a row that a
   * later page of the same window would still deliver.
   */
  async readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage> {
    const resume = token === null ? null : decodeToken(token);
    const raws = await this.runStatement(
      this.pageStatement(limit),
      // '0' and 0 sort before every real (txid, id): the first page starts at the window's beginning.
      [from, resume?.target ?? null, resume?.txid ?? '0', resume?.id ?? '0', this.cluster, identity],
    );
    const head = raws[0];
    if (!head) throw new Error('readPage returned no row'); // `w` always yields one
    const found = raws.filter((r) => r.id != null);
    const last = found[found.length - 1];
    const full = last !== undefined && found.length >= limit;
    const targetText = String(head.target);
    return {
      rows: found.map((r) => this.toRow(r)),
      token: full ? encodeToken({ target: targetText, txid: String(last.txid), id: String(last.id) }) : null,
      position: full ? null : targetText,
      coldBootRequested: head.cbr == null ? null : toBool(head.cbr),
      historyBroken: historyOf(from, head),
      databaseEpoch: String(head.epoch),
    };
  }

  get preparedStatements(): boolean {
    return this.prepare;
  }

  /** The system identifier and the timeline; see InstructionStore.databaseIdentity and TIMELINE_SQL. */
  override async databaseIdentity(): Promise<string | null> {
    const sql = `select (select system_identifier::text from pg_control_system()) || ':' || ${TIMELINE_SQL} as identity`;
    const [raw] = rawRows(await this.bounded(this.knex.raw(sql)));
    return raw?.identity == null ? null : String(raw.identity);
  }

  /**
   * A visible row's txid is always below the current snapshot's xmax (its transaction had ended),
   * so a row at or above it was written in another history: a dump of a cluster whose xid counter
   * was higher. Re-stamped with FrozenTransactionId (3), which every snapshot covers, such a row
   * can never be read as new, however far this counter later climbs; it stays for `tail` and is
   * pruned like any old row.
   */
  override async foreignRows(settle: boolean): Promise<number> {
    const where = 'cluster = ? and txid >= pg_snapshot_xmax(pg_current_snapshot())';
    const sql = settle
      ? `with s as (update ?? set txid = '3'::xid8 where ${where} returning 1) select count(*) as n from s`
      : `select count(*) as n from ?? where ${where}`;
    const [raw] = rawRows(await this.bounded(this.knex.raw(sql, [this.t.instruction, this.cluster])));
    return Number(raw?.n ?? 0);
  }

  /**
   * Runs a statement, prepared unless a pooler has shown it cannot keep one; then it is retried
   * unnamed, and stays so. The retry is safe for writes too: both errors come before the
   * statement runs. Every call that ran prepared and met the error retries, whether or not
   * another call flipped the switch first: under concurrency many are in flight at that moment.
   */
  private async runStatement(statement: PreparedStatement, values: unknown[]): Promise<Array<Record<string, unknown>>> {
    const prepare = this.prepare;
    try {
      return await runPrepared(this.knex, statement, values, { timeoutMs: this.queryTimeout, prepare });
    } catch (err) {
      if (!prepare || !poolerLostStatement(err)) throw err;
      if (this.prepare) {
        this.prepare = false;
        this.logger?.warn(
          { code: (err as { code?: unknown }).code },
          'distcache: prepared statements do not survive on this connection (a transaction-mode pooler such as PgBouncer before 1.21?); ' +
            'statements now run unprepared. Set preparedStatements: false to skip this, or enable max_prepared_statements on PgBouncer 1.21+',
        );
      }
      return runPrepared(this.knex, statement, values, { timeoutMs: this.queryTimeout, prepare: false });
    }
  }

  /**
   * The page statement for one page size (built once: it is prepared, see prepared.ts).
   *
   * A window is the rows `from` ($1) does not cover but its target snapshot does. The first page
   * takes the target from `pg_current_snapshot()` in the same statement: that is the statement's
   * own snapshot, so the target covers exactly the committed rows the statement can see. Later
   * pages pass the target back ($2, from the token) and continue after the last (txid, id) ($3,
   * $4); every row the target covers is committed, so later statements still see it (unless
   * pruned, which marks the cursor). Only the last page returns the target as a position, so a
   * cursor never passes a row that a later page of the same window would still deliver.
   *
   * The limit is written into the text rather than bound: a prepared statement may be planned
   * generically, and a bound LIMIT would then be planned for a guessed row count.
   */
  private pageStatement(limit: number): PreparedStatement {
    let statement = this.pageStatements.get(limit);
    if (statement) return statement;
    const instruction = quoteIdent(this.t.instruction);
    const cursor = quoteIdent(this.t.cursor);
    const n = Math.trunc(limit);
    statement = new PreparedStatement(`
      with w as materialized (
        -- lo_txid/lo_id: the range half's one lower bound, as a single row comparison, so its index
        -- scan starts exactly there (with a second, separate bound on txid, btree may start from
        -- the weaker one and walk the whole table).
        select b.*, greatest(b.after_txid, pg_snapshot_xmax(b.since)) as lo_txid,
          case when b.after_txid >= pg_snapshot_xmax(b.since) then b.after_id else -1 end as lo_id
        from (select $1::pg_snapshot as since, coalesce($2::pg_snapshot, pg_current_snapshot()) as target,
          pg_current_snapshot() as now, $3::xid8 as after_txid, $4::bigint as after_id) b
      )
      select w.target::text as target,
        (select c.cold_boot_requested from ${cursor} c where c.cluster = $5 and c.server_identity = $6) as cbr,
        -- The history checks (see historyOf): all from memory but one index probe that finds nothing.
        pg_snapshot_xmax(w.since) > pg_snapshot_xmax(w.now) as ahead,
        exists (select 1 from ${instruction} f where f.cluster = $5 and f.txid >= pg_snapshot_xmax(w.now)) as foreign_rows,
        -- The timeline as the WAL file name's hex prefix: it changes exactly when TIMELINE_SQL does, without the casts.
        pg_postmaster_start_time()::text || '/' ||
          coalesce(substr(pg_walfile_name(case when pg_is_in_recovery() then null else pg_current_wal_lsn() end), 1, 8), 'standby') as epoch,
        p.*
      from w
      left join lateral (
        -- Each half is ordered and limited on its own, so a page reads at most 2 × limit index
        -- entries however long the window: catching up on a large backlog stays linear.
        select u.* from (
          (select ${PAGE_COLUMNS} from ${instruction} i
            where i.cluster = $5 and (i.txid, i.id) > (w.lo_txid, w.lo_id) and i.txid < pg_snapshot_xmax(w.target)
              and pg_visible_in_snapshot(i.txid, w.target)
            order by i.txid, i.id limit ${n})
          union all
          -- In-progress xids of the old snapshot, one index lookup each (see uncoveredSql).
          (select i.* from (select pg_snapshot_xip(w.since) as txid) x
            cross join lateral (
              select ${PAGE_COLUMNS} from ${instruction} i
              where i.cluster = $5 and i.txid = x.txid
                and (i.txid, i.id) > (w.after_txid, w.after_id) and pg_visible_in_snapshot(i.txid, w.target)
              order by i.id limit ${n}) i
            order by i.txid, i.id limit ${n})
        ) u
        order by u.txid, u.id
        limit ${n}
      ) p on true
      order by p.txid, p.id`);
    this.pageStatements.set(limit, statement);
    return statement;
  }

  /** Everything committed now is visible to the statement, so no target snapshot is needed. */
  async pending(from: string): Promise<PendingSummary> {
    const [raw] = rawRows(
      await this.bounded(
        this.knex.raw(
          `with w as materialized (select ?::pg_snapshot as since)
           select count(*) as row_count, coalesce(sum(u.instruction_count), 0) as total, min(u.utc_stamp) as oldest
           from w, lateral (${uncoveredSql('w.since')}) u`,
          [from, ...this.uncoveredBindings()],
        ),
      ),
    );
    return { rows: Number(raw?.row_count ?? 0), instructions: Number(raw?.total ?? 0), oldest: toDate(raw?.oldest) };
  }

  async listPending(from: string, limit: number): Promise<StoredInstructionRow[]> {
    const raws = rawRows(
      await this.bounded(
        this.knex.raw(
          `with w as materialized (select ?::pg_snapshot as since)
           select u.* from w, lateral (${uncoveredSql('w.since')}) u
           order by u.txid, u.id
           limit ?`,
          [from, ...this.uncoveredBindings(), limit],
        ),
      ),
    );
    return raws.map((r) => this.toRow(r));
  }

  /**
   * One statement, so choosing, marking and deleting see one snapshot and commit together.
   * Several servers may prune at once. Two chunks that chose the same rows meet at the delete:
   * the later one waits for the earlier to commit, then finds those rows gone and skips them, so
   * `deleted` counts each row once (and a chunk that deleted nothing ends that pruner's pass). A
   * cursor row already marked by a concurrent pruner is re-checked after that pruner commits and
   * then skipped, so `marked` lists only cursors this chunk marked. The chosen rows are not locked
   * first (`for update skip locked` did that): a row lock per doomed row doubled the WAL a prune
   * writes (34.6 MB against 17.8 MB for 300,000 rows here), which every writer's commit waits to
   * flush. The delete looks ids up by primary key: `using doomed` plans as a
   * hash join over the whole table.
   */
  async pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult> {
    const [doomedSql, doomedBindings] = this.doomed(options);
    // The delete looks doomed rows up with `= any(array(...))`: with `in (select ...)` the planner
    // may hash-join against a scan of the whole index instead.
    const [raw] = rawRows(
      await this.bounded(
        this.knex.raw(
          `with doomed as (
             ${doomedSql}
             order by i.id
             limit ?
           ), marked as (
             update ?? c set cold_boot_requested = true
             where c.cluster = ? and not c.cold_boot_requested
               and exists (select 1 from doomed d where not pg_visible_in_snapshot(d.txid, c.position::pg_snapshot))
             returning c.server_identity
           ), deleted as (
             delete from ?? i where i.id = any (array(select d.id from doomed d)) returning i.id
           )
           select (select count(*) from deleted) as deleted,
             array(select m.server_identity::text from marked m order by 1) as marked`,
          [...doomedBindings, options.limit, this.t.cursor, this.cluster, this.t.instruction],
        ),
      ),
    );
    const marked = Array.isArray(raw?.marked) ? (raw.marked as unknown[]).map(String) : [];
    return { deleted: Number(raw?.deleted ?? 0), marked };
  }

  async prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }> {
    const [doomedSql, doomedBindings] = this.doomed(options);
    const [raw] = rawRows(
      await this.bounded(this.knex.raw(`select count(*) as n, min(d.id) as lo, max(d.id) as hi from (${doomedSql}) d`, doomedBindings)),
    );
    return { rows: Number(raw?.n ?? 0), minId: raw?.lo == null ? null : Number(raw.lo), maxId: raw?.hi == null ? null : Number(raw.hi) };
  }

  async now(): Promise<Date> {
    const [raw] = rawRows(await this.bounded(this.knex.raw('select now() as now')));
    return toDate(raw?.now) ?? new Date(Number.NaN);
  }

  protected cutoffSql(ms: number): Knex.Raw {
    return this.knex.raw('(now() - make_interval(secs => ?::double precision))', [ms / 1000]);
  }

  private uncoveredBindings(): Knex.RawBinding[] {
    return [this.t.instruction, this.cluster, this.t.instruction, this.cluster];
  }

  /**
   * The rows a prune may delete: old, never the cluster's newest (so the log never looks empty),
   * committed (visible in the current snapshot), and covered by every `coveredBy` position.
   */
  private doomed(options: Omit<PruneChunkOptions, 'limit'>): [string, Knex.RawBinding[]] {
    const covered = options.coveredBy ?? [];
    const sql = `
      select i.id, i.txid from ?? i
      where i.cluster = ?
        and i.utc_stamp < ?
        and i.id < (select max(m.id) from ?? m where m.cluster = ?)
        and pg_visible_in_snapshot(i.txid, pg_current_snapshot())
        and not exists (
          select 1 from jsonb_array_elements_text(?::jsonb) p(snap) where not pg_visible_in_snapshot(i.txid, p.snap::pg_snapshot)
        )`;
    return [sql, [this.t.instruction, this.cluster, this.cutoffSql(options.olderThanMs), this.t.instruction, this.cluster, JSON.stringify(covered)]];
  }
}

/**
 * The timeline the server writes WAL on now. Promotion switches it at once, while
 * `pg_control_checkpoint()`'s timeline_id waits for the next checkpoint (and the issue's failover
 * test would miss it); the WAL file name of the insert position starts with it, in hex. A standby
 * has no insert position: there the last checkpoint's timeline is the best it has.
 */
const TIMELINE_SQL = `case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint())::text
  else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text end`;

/** Why position `from` cannot belong to this database's history, from the page statement's checks; null when it can. */
function historyOf(from: string, head: Record<string, unknown>): string | null {
  if (toBool(head.ahead)) {
    return `the position ${from} is ahead of the database's transaction counter: the database was replaced or restored (a dump, a failover, a PITR)`;
  }
  if (toBool(head.foreign_rows)) return 'the log holds rows written in another transaction history (a dump restored from a busier cluster)';
  return null;
}

/** What a page reads of each row: every column the poller uses, and txid for the next page's token. */
const PAGE_COLUMNS = 'i.id, i.utc_stamp, i.json_instruction, i.originated, i.origin_instance, i.instruction_count, i.txid';

/**
 * Rows of the cluster that snapshot `since` (an SQL expression) does not cover: those at or past
 * its xmax (a range scan, which `range` narrows), and those of the transactions it saw in progress.
 */
function uncoveredSql(since: string, range = ''): string {
  // The in-progress xids are looked up one by one (a lateral subquery the planner cannot flatten,
  // thanks to `offset 0`): with `txid = any(...)` it may scan the whole cluster's index instead,
  // not knowing the array is usually empty.
  return `select i.* from ?? i where i.cluster = ? and i.txid >= pg_snapshot_xmax(${since})${range}
    union all
    select i.* from (select pg_snapshot_xip(${since}) as txid) x
      cross join lateral (select * from ?? i where i.cluster = ? and i.txid = x.txid offset 0) i`;
}

/** A table name as a quoted SQL identifier (names come from a validated prefix; quotes are doubled anyway). */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

interface PageToken {
  target: string;
  txid: string;
  id: string;
}

function encodeToken(token: PageToken): string {
  return JSON.stringify([token.target, token.txid, token.id]);
}

function decodeToken(text: string): PageToken {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((p) => typeof p === 'string')) {
    throw new Error(`not a postgres page token: ${text.slice(0, 100)}`);
  }
  const [target, txid, id] = parsed as [string, string, string];
  return { target, txid, id };
}
