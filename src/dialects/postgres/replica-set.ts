import type { Knex } from 'knex';
import { boundQuery, type BoundableQuery } from '../../store/bound-query.js';
import { useProtocolCancel } from './cancel.js';
import type { ReplicaReport } from '../../store/store.js';

/** One replica: its knex, and what the last read found. */
export class Replica {
  readonly report: ReplicaReport;
  private downUntil = 0;

  constructor(
    readonly knex: Knex,
    private readonly maxLag: number,
    private readonly retryAfter: number,
  ) {
    // Timed-out statements are cancelled through the protocol, as on the primary (see cancel.ts).
    useProtocolCancel(knex);
    this.report = { name: replicaName(knex), state: 'unknown', tickAgeMs: null, lastError: null, checkedAt: null };
  }

  get resting(): boolean {
    return Date.now() < this.downUntil;
  }

  bounded<T extends BoundableQuery>(query: T, ms: number): Promise<Awaited<T>> {
    return boundQuery(query, ms, true);
  }

  failed(message: string): void {
    this.downUntil = Date.now() + this.retryAfter;
    Object.assign(this.report, { state: 'down', lastError: message, checkedAt: new Date() });
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

  constructor(knexes: readonly Knex[], maxLag: number, retryAfter: number) {
    this.replicas = knexes.map((k) => new Replica(k, maxLag, retryAfter));
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

function replicaName(knex: Knex): string {
  const connection = (knex.client as { config?: { connection?: unknown } }).config?.connection;
  if (typeof connection === 'string') {
    try {
      const url = new URL(connection);
      return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
    } catch {
      return 'replica';
    }
  }
  const c = (connection ?? {}) as { host?: string; port?: number; database?: string };
  return `${c.host ?? 'localhost'}:${c.port ?? 5432}/${c.database ?? ''}`;
}
