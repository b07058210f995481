import { redact } from '../errors.js';
import { escapeControl } from '../util/redact.js';

/** Human text with every control character but its line breaks made visible (refresher names and origins come from SQL writers). */
const visible = (text: string) => text.split('\n').map(escapeControl).join('\n');

/** Where a command writes: streams, plus whether stderr is a terminal (progress only there). */
export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Everything the CLI prints goes through here, and every line is scrubbed on its way out: any
 * URL password is masked (`redact`) and any secret the connection settings hold (the password of
 * `--db`, decoded or not) is replaced, so no error text from a driver can leak one.
 */
export class Output {
  private progressShown = false;

  constructor(
    private readonly streams: Streams,
    readonly json: boolean,
    private readonly secrets: readonly string[] = [],
  ) {}

  /** One JSON document on stdout: the whole output of a `--json` read command. */
  document(value: unknown): void {
    this.write(this.streams.stdout, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** One compact JSON value per line (`tail --follow --json`). */
  jsonLine(value: unknown): void {
    this.write(this.streams.stdout, `${JSON.stringify(value)}\n`);
  }

  /** Human output on stdout. */
  line(text = ''): void {
    this.write(this.streams.stdout, `${visible(text)}\n`);
  }

  /** A message on stderr: errors, and notes that must not pollute piped stdout. */
  error(text: string): void {
    this.clearProgress();
    this.write(this.streams.stderr, `${visible(text)}\n`);
  }

  /** A transient status line on a terminal; nothing when stderr is piped. */
  progress(text: string): void {
    if (!this.streams.stderr.isTTY) return;
    this.progressShown = true;
    this.write(this.streams.stderr, `\r\x1b[2K${escapeControl(text)}`);
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.progressShown = false;
    this.write(this.streams.stderr, '\r\x1b[2K');
  }

  scrub(text: string): string {
    let clean = redact(text);
    for (const secret of this.secrets) clean = clean.split(secret).join('***');
    return clean;
  }

  private write(stream: NodeJS.WritableStream, text: string): void {
    stream.write(this.scrub(text));
  }
}
