import type { WakeUpState } from '../cluster/health.js';
import type { WakeSource } from '../wake/wake-source.js';

/** What `health().wakeUp` says and each heartbeat publishes in the server row (migration 010). */
export function wakeUpState(wake: WakeSource | undefined): WakeUpState {
  return !wake ? 'disabled' : wake.problem !== undefined ? 'off' : wake.listening ? 'on' : 'connecting';
}
