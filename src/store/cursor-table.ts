import type { CursorState } from './store.js';
import { CURSOR_COLUMNS, toCursor } from './columns.js';
import type { TableAccess } from './table-access.js';

/** `cache_cursor`: each server's stored position and cold-boot flag, the same statements on every dialect. */
export class CursorTable {
  constructor(private readonly db: TableAccess) {}

  private cursors() {
    return this.db.knex(this.db.tables.cursor).where('cluster', this.db.cluster);
  }

  async load(identity: string): Promise<CursorState | undefined> {
    const raw = await this.db.bounded(
      this.cursors()
        .select(...CURSOR_COLUMNS)
        .where('server_identity', identity)
        .first(),
    );
    return raw ? toCursor(raw) : undefined;
  }

  /** Moves the cursor, keeping its cold-boot flag (an update first: the common case, one statement). */
  async save(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    const identityColumn = databaseIdentity === undefined ? {} : { database_identity: databaseIdentity };
    const values = { position, last_synced: this.db.nowSql(), ...identityColumn };
    const updated = await this.db.bounded(this.cursors().where('server_identity', identity).update(values));
    if (updated > 0) return;
    await this.db.bounded(
      this.db
        .knex(this.db.tables.cursor)
        .insert({ cluster: this.db.cluster, server_identity: identity, cold_boot_requested: false, database_identity: null, ...values })
        .onConflict(['cluster', 'server_identity'])
        .merge(Object.keys(values)),
    );
  }

  /** Moves the cursor and clears its cold-boot flag: the end of a cold boot. */
  async reset(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    const values = {
      position,
      cold_boot_requested: false,
      last_synced: this.db.nowSql(),
      ...(databaseIdentity === undefined ? {} : { database_identity: databaseIdentity }),
    };
    await this.db.bounded(
      this.db
        .knex(this.db.tables.cursor)
        .insert({ cluster: this.db.cluster, server_identity: identity, database_identity: databaseIdentity ?? null, ...values })
        .onConflict(['cluster', 'server_identity'])
        .merge(Object.keys(values)),
    );
  }

  async requestColdBoot(identity: string): Promise<boolean> {
    const updated = await this.db.bounded(this.cursors().where('server_identity', identity).update({ cold_boot_requested: true }));
    return updated > 0;
  }

  async requestColdBootAll(): Promise<number> {
    return this.db.bounded(this.cursors().update({ cold_boot_requested: true }));
  }

  async list(): Promise<Array<CursorState & { identity: string }>> {
    const raws = await this.db.bounded(
      this.cursors()
        .select('server_identity', ...CURSOR_COLUMNS)
        .orderBy('server_identity'),
    );
    return raws.map((raw: Record<string, unknown>) => ({ identity: String(raw.server_identity), ...toCursor(raw) }));
  }

  async delete(identity: string): Promise<boolean> {
    return (await this.db.bounded(this.cursors().where('server_identity', identity).delete())) > 0;
  }
}
