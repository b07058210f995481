/** Every table distcache owns, with the validated prefix applied. */
export interface TableNames {
  readonly prefix: string;
  readonly instruction: string;
  readonly cursor: string;
  readonly failure: string;
  readonly server: string;
  readonly lease: string;
  /** MySQL only: the commit-ordered sequence row. */
  readonly sequence: string;
  /**
   * The replicated tick (with `replicas`). PostgreSQL: a primary snapshot replicas take page
   * targets from (migration 009). MySQL/MariaDB: a counter and the primary's clock (migration 013).
   */
  readonly tick: string;
  /** Operators' actions (resync, prune) with who ran them, for the dashboard and the CLI (migration 010). */
  readonly action: string;
  readonly migrations: string;
}

/** `prefix` must already be validated (see identifiers.ts). */
export function tableNames(prefix: string): TableNames {
  return Object.freeze({
    prefix,
    instruction: `${prefix}cache_instruction`,
    cursor: `${prefix}cache_cursor`,
    failure: `${prefix}cache_failure`,
    server: `${prefix}cache_server`,
    lease: `${prefix}cache_lease`,
    sequence: `${prefix}cache_sequence`,
    tick: `${prefix}cache_tick`,
    action: `${prefix}cache_action`,
    migrations: `${prefix}distcache_migrations`,
  });
}
