import type { Admin } from '../admin/admin.js';
import type { ActivityView } from '../admin/activity.js';
import type { ActionView } from '../admin/actions.js';
import type { WakeUpState } from '../admin/servers.js';
import type { FailureView } from '../admin/failures.js';
import type { RowView, FullRowView } from '../admin/rows.js';
import type { ServerView } from '../admin/servers.js';
import { DEFAULTS } from '../options.js';
import type { PublishedRegion } from '../admin/servers.js';
import { clusterHealth, type ClusterHealth } from './health-line.js';

/**
 * The JSON behind each page, read through the Admin API (the CLI's own reads). Every read is
 * bounded by an index: no count over the whole log, which `status` does and a page refreshing
 * every few seconds must not.
 */
export interface OverviewJson {
  cluster: string;
  dialect: string;
  now: string;
  health: ClusterHealth;
  publisher: string | null;
  servers: DashboardServer[];
  failures: { count: number };
  /** The newest operator actions (resync, prune) with who ran them, from the database (migration 010). */
  actions: ActionView[];
}

export interface DashboardServer {
  identity: string;
  registered: boolean;
  role: string | null;
  version: string | null;
  host: string | null;
  pid: number | null;
  active: boolean;
  lastHeartbeat: string | null;
  heartbeatAgeSeconds: number | null;
  lagSeconds: number | null;
  pendingRows: number | null;
  pendingInstructions: number | null;
  lastError: string | null;
  /** The wake-up state the server published with its last heartbeat (migration 010); null from an older server. */
  wakeUp: WakeUpState | null;
  coldBootRequested: boolean;
  regions: string[];
}

/** Actions the Overview lists; `distcache actions` shows more. */
export const OVERVIEW_ACTIONS = 10;

export async function overviewJson(admin: Admin): Promise<OverviewJson> {
  const [{ now, publisher, servers }, failures, actions] = await Promise.all([
    admin.servers(),
    admin.failures({ limit: 1 }),
    admin.actions({ limit: OVERVIEW_ACTIONS }),
  ]);
  const list = servers.map(dashboardServer);
  return {
    cluster: admin.cluster,
    dialect: admin.dialect,
    now: now.toISOString(),
    health: clusterHealth(list, failures.total, DEFAULTS.health.maxLag / 1000),
    publisher: publisher?.identity ?? null,
    servers: list,
    failures: { count: failures.total },
    actions,
  };
}

function dashboardServer(s: ServerView): DashboardServer {
  return {
    identity: s.identity,
    registered: s.registered,
    role: s.role,
    version: s.packageVersion,
    host: s.host,
    pid: s.pid,
    active: s.active,
    lastHeartbeat: s.lastHeartbeat,
    heartbeatAgeSeconds: s.heartbeatAgeSeconds,
    lagSeconds: s.lagSeconds,
    pendingRows: s.pendingRows,
    pendingInstructions: s.pendingInstructions,
    lastError: s.lastError,
    wakeUp: s.wakeUp,
    coldBootRequested: s.cursor?.coldBootRequested ?? false,
    regions: (s.regions ?? []).map((r) => r.region),
  };
}

/** Rows the tail filters over: the newest this many, so a filter never scans the log. */
export const TAIL_WINDOW = 500;

export interface InstructionsFilter {
  refresher?: string;
  origin?: string;
  limit: number;
}

export interface InstructionsJson {
  activity: ActivityView;
  filter: { refresher: string | null; origin: string | null; window: number };
  rows: RowView[];
  payloadsHidden: boolean;
}

export async function instructionsJson(admin: Admin, filter: InstructionsFilter, showPayloads: boolean): Promise<InstructionsJson> {
  const [chart, newest] = await Promise.all([admin.activity({ minutes: 60 }), admin.tail({ limit: TAIL_WINDOW })]);
  const rows = newest
    .filter((r) => !filter.origin || r.originated.includes(filter.origin))
    .filter((r) => !filter.refresher || (r.instructions ?? []).some((i) => i.refresher === filter.refresher))
    .reverse()
    .slice(0, filter.limit)
    .map((r) => hidePayloads(r, showPayloads));
  return {
    activity: chart,
    filter: { refresher: filter.refresher ?? null, origin: filter.origin ?? null, window: TAIL_WINDOW },
    rows,
    payloadsHidden: !showPayloads,
  };
}

/** One row in full; its payloads and stored JSON left out unless `showPayloads`. */
export async function rowJson(admin: Admin, id: number, showPayloads: boolean): Promise<FullRowView | (RowView & { json: null })> {
  const row = await admin.show(id);
  if (showPayloads) return row;
  return { ...hidePayloads(row, false), json: null };
}

/** Payload contents are application data; without `showPayloads` only their number is shown. */
function hidePayloads<T extends RowView>(row: T, show: boolean): T {
  if (show || !row.instructions) return row;
  return { ...row, instructions: row.instructions.map((i) => (i.payloads === null ? i : { ...i, payloads: null })) };
}

export interface FailuresJson {
  total: number;
  failures: FailureView[];
}

export async function failuresJson(admin: Admin, limit: number): Promise<FailuresJson> {
  const report = await admin.failures({ limit });
  return { total: report.total, failures: report.failures };
}

export interface RegionsJson {
  servers: Array<{
    identity: string;
    active: boolean;
    lastHeartbeat: string | null;
    regions: Array<PublishedRegion & { hitRatio: number | null }>;
  }>;
}

export async function regionsJson(admin: Admin): Promise<RegionsJson> {
  const { servers } = await admin.servers();
  return {
    servers: servers
      .filter((s) => s.regions !== null && s.regions.length > 0)
      .map((s) => ({
        identity: s.identity,
        active: s.active,
        lastHeartbeat: s.lastHeartbeat,
        regions: s.regions!.map((r) => ({ ...r, hitRatio: r.hits + r.misses > 0 ? r.hits / (r.hits + r.misses) : null })),
      })),
  };
}
