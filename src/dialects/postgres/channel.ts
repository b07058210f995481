import { createHash } from 'node:crypto';

/** PostgreSQL truncates identifiers to 63 bytes; pg_notify() refuses longer channel names. */
const MAX_CHANNEL_BYTES = 63;

/**
 * The NOTIFY channel of one cluster's instruction log: `distcache:<prefix>:<cluster>`, or a hash
 * of it when that would not fit in 63 bytes. The prefix cannot hold ':', so two logs never share
 * a name by accident; a hash collision would only cost spurious wake-ups, never a missed row.
 * Channels are per database, so two databases need nothing more.
 */
export function notifyChannel(tablePrefix: string, cluster: string): string {
  const plain = `distcache:${tablePrefix}:${cluster}`;
  if (Buffer.byteLength(plain) <= MAX_CHANNEL_BYTES) return plain;
  return `distcache:${createHash('sha256').update(plain).digest('hex').slice(0, 40)}`;
}

/** A channel name quoted for LISTEN, UNLISTEN and NOTIFY, which take an identifier, not a parameter. */
export function quoteChannel(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A NOTIFY payload quoted as a literal: the plain statement runs in one round trip, unlike pg_notify($1, $2). */
export function quotePayload(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
