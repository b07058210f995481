import { ROW_COLUMNS, toRow } from '../store/columns.js';
import type { StoredInstructionRow } from '../store/store.js';
import { MAX_ROW_BYTES } from '../util/limits.js';
import type { AdminContext } from './context.js';

/**
 * The operator's reads of whole rows (`tail`, `show`, the first rows of `follow`), bounded by bytes.
 * A row may hold up to 16 MiB, so `tail --limit 100` could bring 1.6 GB into the CLI. As the
 * servers' reader does, these learn each row's size before its body: rows are added newest first
 * until the next would take the bodies past `maxBytes`, and a row larger than `maxBytes` alone is
 * shown by its size, its body never sent.
 */

export interface BoundedRows {
  /** Oldest first; a row over the limit has `oversizeBytes` set and an empty `json`. */
  rows: StoredInstructionRow[];
  /** Older rows within `limit` left out because the newer ones filled `maxBytes`. */
  leftOut: number;
}

/** What to read of rows sized newest first: the ids whose bodies fit, those shown by size, how many are left out. */
export function chooseWithin(sizes: ReadonlyArray<{ id: number; bytes: number }>, maxBytes: number): { ids: number[]; leftOut: number } {
  const ids: number[] = [];
  let total = 0;
  for (let i = 0; i < sizes.length; i++) {
    const { id, bytes } = sizes[i]!;
    // Over the limit alone: shown by its size, which costs nothing.
    if (bytes > maxBytes) {
      ids.push(id);
      continue;
    }
    if (total + bytes > maxBytes) return { ids, leftOut: sizes.length - i };
    total += bytes;
    ids.push(id);
  }
  return { ids, leftOut: 0 };
}

/** The largest body one row may bring within `maxBytes` (never more than the table allows). */
function rowCap(maxBytes: number): number {
  return Math.min(MAX_ROW_BYTES, maxBytes);
}

/** The size expression of the body column on this database (as the readers measure it). */
function sizeColumn(ctx: AdminContext): string {
  const quoted = ctx.knex.raw('??', ['json_instruction']).toQuery();
  return ctx.store.bodyColumns(quoted, 0)[1]!;
}

/** Rows by id, each body bounded by `maxBytes`; a row pruned since its size was read is simply absent. */
async function rowsById(ctx: AdminContext, ids: readonly number[], maxBytes: number): Promise<StoredInstructionRow[]> {
  if (ids.length === 0) return [];
  const cap = rowCap(maxBytes);
  const quoted = ctx.knex.raw('??', ['json_instruction']).toQuery();
  const body = ctx.store.bodyColumns(quoted, cap).map((c) => ctx.knex.raw(c));
  const raws = (await ctx.store.bounded(
    ctx
      .knex(ctx.tables.instruction)
      .where('cluster', ctx.cluster)
      .whereIn('id', [...ids])
      .select(...ROW_COLUMNS.filter((c) => c !== 'json_instruction'), ...body),
  )) as Array<Record<string, unknown>>;
  return raws.map((raw) =>
    raw.json_instruction == null && Number(raw.json_bytes) > cap
      ? { ...toRow({ ...raw, json_instruction: '' }), oversizeBytes: Number(raw.json_bytes) }
      : toRow(raw),
  );
}

/** The newest `limit` rows of the cluster, oldest first, their bodies within `maxBytes` in all. */
export async function newestWithin(ctx: AdminContext, limit: number, maxBytes: number): Promise<BoundedRows> {
  if (limit === 0) return { rows: [], leftOut: 0 };
  const log = () => ctx.knex(ctx.tables.instruction).where('cluster', ctx.cluster);
  // Sizes first, through the (cluster, id) index, bounded above by the newest id as store.newest() is (issue 21).
  const raws = (await ctx.store.bounded(
    log()
      .where('id', '<=', log().max('id'))
      .orderBy('id', 'desc')
      .limit(limit)
      .select('id', ctx.knex.raw(sizeColumn(ctx))),
  )) as Array<Record<string, unknown>>;
  const sizes = raws.map((r) => ({ id: Number(r.id), bytes: Number(r.json_bytes ?? 0) }));
  const { ids, leftOut } = chooseWithin(sizes, maxBytes);
  const rows = await rowsById(ctx, ids, maxBytes);
  return { rows: rows.sort((a, b) => a.id - b.id), leftOut };
}

/** One row, its body only if it fits `maxBytes`. */
export async function rowWithin(ctx: AdminContext, id: number, maxBytes: number): Promise<StoredInstructionRow | undefined> {
  return (await rowsById(ctx, [id], maxBytes))[0];
}

/**
 * The rows `from` does not cover, at most `limit`, in the order a server applies them, their
 * bodies within `maxBytes` in all: sizes first (a cap of 0 sends no body), then the bodies that fit.
 * Later rows past the budget are left out.
 */
export async function pendingWithin(ctx: AdminContext, from: string, limit: number, maxBytes: number): Promise<BoundedRows> {
  const sized = await ctx.store.listPending(from, limit, 0);
  const { ids, leftOut } = chooseWithin(
    sized.map((r) => ({ id: r.id, bytes: r.oversizeBytes ?? 0 })),
    maxBytes,
  );
  const byId = new Map((await rowsById(ctx, ids, maxBytes)).map((r) => [r.id, r]));
  // A row pruned since its size was read is simply absent.
  return { rows: ids.flatMap((id) => byId.get(id) ?? []), leftOut };
}
