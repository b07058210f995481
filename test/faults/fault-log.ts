import { closeSync, existsSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';

/**
 * What child processes of the fault tests report, one JSON object per line, appended with a
 * synchronous write. A line written is in the kernel's page cache the moment writeSync returns,
 * so a SIGKILL a microsecond later cannot lose it; IPC messages, by contrast, may still sit in a
 * buffer. The refresher writes its line *as* its apply (the line is the cache), so "applied but
 * not reported" cannot happen; "reported, then killed before the cursor was stored" is the
 * at-least-once case and shows up as a duplicate after the restart.
 */
export type FaultEvent =
  | { t: 'boot'; pid: number; at: number; identity: string }
  | { t: 'started'; pid: number; at: number }
  | { t: 'apply-begin'; pid: number; at: number; n: number }
  | { t: 'applied'; pid: number; at: number; key: string; refresher?: string }
  | { t: 'apply-end'; pid: number; at: number }
  | { t: 'refresh-all'; pid: number; at: number; refresher?: string }
  | { t: 'cold-boot'; pid: number; at: number; position: string; reason: string }
  | { t: 'head-start'; pid: number; at: number; position: string }
  | { t: 'sync-error'; pid: number; at: number; code: string | null; message: string }
  | { t: 'sync-ok'; pid: number; at: number; rows: number }
  | { t: 'attempt'; pid: number; at: number; key: string }
  | { t: 'committed'; pid: number; at: number; key: string; rowIds: number[] }
  | { t: 'rolled-back'; pid: number; at: number; key: string }
  | { t: 'write-error'; pid: number; at: number; key: string; code: string | null; message: string; direct: boolean }
  | { t: 'holding'; pid: number; at: number; key: string }
  | { t: 'stopped'; pid: number; at: number };

export class EventLog {
  private readonly fd: number;
  constructor(file: string) {
    this.fd = openSync(file, 'a');
  }
  write(event: FaultEvent): void {
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Reads a log as it grows; a line still being written is left for the next read. */
export class LogReader {
  private offset = 0;
  private rest = '';
  constructor(readonly file: string) {}

  read(): FaultEvent[] {
    if (!existsSync(this.file)) return [];
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const text = this.rest + buffer.toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      return lines.filter(Boolean).map((line) => JSON.parse(line) as FaultEvent);
    } finally {
      closeSync(fd);
    }
  }
}
