import type { IncomingMessage } from 'node:http';
import type { Knex } from 'knex';
import { Admin } from '../admin/admin.js';
import { errors } from '../errors.js';

/** What an action does; `authorize` is asked about each one. */
export type DashboardAction = 'resync' | 'resync-all' | 'prune';

/**
 * Whether `req` may run `action`. Return true, or a name for who is acting (recorded with the
 * action); anything else refuses it with 403.
 */
export type Authorize = (req: IncomingMessage, action: DashboardAction) => boolean | string | Promise<boolean | string>;

/** One action the dashboard ran, with who ran it: what `onAction` receives. */
export interface ActionRecord {
  at: string;
  action: DashboardAction;
  /** The server, for a single resync. */
  server: string | null;
  /** `dashboard:<who>@<host>`, the same form the CLI's rows carry in `originated`. */
  originated: string;
  result: unknown;
}

export interface DashboardOptions {
  /** A Knex instance on the database the servers share; the dashboard never destroys it. Give this or `admin`. */
  knex?: Knex;
  /** An Admin already made (the CLI passes its own); `knex`, `tablePrefix` and `cluster` are then not used. */
  admin?: Admin;
  /** The servers' `tablePrefix`. @default '' */
  tablePrefix?: string;
  /** The servers' `cluster`. @default 'default' */
  cluster?: string;
  /** Asked before every action. @default refuses every action: the dashboard is read-only */
  authorize?: Authorize;
  /** Show the contents of payload instructions (they may hold application data). @default false */
  showPayloads?: boolean;
  /** How often an open page refreshes from its JSON endpoint, in milliseconds; 0 turns it off. @default 5000 */
  refreshInterval?: number;
  /**
   * Key for the pages' CSRF tokens. Give the same one to every process behind one load balancer,
   * so a page served by one is accepted by another. @default a random key per dashboard
   */
  csrfSecret?: string;
  /** Called after each action ran (write it to your audit log). @default none */
  onAction?: (record: ActionRecord) => void;
}

export interface ResolvedDashboardOptions {
  readonly admin: Admin;
  readonly authorize: Authorize;
  readonly showPayloads: boolean;
  readonly refreshInterval: number;
  readonly csrfSecret: string | undefined;
  readonly onAction: ((record: ActionRecord) => void) | undefined;
}

/** Defaults of the dashboard and of `distcache dashboard`, declared once. */
export const DASHBOARD_DEFAULTS = Object.freeze({
  refreshInterval: 5000,
  /** `distcache dashboard --port`. */
  port: 8080,
  /** `distcache dashboard --host`: loopback, so nothing is exposed by accident. */
  host: '127.0.0.1',
});

const refuseAll: Authorize = () => false;

/** Defaults and validation in one place; the result is frozen. */
export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (!options || typeof options !== 'object') throw new errors.InvalidOptionError('dashboard: pass an options object with knex');
  let admin = options.admin;
  if (admin === undefined) {
    if (typeof options.knex !== 'function') throw new errors.InvalidOptionError('knex: a Knex instance is required (or pass admin)');
    admin = new Admin({ knex: options.knex, tablePrefix: options.tablePrefix, cluster: options.cluster });
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function')
    throw new errors.InvalidOptionError('authorize: a function (req, action) => boolean | string, or leave it out to refuse every action');
  const refreshInterval = options.refreshInterval ?? DASHBOARD_DEFAULTS.refreshInterval;
  if (!Number.isSafeInteger(refreshInterval) || refreshInterval < 0)
    throw new errors.InvalidOptionError(`refreshInterval: ${refreshInterval} must be a whole number of milliseconds, or 0 for none`);
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16))
    throw new errors.InvalidOptionError('csrfSecret: a string of at least 16 characters');
  return Object.freeze({
    admin,
    authorize: options.authorize ?? refuseAll,
    showPayloads: options.showPayloads === true,
    refreshInterval,
    csrfSecret: options.csrfSecret,
    onAction: options.onAction,
  });
}
