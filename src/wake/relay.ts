import type { DialectStatement } from '../store/executor.js';
import type { WakeSource } from './wake-source.js';

/**
 * The IPC messages between a `cluster` primary's relay (integrations/cluster.ts) and its workers'
 * caches. The type names are distinctive so an application's own worker messages never match.
 */
export const RELAY_WAKE = 'distcache:relay-wake';
export const RELAY_NOTIFY = 'distcache:relay-notify';

export interface RelayMessage {
  type: typeof RELAY_WAKE | typeof RELAY_NOTIFY;
  channel: string;
}

export function isRelayMessage(message: unknown, type: RelayMessage['type']): message is RelayMessage {
  const m = message as Partial<RelayMessage> | null;
  return typeof m === 'object' && m !== null && m.type === type && typeof m.channel === 'string';
}

/** The relay sources started in this process: a write of one cache wakes its siblings here directly. */
const started = new Set<RelayWakeSource>();

/** How many relay wake sources of this process are started; tests check that none leaks. */
export function openRelayCount(): number {
  return started.size;
}

/**
 * The wake-up of a cache in a `cluster` worker (`notify: 'relay'`): it holds no database session;
 * the primary's one LISTEN session wakes it over IPC, and its commits go to the primary over IPC,
 * which tells the other workers and NOTIFYs the other hosts. A lost message only delays: the
 * poll interval stays the safety net, as for every wake source.
 */
export class RelayWakeSource implements WakeSource {
  readonly kind = 'cluster-relay' as const;
  private onWake: (() => void) | undefined;
  private stopped = false;
  private readonly onMessage = (message: unknown): void => {
    if (isRelayMessage(message, RELAY_WAKE) && message.channel === this.channel) this.onWake?.();
  };

  constructor(
    readonly channel: string,
    /** The NOTIFY an executor's transaction runs: the primary's listener hears it and relays it. */
    private readonly transactionNotify?: DialectStatement,
  ) {}

  start(onWake: () => void): Promise<void> {
    if (this.onWake || this.stopped) return Promise.resolve();
    this.onWake = onWake;
    // A 'message' listener keeps the IPC channel referenced; stop() removes it so the worker can exit.
    process.on('message', this.onMessage);
    started.add(this);
    // Whatever was committed before this cache listened sent no wake-up to it.
    onWake();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.onWake) process.off('message', this.onMessage);
    this.onWake = undefined;
    started.delete(this);
    return Promise.resolve();
  }

  notifyCommitted(): void {
    if (!this.onWake) return;
    for (const sibling of started) if (sibling !== this && sibling.channel === this.channel) sibling.onWake?.();
    if (!process.connected) return;
    try {
      process.send?.({ type: RELAY_NOTIFY, channel: this.channel } satisfies RelayMessage);
    } catch {
      // The primary is going away; the other processes' polls still deliver.
    }
  }

  inTransactionNotify(): DialectStatement | undefined {
    return this.transactionNotify;
  }

  get listening(): boolean {
    return this.onWake !== undefined && process.connected === true;
  }

  get problem(): string | undefined {
    if (this.stopped || process.send) return undefined;
    return (
      "notify: 'relay' needs a cluster worker whose primary runs clusterWakeRelay.primary() (distcache/cluster); " +
      'this process has no IPC channel, so only polling delivers'
    );
  }
}
