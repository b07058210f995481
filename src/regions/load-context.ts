import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';
import { checkTags, type LoadContext } from './options.js';

/** The decisions a loader made through its context. */
export class LoadDecisions implements LoadContext {
  ttlMs: number | undefined;
  lateTags: string[] | undefined;
  skipped = false;

  constructor(
    private readonly region: string,
    readonly signal: AbortSignal,
  ) {}

  ttl(ttl: Duration): LoadContext {
    const parsed = parseDuration(ttl);
    if (parsed === undefined || parsed === 0) {
      throw new errors.InvalidOptionError(`region('${this.region}') ctx.ttl: ${JSON.stringify(ttl)} is not a positive duration`);
    }
    this.ttlMs = parsed;
    return this;
  }

  tags(tags: string[]): LoadContext {
    this.lateTags = [...(this.lateTags ?? []), ...checkTags(this.region, 'ctx.tags', tags)];
    return this;
  }

  skip(): LoadContext {
    this.skipped = true;
    return this;
  }
}
