export { dashboard, type DashboardHandler, type FastifyPlugin } from './handler.js';
export type { DashboardOptions, DashboardAction, Authorize, ActionRecord } from './options.js';
export type { OverviewJson, DashboardServer, InstructionsJson, FailuresJson, RegionsJson } from './views.js';
export type { ClusterHealth } from './health-line.js';
