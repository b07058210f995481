/** One cache's interest in one channel. */
export interface Subscription {
  readonly channel: string;
  onWake(): void;
  onError?(error: Error, retryInMs: number): void;
  /** Woken once after its channel is LISTENed on the current connection. */
  pendingWake: boolean;
  /** Resolves `subscribe()`: after the first wake, or after a connect attempt failed. */
  settle?: () => void;
  /** Sends a NOTIFY with `payload` on `channel` through the application's pool (another session than the listener's). */
  notifyThroughPool?: (payload: string) => Promise<unknown>;
}

/**
 * The caches of this process that share one listener, by channel: who is woken when a NOTIFY
 * arrives or a write of this process commits, and who is owed a wake after a (re)connect.
 */
export class Subscriptions {
  private readonly byChannel = new Map<string, Set<Subscription>>();

  add(subscription: Subscription): void {
    let set = this.byChannel.get(subscription.channel);
    if (!set) this.byChannel.set(subscription.channel, (set = new Set()));
    set.add(subscription);
  }

  /** False if it was not subscribed. A channel left with no subscriber is forgotten (and so UNLISTENed). */
  remove(subscription: Subscription): boolean {
    const set = this.byChannel.get(subscription.channel);
    if (!set?.delete(subscription)) return false;
    if (set.size === 0) this.byChannel.delete(subscription.channel);
    return true;
  }

  has(channel: string): boolean {
    return this.byChannel.has(channel);
  }

  channels(): Iterable<string> {
    return this.byChannel.keys();
  }

  /** Wakes every subscriber of `channel` except `except` (the cache whose write it was). */
  wake(channel: string, except?: Subscription): void {
    for (const subscription of this.byChannel.get(channel) ?? []) if (subscription !== except) callSafely(subscription.onWake);
  }

  /** After a (re)connect: whatever was committed while nobody listened sent a NOTIFY nobody heard. */
  owePendingWakes(): void {
    for (const s of this.all()) s.pendingWake = true;
  }

  /** Wakes every subscriber that is owed a wake and whose channel `isListening`. */
  wakePending(isListening: (channel: string) => boolean): void {
    for (const [channel, set] of this.byChannel) {
      if (!isListening(channel)) continue;
      for (const subscription of set) {
        if (!subscription.pendingWake) continue;
        subscription.pendingWake = false;
        callSafely(subscription.onWake);
        subscription.settle?.();
      }
    }
  }

  /** Resolves every pending `subscribe()`: start() never waits for a database that is down. */
  settleAll(): void {
    for (const s of this.all()) s.settle?.();
  }

  reportError(error: Error, retryInMs: number): void {
    for (const s of this.all()) s.onError?.(error, retryInMs);
  }

  /** A subscription that can send the probe's NOTIFY through the application's pool, if any. */
  probeSender(): { channel: string; send: (payload: string) => Promise<unknown> } | undefined {
    for (const s of this.all()) if (s.notifyThroughPool) return { channel: s.channel, send: s.notifyThroughPool };
    return undefined;
  }

  private *all(): Iterable<Subscription> {
    for (const set of this.byChannel.values()) yield* set;
  }
}

function callSafely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A wake is a hint; a subscriber that throws must not stop the others.
  }
}
