import knexFactory, { type Knex } from 'knex';

export interface Product {
  id: number;
  name: string;
  price: number;
}

/**
 * One SQLite file shared by every process of this machine. WAL lets readers run while one process
 * writes; busy_timeout makes a writer wait for the lock instead of failing with SQLITE_BUSY.
 */
export function sqliteKnex(filename: string): Knex {
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('busy_timeout = 10000');
        done(null, conn);
      },
    },
  });
}

/** The application's own table: distcache never touches it. */
export async function createProducts(knex: Knex): Promise<void> {
  await knex.schema.createTable('product', (table) => {
    table.integer('id').primary();
    table.string('name').notNullable();
    table.float('price').notNullable();
  });
  await knex('product').insert([
    { id: 1, name: 'Kettle', price: 25 },
    { id: 2, name: 'Teapot', price: 18 },
    { id: 3, name: 'Mug', price: 6 },
  ]);
}
