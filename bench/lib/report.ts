import type { Machine } from './machine.js';

/** One line of the results table. */
export interface Figure {
  /** The figure's number in issue 5's table. */
  id: number;
  /** What was measured, e.g. 'propagation, wake-up'. */
  what: string;
  db: string;
  result: string;
  /** The baseline measured side by side in the same run, if any. */
  baseline?: string;
  ratio?: string;
  floor?: string;
  /** Whether the floor was met; undefined where there is no floor. */
  met?: boolean;
  /** What limits it, when a floor is not met; or what the figure means. */
  note?: string;
}

export interface RunInfo {
  machine: Machine;
  command: string;
  mode: 'full' | 'quick' | string;
  startedAt: Date;
  durationS: number;
  loadBefore: string;
  loadAfter: string;
}

const verdict = (f: Figure) => (f.met === undefined ? '' : f.met ? 'met' : '**NOT met**');

export function consoleTable(figures: readonly Figure[]): string {
  const head = ['#', 'figure', 'db', 'result', 'baseline', 'ratio', 'floor', ''];
  const body = figures.map((f) => [
    String(f.id),
    f.what,
    f.db,
    f.result,
    f.baseline ?? '',
    f.ratio ?? '',
    f.floor ?? '',
    f.met === undefined ? '' : f.met ? 'met' : 'NOT MET',
  ]);
  const widths = head.map((h, i) => Math.min(70, Math.max(h.length, ...body.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

export function markdown(figures: readonly Figure[], info: RunInfo, sections: { intro: string; notes: string }): string {
  const m = info.machine;
  const out: string[] = [];
  out.push('# Benchmarks', '', sections.intro.trim(), '');
  out.push('## Where these figures come from', '');
  out.push(
    `- **Command:** \`${info.command}\` (${info.mode} mode), run ${info.startedAt.toISOString()}, took ${Math.round(info.durationS)} s.`,
  );
  out.push(`- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.memory} RAM, ${m.os}, Node.js ${m.node}.`);
  out.push(
    `- **Load average (1/5/15 min):** ${info.loadBefore} before, ${info.loadAfter} after. Other work shared this machine; every ` +
      `comparison below is measured side by side in the same run, so it is the ratios that carry over, not the absolute figures.`,
  );
  for (const [db, version] of Object.entries(m.databases)) out.push(`- **${db}:** ${version}`);
  out.push('', '## Results', '');
  out.push('| # | figure | database | result | baseline (same run) | ratio | floor | verdict | command |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    out.push(
      `| ${f.id} | ${esc(f.what)} | ${esc(f.db)} | ${esc(f.result)} | ${esc(f.baseline ?? '')} | ${esc(f.ratio ?? '')} ` +
        `| ${esc(f.floor ?? '')} | ${verdict(f)} | ${commandFor(f, info.mode)} |`,
    );
  }
  const noted = figures.filter((f) => f.note);
  if (noted.length) {
    out.push('', '### Notes on individual figures', '');
    for (const f of noted) out.push(`- **#${f.id} ${f.what} (${f.db}):** ${f.note}`);
  }
  out.push('', sections.notes.trim(), '');
  return out.join('\n');
}

const DB_FLAG: Record<string, string> = { PostgreSQL: 'postgres', MariaDB: 'mysql', SQLite: 'sqlite' };

/** The command that measures one figure again: its scenario, on its database, in the run's mode. */
export function commandFor(f: Figure, mode: string): string {
  const db = DB_FLAG[f.db];
  return `\`node dist/bench/run.js --only=${f.id}${db ? ` --dbs=${db}` : ''}${mode === 'quick' ? ' --quick' : ''}\``;
}

function esc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
