import { describeError } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import type { InstructionStore } from '../store/store.js';

export interface PruneResult {
  deleted: number;
  /** Servers that had not read every deleted row; they cold-boot at their next poll. */
  marked: string[];
  durationMs: number;
}

export interface PrunerSettings {
  retention: number;
  chunkSize: number;
}

/**
 * Deletes old rows in bounded chunks, each its own short transaction, so writers are never held
 * up for long. Any server whose cursor had not reached a deleted row is marked for a cold boot
 * in the same transaction as the delete, so a prune can make a server reload, never miss a row.
 * Several pruners at once are safe: a row deleted twice is simply gone.
 */
export class Pruner {
  private running: Promise<PruneResult> | undefined;

  constructor(
    private readonly store: InstructionStore,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly settings: PrunerSettings,
  ) {}

  /** Prunes now; a call while a prune runs shares it. `coveredBy` limits deletion to rows those positions have read. */
  prune(coveredBy?: () => Promise<readonly string[] | undefined>): Promise<PruneResult> {
    this.running ??= this.run(coveredBy).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(coveredBy?: () => Promise<readonly string[] | undefined>): Promise<PruneResult> {
    const started = performance.now();
    const marked = new Set<string>();
    let deleted = 0;
    try {
      const covered = coveredBy ? await coveredBy() : undefined;
      for (;;) {
        const chunk = await this.store.pruneChunk({ olderThanMs: this.settings.retention, limit: this.settings.chunkSize, coveredBy: covered });
        deleted += chunk.deleted;
        chunk.marked.forEach((identity) => marked.add(identity));
        if (chunk.deleted < this.settings.chunkSize) break;
        // Let other work (polls, writes) run between chunks.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.warn({ err: describeError(error), deleted }, 'prune failed; it runs again at its next schedule');
      this.events.emit('prune:error', { error });
      throw error;
    }
    const result = { deleted, marked: [...marked], durationMs: performance.now() - started };
    if (deleted > 0) this.logger.info({ deleted, marked: result.marked }, 'pruned the cache instruction log');
    this.events.emit('prune:complete', result);
    return result;
  }
}
