import type { Knex } from 'knex';
import type pg from 'pg';

/** How to open the listener connection, and the key under which it is shared in this process. */
export interface ListenerConnection {
  /** Equal for caches whose knex instances connect with the same settings. */
  key: string;
  /** The pg module knex itself loaded, so the listener speaks the same driver version. */
  Client: typeof pg.Client;
  /** Called at every (re)connect, so a knex `connection` function can hand out fresh credentials. */
  config(): Promise<pg.ClientConfig>;
}

export type ConnectionSetting = string | pg.ClientConfig | (() => unknown);

/**
 * The listener is a plain `pg.Client` built from the settings knex was given
 * (`knex.client.config.connection`: a string, an object, or a function returning either), not a
 * connection borrowed from knex's pool: a pooled connection is handed to other queries and
 * recycled, and a LISTEN lives exactly as long as its session.
 */
export function listenerConnection(knex: Knex, own?: ConnectionSetting): ListenerConnection {
  const client = knex.client as { config?: { connection?: ConnectionSetting }; driver?: { Client?: typeof pg.Client } };
  // The `notify` option's own connection (straight to PostgreSQL while queries go through a
  // transaction-mode pooler), else the settings knex was given.
  const setting = own ?? client.config?.connection ?? {};
  const Client = client.driver?.Client;
  if (typeof Client !== 'function')
    throw new Error('the knex instance has no pg driver loaded; the PostgreSQL wake-up needs knex({ client: "pg" })');
  return {
    key: settingKey(setting),
    Client,
    async config() {
      let resolved: unknown = typeof setting === 'function' ? await setting() : setting;
      if (typeof resolved === 'string') resolved = { connectionString: resolved };
      const config = { ...(resolved as pg.ClientConfig) };
      // Visible in pg_stat_activity, so an operator can tell the listener from pooled connections.
      config.application_name ??= 'distcache listener';
      // A dead peer is noticed by the OS rather than never, even with no query running.
      config.keepAlive ??= true;
      return config;
    },
  };
}

const identities = new WeakMap<object, number>();
let nextIdentity = 1;

/** Functions (a password callback, a connection factory) are equal only to themselves. */
function identityOf(value: object): string {
  let id = identities.get(value);
  if (id === undefined) identities.set(value, (id = nextIdentity++));
  return `#${id}`;
}

function settingKey(setting: ConnectionSetting): string {
  if (typeof setting === 'string') return `url:${setting}`;
  if (typeof setting === 'function') return `fn:${identityOf(setting)}`;
  return `obj:${stableJson(setting)}`;
}

function stableJson(value: unknown): string {
  if (typeof value === 'function') return JSON.stringify(identityOf(value));
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
