import { bodyColumns, type ByteLengthSql } from '../row-bytes.js';
import { ROW_COLUMNS } from '../columns.js';

/**
 * The page statement of the commit-ordered stores (SQLite, MySQL/MariaDB): the rows of one cluster
 * past a position, in position order, at most `limit` of them (the limit is part of the text, see
 * mysql/statements.ts). A window's first page also carries, as one marker row after the page, the
 * cursor's cold-boot flag and the log's head (its largest position): each cluster's newest row is
 * never pruned, so a head below the position read up to means the log went back in time (an older
 * dump or file restored) and the position no longer proves what was read.
 *
 * Params: `?` cluster, `?` the position read up to; on a first page also `?` cluster, `?` server identity.
 * Returns: the row columns with the body bounded (json_instruction, json_bytes), `pos`; the first
 * page's marker row: nulls, then `cbr` (cold_boot_requested) and `head`.
 */
export interface CommitOrderedPageParts {
  /** An identifier quoted the way this knex client quotes it. */
  quote(name: string): string;
  /** The column that grows in commit order (SQLite: id; MySQL: seq). */
  positionColumn: string;
  /** The instruction table as a scan in position order reads it (MySQL names its index). */
  scan: string;
  /** The cursor table, quoted. */
  cursorTable: string;
  /** The log's head as a scalar subquery. */
  head: string;
  /** Bodies larger than this are left out of the page (readPage fetches them on their own). */
  bodyBytes: number;
  /** The dialect's size in bytes of a body (see bodyColumns). */
  byteLength: ByteLengthSql;
  /** `first` (with its own ORDER BY and LIMIT) then `second`, as one statement, as the dialect allows. */
  unionAll(first: string, second: string): string;
}

export function commitOrderedPageSql(parts: CommitOrderedPageParts, limit: number, first: boolean): string {
  const { quote } = parts;
  const pos = quote(parts.positionColumn);
  const marked = first ? ['null as cbr', 'null as head'] : [];
  // Bodies only up to maxPageBytes / limit (`bodyBytes`), so a page of `limit` rows never brings more
  // than maxPageBytes (store/row-bytes.ts); readPage fetches a larger one (up to maxRowBytes) on its
  // own, when the page keeps it. A running byte sum here would be a window over the LIMITed rows:
  // a derived table on MySQL, which costs every idle poll.
  const rowColumns = ROW_COLUMNS.filter((c) => c !== 'json_instruction').map((c) => quote(c));
  const body = bodyColumns(quote('json_instruction'), parts.bodyBytes, parts.byteLength);
  const columns = [...rowColumns, ...body, `${pos} as pos`, ...marked].join(', ');
  const page = `select ${columns} from ${parts.scan} where cluster = ? and ${pos} > ? order by ${pos} limit ${Math.trunc(limit)}`;
  if (!first) return page;
  const nulls = [...rowColumns, ...body].map(() => 'null').join(', ');
  const marker =
    `select ${nulls}, null, cold_boot_requested, ${parts.head} from ${parts.cursorTable} ` + 'where cluster = ? and server_identity = ?';
  return parts.unionAll(page, marker);
}

/**
 * The log's head as a scalar subquery, for the marker row (MySQL reads its sequence row instead).
 * Over the whole table, as head() is: a cursor reset by a cold boot may be past its own cluster's
 * newest row. Both arguments are quoted identifiers.
 */
export function maxPositionHeadSql(positionColumn: string, instruction: string): string {
  return `(select max(${positionColumn}) from ${instruction})`;
}

/**
 * `first` (which has its own ORDER BY and LIMIT) then `second`, as one statement. SQLite allows
 * no parentheses around the parts of a compound select, so the first goes in a subquery; MySQL
 * joins them its own way (a subquery there is a derived table, materialized on every poll).
 */
export function subqueryUnionAllSql(first: string, second: string): string {
  return `select * from (${first}) page union all ${second}`;
}
