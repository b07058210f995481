import { errors } from '../errors.js';
import { REFRESHER_ID_PATTERN } from '../identifiers.js';
import type { InstructionKind } from '../instructions/types.js';
import type { AnyCacheRefresher } from './refresher.js';

const METHOD_FOR_KIND = {
  'refresh-all': 'refreshAll',
  refresh: 'refresh',
  remove: 'remove',
  payload: 'refreshPayload',
} as const satisfies Record<InstructionKind, keyof AnyCacheRefresher>;

export function methodForKind(kind: InstructionKind): (typeof METHOD_FOR_KIND)[InstructionKind] {
  return METHOD_FOR_KIND[kind];
}

/** The refreshers of one cache, by id. Checked when added, so a bad one fails at construction. */
export class RefresherRegistry {
  private readonly byId = new Map<string, AnyCacheRefresher>();

  add(refresher: AnyCacheRefresher): void {
    if (!refresher || typeof refresher !== 'object') {
      throw new errors.InvalidOptionError('refreshers: each refresher must be an object with an id and a refreshAll() method');
    }
    const { id } = refresher;
    if (typeof id !== 'string' || !REFRESHER_ID_PATTERN.test(id)) {
      throw new errors.InvalidOptionError(
        `refreshers: id ${JSON.stringify(id)} is not valid; use letters, digits and . _ : / - (up to 128 characters), such as ` +
          `'product' or a UUID`,
      );
    }
    if (this.byId.has(id)) {
      throw new errors.DuplicateRefresherError(`refreshers: two refreshers share the id '${id}'; every refresher needs its own stable id`);
    }
    if (typeof refresher.refreshAll !== 'function') {
      throw new errors.InvalidOptionError(
        `refreshers: '${id}' has no refreshAll() method; it is required, as it is also the fallback when another method fails`,
      );
    }
    for (const method of ['refresh', 'remove', 'refreshPayload'] as const) {
      const fn = refresher[method];
      if (fn !== undefined && typeof fn !== 'function') {
        throw new errors.InvalidOptionError(`refreshers: '${id}'.${method} must be a function when given`);
      }
    }
    this.byId.set(id, refresher);
  }

  get(id: string): AnyCacheRefresher | undefined {
    return this.byId.get(id);
  }

  /** For writers: the refresher must exist here and support the kind, or the caller gets a clear error. */
  require(id: string, kind: InstructionKind): AnyCacheRefresher {
    const refresher = this.byId.get(id);
    if (!refresher) {
      const known = [...this.byId.keys()].join(', ') || '(none registered)';
      throw new errors.UnknownRefresherError(`no refresher with id '${id}' is registered; known ids: ${known}`);
    }
    if (!supports(refresher, kind)) {
      throw new errors.UnsupportedKindError(
        `refresher '${id}' has no ${methodForKind(kind)}() method, so it cannot take a '${kind}' instruction; add the method or ` +
          `use refreshAll('${id}')`,
      );
    }
    return refresher;
  }

  all(): AnyCacheRefresher[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }
}

export function supports(refresher: AnyCacheRefresher, kind: InstructionKind): boolean {
  return typeof refresher[methodForKind(kind)] === 'function';
}
