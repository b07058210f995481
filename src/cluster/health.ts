import { describeError } from '../errors.js';
import type { InstructionStore, ReplicaReport } from '../store/store.js';
import type { ServerRole } from './roles.js';

export type ErrorSource = 'sync' | 'heartbeat' | 'prune' | 'write' | 'health';

export interface LastError {
  at: Date;
  source: ErrorSource;
  message: string;
}

/** What `cache.health()` returns: what a load balancer's health endpoint or an alert looks at. */
/**
 * The wake-up's state: 'on' (listening), 'connecting' (not yet, or reconnecting), 'off' (it
 * cannot work here), 'disabled' (`notify: false`, or a dialect without one). Each server
 * publishes it with its heartbeat (migration 010), so the dashboard shows it for every server.
 */
export type WakeUpState = 'on' | 'off' | 'connecting' | 'disabled';

/** The states a published `wake_up` column may hold; anything else reads as null. */
export const WAKE_UP_STATES: readonly WakeUpState[] = ['on', 'off', 'connecting', 'disabled'];

export interface HealthReport {
  /** False when any threshold of the `health` option is crossed, the cache is not started, or the log cannot be read. */
  healthy: boolean;
  /** Why `healthy` is false, one sentence each; empty when healthy. */
  problems: string[];
  identity: string;
  cluster: string;
  state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped';
  /** While starting: the step it is on and for how long, such as 'catching up with the instruction log, for 12.0 s'. */
  activity?: string;
  role: ServerRole;
  /** Rows committed to the log that this server has not applied; null when unknown. */
  pendingRows: number | null;
  /** Instructions in those rows. */
  pendingInstructions: number | null;
  /**
   * How far behind this server is, in seconds: the age, by the database clock, of the oldest row
   * it has not applied (0 when it has applied everything). Unlike "newest row minus last applied
   * row", it keeps growing while a server is stuck even when nothing new is written.
   */
  lagSeconds: number | null;
  /** When a poll last completed, by the local clock. */
  lastSuccessfulSync: Date | null;
  /** When a heartbeat last completed, by the local clock. */
  lastHeartbeat: Date | null;
  lastError: LastError | null;
  /**
   * The wake-up that tells this server about other servers' commits before the next poll:
   * 'on' (listening), 'connecting' (not yet, or reconnecting), 'off' (it cannot work here, see
   * `warnings`), 'disabled' (`notify: false`, or a dialect without one).
   */
  wakeUp: WakeUpState;
  /** PostgreSQL: whether statements still run prepared (false once a pooler showed it cannot keep them); null elsewhere. */
  preparedStatements: boolean | null;
  /**
   * What works, but worse than it should, each with its fix: a wake-up that is off, prepared
   * statements given up. They do not make `healthy` false: every change still arrives by polling.
   */
  warnings: string[];
  /**
   * The last time this server found that its cursor did not belong to the database it reads (a
   * restore, a failover, a PITR) and cold-booted, with what it found; null if never. Not a problem
   * by itself: the cold boot has already reloaded every cache.
   */
  databaseChanged: { at: Date; detail: string } | null;
  /** With the `replicas` option: each replica as the last reads found it; absent without replicas. */
  replicas?: ReplicaReport[];
}

export interface HealthInputs {
  identity: string;
  cluster: string;
  state: HealthReport['state'];
  activity?: string;
  role: ServerRole;
  /** The position this server has applied up to, if it has one. */
  position: string | undefined;
  lastSuccessfulSync: Date | null;
  lastHeartbeat: Date | null;
  lastError: LastError | null;
  wakeUp: HealthReport['wakeUp'];
  wakeUpProblem: string | undefined;
  preparedStatements: boolean | undefined;
  preparedStatementsLost: boolean;
  databaseChanged: { at: Date; detail: string } | null;
  /** Set while another live process heartbeats under this identity: names both pids. */
  duplicateIdentity?: string | undefined;
  replicas?: ReplicaReport[];
}

const STATE_PROBLEMS: Record<Exclude<HealthReport['state'], 'started'>, string> = {
  new: 'the cache is not started',
  starting: 'the cache is starting',
  stopping: 'the cache is stopping',
  stopped: 'the cache is stopped',
};

export interface HealthLimits {
  maxLag: number;
  maxPending: number;
  maxSyncAge: number;
}

/**
 * Measures the lag (two light queries) and judges it against the limits. Never throws: a database
 * that cannot be read is itself the finding.
 */
export async function checkHealth(
  store: Pick<InstructionStore, 'pending' | 'now'>,
  inputs: HealthInputs,
  limits: HealthLimits,
): Promise<HealthReport> {
  const problems: string[] = [];
  let lastError = inputs.lastError;
  let pendingRows: number | null = null;
  let pendingInstructions: number | null = null;
  let lagSeconds: number | null = null;
  if (inputs.state !== 'started') problems.push(STATE_PROBLEMS[inputs.state] + (inputs.activity ? `: ${inputs.activity}` : ''));
  if (inputs.duplicateIdentity) problems.push(inputs.duplicateIdentity);
  if (inputs.position !== undefined) {
    try {
      const [pending, now] = await Promise.all([store.pending(inputs.position), store.now()]);
      pendingRows = pending.rows;
      pendingInstructions = pending.instructions;
      lagSeconds = pending.oldest ? Math.max(0, (now.getTime() - pending.oldest.getTime()) / 1000) : 0;
    } catch (err) {
      const message = describeError(err);
      lastError = { at: new Date(), source: 'health', message };
      problems.push(`the instruction log cannot be read: ${message}`);
    }
  } else if (inputs.state === 'started') {
    problems.push('no position yet: the first sync has not succeeded');
  }
  if (pendingInstructions !== null && pendingInstructions > limits.maxPending) {
    problems.push(`${pendingInstructions} instructions are waiting, more than health.maxPending (${limits.maxPending})`);
  }
  if (lagSeconds !== null && lagSeconds * 1000 > limits.maxLag) {
    problems.push(
      `the oldest instruction not applied is ${lagSeconds.toFixed(1)} s old, more than health.maxLag (${limits.maxLag / 1000} s)`,
    );
  }
  const syncAge = inputs.lastSuccessfulSync ? Date.now() - inputs.lastSuccessfulSync.getTime() : null;
  if (inputs.state === 'started' && (syncAge === null || syncAge > limits.maxSyncAge)) {
    problems.push(
      syncAge === null
        ? 'no poll has succeeded yet'
        : `the last successful poll was ${(syncAge / 1000).toFixed(1)} s ago, more than health.maxSyncAge (${limits.maxSyncAge / 1000} s)`,
    );
  }
  return {
    healthy: problems.length === 0,
    problems,
    identity: inputs.identity,
    cluster: inputs.cluster,
    state: inputs.state,
    ...(inputs.activity ? { activity: inputs.activity } : {}),
    role: inputs.role,
    pendingRows,
    pendingInstructions,
    lagSeconds,
    lastSuccessfulSync: inputs.lastSuccessfulSync,
    lastHeartbeat: inputs.lastHeartbeat,
    lastError,
    wakeUp: inputs.wakeUp,
    preparedStatements: inputs.preparedStatements ?? null,
    warnings: healthWarnings(inputs),
    databaseChanged: inputs.databaseChanged,
    ...(inputs.replicas ? { replicas: inputs.replicas } : {}),
  };
}

function healthWarnings(inputs: HealthInputs): string[] {
  const warnings: string[] = [];
  if (inputs.wakeUpProblem) warnings.push(inputs.wakeUpProblem);
  if (inputs.preparedStatementsLost) {
    warnings.push(
      'prepared statements are off: the connection does not keep them between transactions (a transaction-mode pooler such as ' +
        'PgBouncer before 1.21); ' +
        ('each poll is parsed and planned again. Fix: PgBouncer 1.21+ with max_prepared_statements, or set preparedStatements: ' +
          'false to say so'),
    );
  }
  for (const r of inputs.replicas ?? []) {
    if (r.state === 'ok' || r.state === 'unknown') continue;
    const why =
      r.state === 'lagging'
        ? `its newest tick is ${((r.tickAgeMs ?? 0) / 1000).toFixed(1)} s old (replay stopped or slow)`
        : r.state === 'no-tick'
          ? 'it shows no tick yet (migration 009 or 013 not replayed, or no server has ticked)'
          : r.state === 'not-exact' || r.state === 'stopped'
            ? (r.lastError ?? r.state)
            : `it cannot be reached: ${r.lastError ?? 'unknown error'}`;
    warnings.push(`replica ${r.name} is passed over: ${why}; reads go to another replica or the primary`);
  }
  return warnings;
}

/** The latest error from any source, for health() and the server row. */
export class ErrorRecord {
  private latest: LastError | null = null;

  record(source: ErrorSource, err: unknown): void {
    this.latest = { at: new Date(), source, message: describeError(err) };
  }

  /** The latest of this record and `other` (the poller keeps its own). */
  latestWith(other: { at: Date; message: string } | null): LastError | null {
    if (other && (!this.latest || other.at > this.latest.at)) return { at: other.at, source: 'sync', message: other.message };
    return this.latest;
  }
}
