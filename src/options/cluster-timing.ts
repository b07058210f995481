import { DEFAULTS, type DistributedCacheOptions } from '../options.js';
import { ROLE_OPTIONS } from '../cluster/roles.js';
import { duration, human, invalid, STORED } from './checks.js';

/**
 * Role and timing of the cluster. Unset timings follow staleServerTimeout, so setting only that
 * one (say '30s' in a test) gives a consistent set. The two checks are what the guarantees rest on.
 */
export function clusterTiming(options: DistributedCacheOptions, retention: number) {
  const role = options.role ?? DEFAULTS.role;
  if (!ROLE_OPTIONS.includes(role)) {
    invalid('role', `${JSON.stringify(role)} is not a role; use 'auto' (elected), 'single', 'scheduling-publisher' or 'subscriber'`);
  }
  const staleSet = options.staleServerTimeout !== undefined;
  const heartbeatSet = options.heartbeatInterval !== undefined;
  const leaseSet = options.leaseDuration !== undefined;
  // At most a day: a heartbeat that rare means nothing.
  const heartbeatGiven = heartbeatSet ? duration('heartbeatInterval', options.heartbeatInterval, 0, 10, 86_400_000) : undefined;
  // Whichever of the two is set gives the other: twelve heartbeats to a stale timeout, so setting
  // only heartbeatInterval (say '5m') gives a consistent set instead of failing on a derived value.
  const staleServerTimeout = duration(
    'staleServerTimeout',
    options.staleServerTimeout,
    Math.max(DEFAULTS.staleServerTimeout, 12 * (heartbeatGiven ?? 0)),
    50,
    STORED,
  );
  const heartbeatDefault = Math.min(staleSet ? Math.round(staleServerTimeout / 12) : DEFAULTS.heartbeatInterval, 86_400_000);
  const heartbeatInterval = heartbeatGiven ?? heartbeatDefault;
  // At least three heartbeats, and short enough that a dead holder is replaced within the stale timeout.
  const leaseWanted = Math.max(staleSet ? Math.round(staleServerTimeout / 4) : DEFAULTS.leaseDuration, 3 * heartbeatInterval);
  const leaseDefault = Math.min(leaseWanted, staleServerTimeout - heartbeatInterval);
  if (!leaseSet && leaseDefault < 2 * heartbeatInterval) {
    // Both set, too close together for any lease: name what the user wrote, not the derived lease.
    invalid(
      'heartbeatInterval',
      `${human(heartbeatInterval)} is too long for staleServerTimeout (${human(staleServerTimeout)}): ` +
        `staleServerTimeout must be at least three heartbeats (${human(3 * heartbeatInterval)}), ` +
        `so the publisher lease can outlast a late renewal and still be replaced before the server looks dead; ` +
        `lower heartbeatInterval or raise staleServerTimeout`,
    );
  }
  const leaseDuration = duration('leaseDuration', options.leaseDuration, leaseDefault, 20, STORED);
  if (leaseDuration < 2 * heartbeatInterval) {
    invalid(
      'leaseDuration',
      `${human(leaseDuration)} must be at least twice heartbeatInterval (${human(heartbeatInterval)}), ` +
        `so one late renewal does not lose the lease; raise leaseDuration or lower heartbeatInterval`,
    );
  }
  if (leaseDuration + heartbeatInterval > staleServerTimeout) {
    invalid(
      'staleServerTimeout',
      `${human(staleServerTimeout)} is shorter than leaseDuration + heartbeatInterval ` +
        `(${human(leaseDuration)} + ${human(heartbeatInterval)}), the longest a dead publisher can go unreplaced; ` +
        `raise staleServerTimeout or lower leaseDuration`,
    );
  }
  const maxRetention = duration('maxRetention', options.maxRetention, Math.max(DEFAULTS.maxRetention, retention), 1000, STORED);
  if (maxRetention < retention)
    invalid(
      'maxRetention',
      `${human(maxRetention)} is shorter than retention (${human(retention)}); the hard cap must be at least the retention`,
    );
  const forgetServersAfter = duration(
    'forgetServersAfter',
    options.forgetServersAfter,
    Math.max(maxRetention, staleServerTimeout),
    50,
    STORED,
  );
  if (forgetServersAfter < staleServerTimeout) {
    invalid(
      'forgetServersAfter',
      `${human(forgetServersAfter)} is shorter than staleServerTimeout (${human(staleServerTimeout)}); ` +
        `only a server that is already inactive can be forgotten`,
    );
  }
  return { role, heartbeatInterval, staleServerTimeout, leaseDuration, maxRetention, forgetServersAfter };
}
