import type { Logger } from '../../logger.js';

/**
 * - connecting: not listening yet, or reconnecting;
 * - on: listening, and a NOTIFY sent through the pool was heard back;
 * - off: the probe's NOTIFY was not heard, so LISTEN does not work on this connection (a
 *   transaction-mode pooler, or a NOTIFY slower than the probe's wait); the listener gave up its
 *   connection, only polling delivers, and it probes again now and then until a probe is heard.
 */
export type WakeUpState = 'connecting' | 'on' | 'off';

export interface ListenerSettings {
  queryTimeout: number;
  logger: Logger;
  /** First reconnect delay; doubles per failed attempt. */
  reconnectBase?: number;
  /** Longest delay between reconnect attempts. */
  reconnectMax?: number;
  /** How often an idle connection is checked with `select 1`, to notice a silently dead peer. */
  livenessInterval?: number;
  /** How long the probe NOTIFY may take to come back before the wake-up is marked off. @default 1000 */
  probeTimeout?: number;
  /** Said in the warning and in health() when the probe fails: how to give the listener a working session. */
  probeAdvice?: string;
  /** First wait before probing again after a failed probe (drawn from half of it to all of it); doubles per failed probe. @default 15000 */
  reprobeBase?: number;
  /** Longest wait between probes while the wake-up is off. @default 60000 */
  reprobeMax?: number;
}

export interface ListenerStats {
  /** Successful connects, the first one included. */
  connects: number;
  /** Failed connect attempts and lost connections. */
  failures: number;
  /** NOTIFYs received from other sessions. */
  notificationsReceived: number;
  /** NOTIFYs sent: on the listener connection, or through knex while it was down. */
  notifiesSent: number;
}
