import type { Applier } from '../apply/applier.js';
import type { OwnWrites } from '../apply/own-writes.js';
import type { StoredInstructionRow } from '../store/store.js';
import type { ApplyBuffer } from './apply-buffer.js';
import type { BacklogGuard } from './backlog-guard.js';

/** What a poll counts of the rows it read. */
export interface PageCounts {
  rows: number;
  skippedOwn: number;
  malformed: number;
}

/** Who reads the page: this instance (for its own rows) and how rows are decoded. */
export interface PageReader {
  instanceId: string;
  ownWrites: OwnWrites;
  applier: Applier;
}

/**
 * Decodes one page's rows into the apply buffer. Own rows are skipped, but only those this
 * instance applied at write time (see OwnWrites for why not all of its rows). A bad row or
 * instruction is recorded by the applier and replaced by refresh-alls (see Applier.readRow), and the
 * backlog guard may swap a refresher's instructions for one refresh-all.
 */
export async function collectPageRows(
  reader: PageReader,
  rows: StoredInstructionRow[],
  buffer: ApplyBuffer,
  counts: PageCounts,
  guard: BacklogGuard,
): Promise<void> {
  for (const row of rows) {
    counts.rows += 1;
    if (row.originInstance === reader.instanceId && reader.ownWrites.consume(row.id)) {
      counts.skippedOwn += 1;
      continue;
    }
    const read = reader.applier.readRow(row);
    if (read.malformed > 0) {
      counts.malformed += read.malformed;
      await read.recording;
    }
    buffer.add(guard.keep(read.instructions, row.id), row.id);
  }
}
