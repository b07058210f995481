import { errors } from '../errors.js';

/** The `replicas` option on SQLite, which has none (one file, one writer). */
export function refuseReplicas(): never {
  throw new errors.ReplicasUnsupportedError('replicas: SQLite has no replicas (one file, one writer); remove the option');
}
