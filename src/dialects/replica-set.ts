import type { Knex } from 'knex';
import { boundQuery, type BoundableQuery } from '../store/bound-query.js';
import type { ReplicaReport } from '../store/store.js';

/**
 * One replica: its knex, and what the last read found. Shared by the dialects that read replicas
 * (PostgreSQL, MySQL/MariaDB); what makes a replica's read exact is each dialect's own.
 */
export class Replica {
  readonly report: ReplicaReport;
  private downUntil = 0;
  /** When the dialect last checked this replica's settings (MySQL/MariaDB); 0: never. */
  settingsCheckedAt = 0;

  constructor(
    readonly knex: Knex,
    private readonly maxLag: number,
    private readonly retryAfter: number,
    defaultPort: number,
  ) {
    this.report = { name: replicaName(knex, defaultPort), state: 'unknown', tickAgeMs: null, lastError: null, checkedAt: null };
  }

  get resting(): boolean {
    return Date.now() < this.downUntil;
  }

  bounded<T extends BoundableQuery>(query: T, ms: number): Promise<Awaited<T>> {
    return boundQuery(query, ms, true);
  }

  /**
   * Its query failed ('down'), its settings cannot make a read exact ('not-exact'), or it does not
   * apply the primary's transactions ('stopped'): left alone for retryAfter, then tried again.
   */
  failed(message: string, state: 'down' | 'not-exact' | 'stopped' = 'down'): void {
    this.downUntil = Date.now() + this.retryAfter;
    Object.assign(this.report, { state, lastError: message, checkedAt: new Date() });
  }

  /**
   * Judges a page it answered: usable unless it shows no tick or a tick older than maxLag. A page
   * whose target this replica has not replayed (`served` false: a window begun elsewhere) is not
   * usable either, but says nothing against the replica.
   */
  answered(tickAgeMs: number | null, served: boolean): boolean {
    const state = tickAgeMs === null ? 'no-tick' : tickAgeMs > this.maxLag ? 'lagging' : 'ok';
    Object.assign(this.report, { state, tickAgeMs, checkedAt: new Date() });
    if (state === 'ok') this.report.lastError = null;
    return state === 'ok' && served;
  }
}

/** The replicas, in the order given: reads go to the first that can serve them. */
export class ReplicaSet {
  private readonly replicas: Replica[];

  constructor(knexes: readonly Knex[], maxLag: number, retryAfter: number, defaultPort: number) {
    this.replicas = knexes.map((k) => new Replica(k, maxLag, retryAfter, defaultPort));
  }

  all(): readonly Replica[] {
    return this.replicas;
  }

  /** Those to try, in order: every one not resting after a failure (when none is left, the primary serves). */
  candidates(): Replica[] {
    return this.replicas.filter((r) => !r.resting);
  }

  /** The first replica whose last read found it usable. */
  healthy(): Replica | undefined {
    return this.replicas.find((r) => !r.resting && r.report.state === 'ok');
  }

  reports(): ReplicaReport[] {
    return this.replicas.map((r) => ({ ...r.report }));
  }
}

function replicaName(knex: Knex, defaultPort: number): string {
  const connection = (knex.client as { config?: { connection?: unknown } }).config?.connection;
  if (typeof connection === 'string') {
    try {
      const url = new URL(connection);
      return `${url.hostname}:${url.port || String(defaultPort)}${url.pathname}`;
    } catch {
      return 'replica';
    }
  }
  const c = (connection ?? {}) as { host?: string; port?: number; database?: string };
  return `${c.host ?? 'localhost'}:${c.port ?? defaultPort}/${c.database ?? ''}`;
}
