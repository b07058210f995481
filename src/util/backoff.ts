/**
 * The one backoff of distcache: the poller after a failed poll, the PostgreSQL listener and the
 * SQLite file watch after a lost connection or watch. Jittered and exponential: attempt 0 waits
 * about `base`, each later attempt twice as long, capped at `max`. The delay is drawn from
 * [d/2, d], so processes that lost the database at the same moment do not all come back at once.
 */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const d = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + (random() * d) / 2);
}
