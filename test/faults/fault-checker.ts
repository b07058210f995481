import type { Knex } from 'knex';
import type { DialectName } from '../support/databases.js';

/**
 * The one checker every fault test reports to. It is told what was committed, rolled back and
 * applied (by which server identity and process), and when each server cold-booted, and it
 * judges per server:
 *
 * - **lost**: committed, never applied by that server (any of its processes), and not covered by a
 *   cold boot (or a refreshAll() fallback) of that server after the commit;
 * - **unexpected**: applied, yet rolled back or never written;
 * - **duplicated**: applied more than once (allowed: delivery is at-least-once), counted;
 * - the longest delay from commit to first apply.
 *
 * "Covered" is decided exactly where it can be: a cold boot stores a position (the head it took
 * before refreshing), and a row is covered iff that position covers the row (row id on SQLite,
 * `seq` on MySQL, the writing transaction's id against the snapshot on PostgreSQL). Failing that,
 * by time, and only in the safe direction: a refreshAll() that *started* after the commit was
 * *reported* certainly reloaded after the commit.
 */

/** What a refresher saw: `key` is the instruction's id (tests use unique ids as instruction keys). */
export interface ApplyRecord {
  server: string;
  pid: number;
  key: string;
  at: number;
}

export interface CoverRecord {
  server: string;
  pid: number;
  /** When the refreshAll() began; covers what was committed (reported) before. */
  at?: number;
  /** A cold boot's head position: covers every row it covers. */
  position?: string;
  /** Only this refresher's instructions (a fallback); undefined: every refresher (a cold boot). */
  refresher?: string;
  reason: 'cold-boot' | 'fallback';
}

type KeyState = 'committed' | 'rolled-back' | 'attempted';

interface KeyInfo {
  state: KeyState;
  refresher: string;
  /** When the commit was reported (local clock, after the commit). */
  at?: number;
  /** Row id (SQLite), seq (MySQL) or txid (PostgreSQL) of the row holding it. */
  cover?: string;
  /** Where the key was found in the database at the end, if it was. */
  inDatabase?: boolean;
}

export interface ServerReport {
  server: string;
  expected: number;
  applied: number;
  lost: number;
  unexpected: number;
  duplicated: number;
  /** Covered by a cold boot or a fallback rather than applied. */
  covered: number;
  coldBoots: number;
  /** Committed but given up on, with a failure record saying so. */
  excused: number;
  maxDelayMs: number | null;
  processes: number;
  lostKeys: string[];
  unexpectedKeys: string[];
}

export interface CheckerReport {
  committed: number;
  rolledBack: number;
  /** Attempts whose outcome nobody reported and the database does not hold: never committed. */
  neverWritten: number;
  /** Reported rolled back, yet found in the database: a real failure of the writer's test, counted. */
  rolledBackButPresent: number;
  servers: ServerReport[];
  totals: { lost: number; unexpected: number; duplicated: number; maxDelayMs: number | null };
}

/** Whether a stored position covers a row, per dialect (see docs/design.md). */
export function positionCovers(dialect: DialectName, position: string, cover: string): boolean {
  if (dialect !== 'postgres') return BigInt(cover) <= BigInt(position);
  // 'xmin:xmax:xip1,xip2': visible iff txid < xmin, or txid < xmax and not in progress.
  const [xmin, xmax, xip = ''] = position.split(':');
  const txid = BigInt(cover);
  if (txid < BigInt(xmin!)) return true;
  if (txid >= BigInt(xmax!)) return false;
  return !xip
    .split(',')
    .filter(Boolean)
    .some((x) => BigInt(x) === txid);
}

export class FaultChecker {
  private readonly keys = new Map<string, KeyInfo>();
  /** Per server, per key: first apply, how many, by which processes. */
  private readonly applies = new Map<string, Map<string, { first: number; count: number }>>();
  private readonly pids = new Map<string, Set<number>>();
  private readonly covers: CoverRecord[] = [];
  private readonly expectations = new Map<string, (key: string) => boolean>();
  private readonly excusedKeys = new Map<string, Set<string>>();
  private readonly coveredKeys = new Map<string, Set<string>>();

  constructor(readonly dialect: DialectName) {}

  /** `server` must get every committed instruction matching `filter` (default: all). */
  expect(server: string, filter: (key: string) => boolean = () => true): void {
    this.expectations.set(server, filter);
  }

  attempted(key: string, refresher = 'item'): void {
    if (!this.keys.has(key)) this.keys.set(key, { state: 'attempted', refresher });
  }

  committed(key: string, info: { at?: number; cover?: string; refresher?: string } = {}): void {
    const known = this.keys.get(key);
    this.keys.set(key, {
      ...known,
      state: 'committed',
      refresher: info.refresher ?? known?.refresher ?? 'item',
      at: info.at ?? known?.at,
      cover: info.cover ?? known?.cover,
    });
  }

  rolledBack(key: string, refresher = 'item'): void {
    this.keys.set(key, { ...this.keys.get(key), state: 'rolled-back', refresher });
  }

  applied(server: string, pid: number, key: string, at = Date.now()): void {
    let keys = this.applies.get(server);
    if (!keys) this.applies.set(server, (keys = new Map()));
    const seen = keys.get(key);
    if (seen) {
      seen.count++;
      seen.first = Math.min(seen.first, at);
    } else keys.set(key, { first: at, count: 1 });
    let pids = this.pids.get(server);
    if (!pids) this.pids.set(server, (pids = new Set()));
    pids.add(pid);
  }

  cover(record: CoverRecord): void {
    this.covers.push(record);
  }

  /**
   * `key` is known to be covered on `server` without a time or position argument: e.g. the applier
   * read its row, the refresher failed, and its refreshAll() fallback succeeded afterwards.
   */
  coveredKey(server: string, key: string): void {
    let set = this.coveredKeys.get(server);
    if (!set) this.coveredKeys.set(server, (set = new Set()));
    set.add(key);
  }

  /** The server gave up on `key` and recorded it (a refresher whose refreshAll() fails too). */
  excuse(server: string, key: string): void {
    let set = this.excusedKeys.get(server);
    if (!set) this.excusedKeys.set(server, (set = new Set()));
    set.add(key);
  }

  /**
   * Reads the instruction table at the end: every key found there was committed (whatever its
   * writer managed to report before it was killed), and its row gives the exact cover value.
   * `keysOf` extracts instruction keys from a row's JSON.
   */
  async resolveFromDatabase(
    knex: Knex,
    table: string,
    keysOf: (json: string) => Array<{ key: string; refresher: string }> = itemKeys,
  ): Promise<void> {
    const coverColumn = this.dialect === 'postgres' ? knex.raw('txid::text as c') : this.dialect === 'mysql' ? 'seq as c' : 'id as c';
    const rows: Array<{ c: unknown; json_instruction: unknown }> = await knex(table).select(coverColumn, 'json_instruction');
    for (const row of rows) {
      const json = Buffer.isBuffer(row.json_instruction) ? row.json_instruction.toString('utf8') : String(row.json_instruction);
      for (const { key, refresher } of keysOf(json)) {
        const known = this.keys.get(key);
        this.keys.set(key, {
          ...known,
          refresher,
          // Present in the log means committed, even if its writer reported a rollback: that
          // contradiction is counted (rolledBackButPresent) and fails the test.
          state: known?.state === 'rolled-back' ? 'rolled-back' : 'committed',
          cover: String(row.c),
          inDatabase: true,
        });
      }
    }
    // An attempt its writer never saw through, and that no row holds, never committed.
    for (const info of this.keys.values()) if (info.state === 'committed' && info.inDatabase === undefined) info.inDatabase = false;
  }

  report(): CheckerReport {
    const committed = [...this.keys].filter(([, k]) => k.state === 'committed');
    const servers = new Set([...this.expectations.keys(), ...this.applies.keys()]);
    const reports: ServerReport[] = [];
    for (const server of [...servers].sort()) {
      const applies = this.applies.get(server) ?? new Map<string, { first: number; count: number }>();
      const covers = this.covers.filter((c) => c.server === server);
      const filter = this.expectations.get(server);
      const excused = this.excusedKeys.get(server) ?? new Set<string>();
      const coveredKeys = this.coveredKeys.get(server) ?? new Set<string>();
      const lostKeys: string[] = [];
      let expected = 0;
      let covered = 0;
      let excusedCount = 0;
      let maxDelayMs: number | null = null;
      if (filter) {
        for (const [key, info] of committed) {
          if (!filter(key)) continue;
          expected++;
          const first = applies.get(key)?.first;
          if (first !== undefined) {
            if (info.at !== undefined) maxDelayMs = Math.max(maxDelayMs ?? 0, first - info.at);
            continue;
          }
          if (coveredKeys.has(key) || covers.some((c) => this.covers_(c, info))) covered++;
          else if (excused.has(key)) excusedCount++;
          else lostKeys.push(key);
        }
      }
      const unexpectedKeys = [...applies.keys()].filter((key) => this.keys.get(key)?.state !== 'committed');
      reports.push({
        server,
        expected,
        applied: applies.size,
        lost: lostKeys.length,
        unexpected: unexpectedKeys.length,
        duplicated: [...applies.values()].reduce((n, a) => n + a.count - 1, 0),
        covered,
        coldBoots: covers.filter((c) => c.reason === 'cold-boot').length,
        excused: excusedCount,
        maxDelayMs: maxDelayMs === null ? null : Math.max(0, Math.round(maxDelayMs)),
        processes: this.pids.get(server)?.size ?? 0,
        lostKeys: lostKeys.slice(0, 20),
        unexpectedKeys: unexpectedKeys.slice(0, 20),
      });
    }
    const delays = reports.map((r) => r.maxDelayMs).filter((d): d is number => d !== null);
    return {
      committed: committed.length,
      rolledBack: [...this.keys.values()].filter((k) => k.state === 'rolled-back').length,
      neverWritten: [...this.keys.values()].filter((k) => k.state === 'attempted').length,
      rolledBackButPresent: [...this.keys.values()].filter((k) => k.state === 'rolled-back' && k.inDatabase).length,
      servers: reports,
      totals: {
        lost: reports.reduce((n, r) => n + r.lost, 0),
        unexpected: reports.reduce((n, r) => n + r.unexpected, 0),
        duplicated: reports.reduce((n, r) => n + r.duplicated, 0),
        maxDelayMs: delays.length ? Math.max(...delays) : null,
      },
    };
  }

  /** Lost keys of one server right now; for waiting until a run has converged. */
  pending(server: string): number {
    return this.report().servers.find((s) => s.server === server)?.lost ?? 0;
  }

  private covers_(c: CoverRecord, info: KeyInfo): boolean {
    if (c.refresher !== undefined && c.refresher !== info.refresher) return false;
    if (c.position !== undefined && info.cover !== undefined && positionCovers(this.dialect, c.position, info.cover)) return true;
    return c.at !== undefined && info.at !== undefined && c.at > info.at;
  }
}

/** One line per server for test diagnostics. */
export function describeReport(report: CheckerReport): string {
  const lines = [
    `committed=${report.committed} rolledBack=${report.rolledBack} neverWritten=${report.neverWritten} ` +
      `lost=${report.totals.lost} unexpected=${report.totals.unexpected} duplicated=${report.totals.duplicated} ` +
      `maxDelayMs=${report.totals.maxDelayMs}`,
  ];
  for (const s of report.servers) {
    lines.push(
      `  ${s.server}: expected=${s.expected} applied=${s.applied} covered=${s.covered} lost=${s.lost} ` +
        `unexpected=${s.unexpected} duplicated=${s.duplicated} coldBoots=${s.coldBoots} excused=${s.excused} ` +
        `processes=${s.processes} maxDelayMs=${s.maxDelayMs}` +
        (s.lostKeys.length ? ` lostKeys=${s.lostKeys.join(',')}` : '') +
        (s.unexpectedKeys.length ? ` unexpectedKeys=${s.unexpectedKeys.join(',')}` : ''),
    );
  }
  return lines.join('\n');
}

/** Keys of the `item` refresher's refresh instructions in a row's JSON; anything unparsable has none. */
export function itemKeys(json: string): Array<{ key: string; refresher: string }> {
  try {
    const doc = JSON.parse(json) as { instructions?: Array<{ refresher?: unknown; kind?: unknown; ids?: unknown }> };
    const out: Array<{ key: string; refresher: string }> = [];
    for (const i of doc.instructions ?? []) {
      if ((i.kind === 'refresh' || i.kind === 'remove') && Array.isArray(i.ids) && typeof i.refresher === 'string') {
        for (const id of i.ids) out.push({ key: String(id), refresher: i.refresher });
      }
    }
    return out;
  } catch {
    return [];
  }
}
