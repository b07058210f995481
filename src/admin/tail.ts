import { setTimeout as sleep } from 'node:timers/promises';
import { newestWithin } from './bounded-rows.js';
import type { AdminContext } from './context.js';
import { rowView, type RowView } from './rows.js';

/**
 * The identity `follow` reads under. `readPage` also reads that identity's cold-boot flag; no
 * server has this one, so the flag is simply absent. Nothing is ever stored under it.
 */
const FOLLOWER = 'distcache-cli-follow';

/** How many bytes of row bodies a read may bring, and what to do about the rows that did not fit. */
export interface ReadBudget {
  /** The row bodies one read may bring, in bytes. A row larger than this alone is shown by its size. */
  maxBytes: number;
  /** Called with how many older rows within `limit` were left out because newer ones filled `maxBytes`. */
  onLeftOut?: (rows: number) => void;
}

/** The newest rows of the log, oldest first, their bodies within `budget.maxBytes` (see bounded-rows.ts). */
export async function newestRows(ctx: AdminContext, limit: number, budget: ReadBudget): Promise<RowView[]> {
  const { rows, leftOut } = await newestWithin(ctx, limit, budget.maxBytes);
  if (leftOut > 0) budget.onLeftOut?.(leftOut);
  return rows.map((row) => rowView(row));
}

export interface FollowOptions extends ReadBudget {
  /** How many of the newest rows to yield first. */
  limit: number;
  /** How long to wait between reads once caught up. */
  interval: number;
  /** Rows per read while catching up. @default 100 */
  pageSize?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
  /** Called while a backlog is read page by page, with the rows read since the last time caught up. */
  onBacklog?: (rowsRead: number) => void;
  /** Called each time everything committed so far has been read. */
  onCaughtUp?: () => void;
}

/**
 * The newest `limit` rows, then every row as it commits, read with the same exact reader the
 * servers use (`readPage`), so a row whose transaction commits late is not skipped. The position
 * lives in memory only: following never writes. The head is taken before the newest rows are
 * read, so a row committed in between is yielded once, not missed nor repeated.
 */
export async function* follow(ctx: AdminContext, options: FollowOptions): AsyncGenerator<RowView> {
  const pageSize = options.pageSize ?? 100;
  let position = await ctx.store.head();
  const initial = await newestRows(ctx, options.limit, options);
  const shown = new Set(initial.map((row) => row.id));
  yield* initial;
  while (!options.signal?.aborted) {
    const from = position;
    let token: string | null = null;
    let read = 0;
    for (;;) {
      const page = await ctx.store.readPage(FOLLOWER, from, token, pageSize);
      for (const row of page.rows) {
        // Already shown among the newest rows: each row comes once from the reader, so forget it.
        if (shown.delete(row.id)) continue;
        yield rowView(row);
      }
      read += page.rows.length;
      if (page.position !== null) position = page.position;
      token = page.token;
      if (token === null || options.signal?.aborted) break;
      options.onBacklog?.(read);
    }
    options.onCaughtUp?.();
    try {
      await sleep(options.interval, undefined, { signal: options.signal });
    } catch {
      return;
    }
  }
}
