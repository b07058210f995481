import { checkHealth, type ErrorRecord, type HealthReport } from '../cluster/health.js';
import type { ServerRole } from '../cluster/roles.js';
import type { ResolvedOptions } from '../options.js';
import type { Lifecycle } from './lifecycle.js';
import type { CacheParts } from './parts.js';
import { wakeUpState } from './wake-up-state.js';

/** `cache.health()`: what each part knows of this server, judged against the `health` option. */
export function cacheHealth(
  parts: CacheParts,
  lifecycle: Lifecycle,
  errorRecord: ErrorRecord,
  role: ServerRole,
  options: ResolvedOptions,
): Promise<HealthReport> {
  const { store, poller, membership, wake } = parts;
  return checkHealth(
    store,
    {
      identity: options.serverIdentity,
      cluster: options.cluster,
      state: lifecycle.state,
      activity: lifecycle.activity,
      role,
      position: poller.appliedPosition,
      lastSuccessfulSync: poller.lastSuccess,
      lastHeartbeat: membership.lastHeartbeat,
      lastError: errorRecord.latestWith(poller.lastError),
      wakeUp: wakeUpState(wake),
      wakeUpProblem: wake?.problem,
      preparedStatements: store.preparedStatements,
      // Turned off by the user is a choice; turned off by the store is a finding.
      preparedStatementsLost: options.preparedStatements && store.preparedStatements === false,
      databaseChanged: poller.lastDatabaseChange,
      duplicateIdentity: membership.duplicateProblem,
      replicas: store.replicaReports,
    },
    options.health,
  );
}
