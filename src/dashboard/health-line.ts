/** What the health line reads of each server (views.ts's DashboardServer has these and more). */
export interface HealthLineServer {
  active: boolean;
  lagSeconds: number | null;
  lastError: string | null;
  /** Published with the heartbeat; 'off' is a warning, not a problem: changes still arrive by polling. */
  wakeUp: string | null;
}

export interface ClusterHealth {
  /** False when an active server lags past the health threshold, has an error, or no server is active. */
  healthy: boolean;
  /** The cluster in one line, such as 'healthy: 3 of 3 servers active, max lag 0.2 s, 0 failures'. */
  line: string;
}

/** The one line at the top of every page. `maxLagSeconds`: the servers' default `health.maxLag`. */
export function clusterHealth(servers: readonly HealthLineServer[], failures: number, maxLagSeconds: number): ClusterHealth {
  const active = servers.filter((s) => s.active);
  const lags = active.map((s) => s.lagSeconds ?? 0);
  const maxLag = lags.length > 0 ? Math.max(...lags) : 0;
  const lagging = active.filter((s) => (s.lagSeconds ?? 0) > maxLagSeconds).length;
  const erroring = active.filter((s) => s.lastError).length;
  const deaf = active.filter((s) => s.wakeUp === 'off').length;
  const problems: string[] = [];
  if (active.length === 0) problems.push('no server is active');
  if (lagging > 0) problems.push(`${lagging} lagging more than ${maxLagSeconds} s`);
  if (erroring > 0) problems.push(`${erroring} reporting an error`);
  const facts =
    `${active.length} of ${servers.length} servers active, max lag ${round(maxLag)} s, ` +
    `${failures} failure${failures === 1 ? '' : 's'} recorded` +
    (deaf > 0 ? `, ${deaf} with the wake-up off (polling only)` : '');
  return problems.length === 0
    ? { healthy: true, line: `healthy: ${facts}` }
    : { healthy: false, line: `unhealthy (${problems.join('; ')}): ${facts}` };
}

function round(seconds: number): string {
  return seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds));
}
