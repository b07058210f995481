import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
import { runPooled } from '../../store/prepared-runner.js';

/**
 * A statement PostgreSQL parses and plans once per connection instead of once per call.
 *
 * The poll runs many times a second across a fleet, and its statement is long: through knex.raw
 * each call pays for binding substitution in JavaScript and a fresh parse and plan on the server,
 * about 0.45 ms of an idle poll's 0.65 ms here. As a named statement on the same pooled
 * connection it costs about 0.2 ms (docs/design.md, "Statements kept prepared").
 *
 * The name is a hash of the text, so stores with different table prefixes on one pool never
 * collide (pg refuses one name for two texts on a connection).
 */
export class PreparedStatement {
  readonly name: string;

  constructor(readonly text: string) {
    this.name = `distcache_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
  }
}

/**
 * Runs `statement` on a connection from knex's pool, bounded by `timeoutMs` (see runPooled).
 * With `prepare` false (behind a transaction-mode pooler that cannot keep a statement between
 * transactions) the same text runs unnamed: parsed and planned every time, as through knex.raw.
 */
export async function runPrepared(
  knex: Knex,
  statement: PreparedStatement,
  values: unknown[],
  options: { timeoutMs: number; prepare: boolean },
): Promise<Array<Record<string, unknown>>> {
  const config = options.prepare ? { name: statement.name, text: statement.text, values } : { text: statement.text, values };
  const result = await runPooled(knex, statement.text, values, options.timeoutMs, (connection: pg.Client) => connection.query(config));
  return result.rows as Array<Record<string, unknown>>;
}

/**
 * Whether `err` shows that named statements do not survive on this connection: a
 * transaction-mode pooler hands each transaction a different server session, so a statement
 * prepared on one is missing (26000) or already taken (42P05) on another.
 */
export function poolerLostStatement(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '26000' || code === '42P05';
}
