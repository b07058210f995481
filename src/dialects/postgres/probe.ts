import type { Logger } from '../../logger.js';

/**
 * Whether LISTEN works on the listener's connection. It succeeds through a transaction-mode
 * pooler too, but the server session that ran it is handed to other clients after the
 * transaction, so no notification ever arrives. The probe therefore sends a NOTIFY with a unique
 * payload through the application's pool (`send`), never the listener's own connection: through
 * such a pooler that connection's next transaction may land on the very session that listens and
 * hear itself, which would prove nothing. `heard` is how the listener reports the payload back.
 */
export async function probeWakeUp(options: {
  payload: string;
  timeoutMs: number;
  send: (payload: string) => Promise<unknown>;
  onHeard: (handler: ((payload: string) => void) | undefined) => void;
}): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let heard = false;
  let wake: (() => void) | undefined;
  options.onHeard((payload) => {
    if (payload !== options.payload) return;
    heard = true;
    wake?.();
  });
  try {
    // The wait starts once the NOTIFY has committed: waiting for a busy pool is not a lost NOTIFY.
    await options.send(options.payload);
    if (!heard) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.timeoutMs);
        timer.unref();
      });
    }
    return heard;
  } finally {
    clearTimeout(timer);
    options.onHeard(undefined);
  }
}

/** What health() and the one warning say when the probe was not heard. */
export function probeFailedReason(timeoutMs: number, advice: string | undefined): string {
  return (
    `the wake-up is off: a NOTIFY sent through the pool was not heard by the listener within ${timeoutMs} ms, ` +
    'as behind a transaction-mode pooler (PgBouncer pool_mode = transaction); changes arrive at the next poll (syncInterval). ' +
    (advice ?? '')
  ).trim();
}

/** How many times UNLISTEN is sent looking for the pooled session that ran LISTEN. */
const UNLISTEN_ATTEMPTS = 50;

/**
 * Undoes each LISTEN on the server session that ran it (`listenedOn`: channel to backend pid).
 * Through a transaction pooler each statement may land on any session of the pool, so UNLISTEN is
 * sent, with the pid asked in the same message (`unlistenOnSomeSession` returns it), until it
 * lands on that session. On the others it is harmless: no working LISTEN can live on a
 * transaction-pooled session. The pooler reuses the most recently released session first, so this
 * usually takes one try.
 */
export async function unlistenWhereListened(
  listenedOn: ReadonlyMap<string, number>,
  unlistenOnSomeSession: (channel: string) => Promise<number | undefined>,
  logger: Logger,
): Promise<void> {
  for (const [channel, pid] of listenedOn) {
    let reached = false;
    for (let attempt = 0; attempt < UNLISTEN_ATTEMPTS && !reached; attempt++) reached = (await unlistenOnSomeSession(channel)) === pid;
    if (!reached) logger.debug({ channel, pid }, 'could not reach the pooled session that ran LISTEN to undo it');
  }
}
