import { createHash } from 'node:crypto';
import { errors } from '../errors.js';

/** The longest text read as a token: a header or cookie from a client is bounded before it is parsed. */
export const MAX_POSITION_TOKEN_LENGTH = 64;

/** No write yet: `waitFor('')` resolves true at once. */
export const NO_POSITION = '';

/**
 * Position tokens of one cluster: `1.<row id in base 36>.<cluster tag>`, e.g. `1.2n9c.kX3_a1`.
 * The row is the newest one a write inserted; what "applied past it" means is decided by the
 * database's own commit order (store.covers), never by comparing ids, which are not commit order.
 * The tag, 6 characters of a hash of the cluster's name, lets a token of another cluster be told
 * apart rather than waited for.
 */
export class PositionTokens {
  private readonly tag: string;

  constructor(cluster: string) {
    this.tag = createHash('sha256').update(cluster).digest('base64url').slice(0, 6);
  }

  make(rowId: number | undefined): string {
    return rowId === undefined || rowId <= 0 ? NO_POSITION : `1.${rowId.toString(36)}.${this.tag}`;
  }

  /** The row id of a token of this cluster, 0 for NO_POSITION; E_INVALID_POSITION for anything else. */
  read(token: unknown): number {
    if (token === NO_POSITION) return 0;
    if (typeof token !== 'string' || token.length > MAX_POSITION_TOKEN_LENGTH) throw invalid(token);
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== '1' || !/^[0-9a-z]{1,11}$/.test(parts[1]!)) throw invalid(token);
    if (parts[2] !== this.tag) {
      throw new errors.InvalidPositionError(
        'waitFor: this position token belongs to another cluster (another tablePrefix/cluster option, or another application); ' +
          'pass tokens only between servers of one cluster',
      );
    }
    const rowId = parseInt(parts[1]!, 36);
    if (!Number.isSafeInteger(rowId) || rowId <= 0) throw invalid(token);
    return rowId;
  }
}

function invalid(token: unknown): Error {
  const shown = typeof token === 'string' ? JSON.stringify(token.slice(0, 24)) + (token.length > 24 ? '…' : '') : typeof token;
  return new errors.InvalidPositionError(
    `waitFor: ${shown} is not a position token; pass the string a write resolved to (or the distcache-position header), unchanged`,
  );
}
