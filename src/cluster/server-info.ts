import { decodeRefresherIds } from './published-refreshers.js';
import { decodeRegions, type PublishedRegion } from './published-regions.js';
import { WAKE_UP_STATES, type WakeUpState } from './health.js';
import { toBool, toDate } from '../store/columns.js';
import type { ServerRole } from './roles.js';

// What the server table says about a server, as the API hands it out (see server-table.ts for the table).

/** Who this process is, as registered in the server table. */
export interface Registration {
  identity: string;
  /** Unique per DistributedCache instance; tells two processes with one identity apart. */
  instanceId: string;
  host: string;
  pid: number;
  packageVersion: string;
}

/** One row of `cache.servers()`. Times are by the database clock. */
export interface ServerInfo {
  identity: string;
  cluster: string;
  instanceId: string;
  host: string;
  pid: number;
  packageVersion: string;
  /** The role it last reported; 'stopped' after a clean stop(). See `active` for whether it is still there. */
  role: ServerRole | 'stopped';
  active: boolean;
  registeredAt: Date | null;
  lastHeartbeat: Date | null;
  lastError: string | null;
  /** Holds the scheduling-publisher lease, unexpired by the database clock. */
  holdsLease: boolean;
  /** The wake-up state it published with its last heartbeat (migration 010); null when it published none. */
  wakeUp: WakeUpState | null;
  /** This is the instance that asked. */
  self: boolean;
}

/** A server row with what it published: its refresher ids (migration 003) and regions (006); for the Admin API. */
export interface PublishedServerInfo extends ServerInfo {
  refreshers: string[] | null;
  regions: PublishedRegion[] | null;
}

/** One row of the server table (read whole) as the API shows it, with what its server published. */
export function toServerInfo(r: Record<string, unknown>, selfInstance: string, leaseHolder: string | null): PublishedServerInfo {
  return {
    identity: String(r.server_identity),
    cluster: String(r.cluster),
    instanceId: String(r.instance_id),
    host: String(r.host),
    pid: Number(r.pid),
    packageVersion: String(r.package_version),
    role: String(r.role) as ServerRole | 'stopped',
    active: toBool(r.active),
    registeredAt: toDate(r.registered_at),
    lastHeartbeat: toDate(r.last_heartbeat),
    lastError: r.last_error == null ? null : String(r.last_error),
    holdsLease: leaseHolder !== null && String(r.instance_id) === leaseHolder,
    self: String(r.instance_id) === selfInstance,
    wakeUp: WAKE_UP_STATES.includes(r.wake_up as WakeUpState) ? (r.wake_up as WakeUpState) : null,
    refreshers: decodeRefresherIds(r.refreshers),
    regions: decodeRegions(r.regions),
  };
}
