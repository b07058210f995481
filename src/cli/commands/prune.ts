import { cliOrigin } from '../origin.js';
import { DEFAULTS } from '../../options.js';
import { defaultPruneRules, type PruneRules } from '../../admin/prune.js';
import { durationOption, fractionOption, integerOption } from '../args.js';
import type { Command, OptionValues } from '../command.js';
import { count, plural, seconds } from '../format.js';

export const pruneCommand: Command<{ dryRun: boolean; rules: PruneRules }> = {
  name: 'prune',
  summary: 'prune now, with the rules of the scheduled prune; --dry-run shows what would go',
  usage: 'prune [--dry-run] [--retention D] [--max-retention D] [--stale-after D] [--forget-after D] [--chunk-size N] [--duty-cycle F]',
  description:
    'Deletes rows older than --retention that every active server has applied, then rows older than --max-retention regardless ' +
    "(servers that had not read them cold-boot), then forgets servers inactive longer than --forget-after. The servers' own " +
    'settings are not stored in the database: if you changed them, pass the same values here.',
  examples: ['distcache prune --dry-run', 'distcache prune --retention 1d'],
  options: {
    'dry-run': { type: 'boolean', description: 'show what would be deleted, flagged and forgotten; change nothing' },
    retention: {
      type: 'string',
      value: 'DURATION',
      description: 'rows older than this go once every active server applied them (default 2d)',
    },
    'max-retention': { type: 'string', value: 'DURATION', description: 'rows older than this go regardless (default 7d)' },
    'stale-after': {
      type: 'string',
      value: 'DURATION',
      description: 'servers without a heartbeat this long stop holding pruning back (default 2m)',
    },
    'forget-after': { type: 'string', value: 'DURATION', description: 'servers inactive this long are forgotten (default 7d)' },
    'chunk-size': { type: 'string', value: 'N', description: 'rows per delete statement (default 250)' },
    'duty-cycle': {
      type: 'string',
      value: 'F',
      description: 'share of the time spent deleting; after each chunk it rests the rest (default 0.1; 1: no rest, for a quiet database)',
    },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => ({ dryRun: values['dry-run'] === true, rules: pruneRules(values) }),
  access: ({ dryRun }) => (dryRun ? 'read' : 'write'),
  async run({ admin, out }, { dryRun, rules }) {
    if (dryRun) {
      const preview = await admin.prunePreview(rules);
      if (out.json) return out.document({ dryRun: true, ...preview });
      out.line(
        `prune --dry-run: retention ${seconds(preview.retentionSeconds)}, hard cap ${seconds(preview.maxRetentionSeconds)}; ` +
          `nothing was changed`,
      );
      const range = (r: { rows: number; minId: number | null; maxId: number | null }) =>
        r.rows === 0 ? 'nothing' : `${plural(r.rows, 'row')} (ids ${r.minId}..${r.maxId})`;
      out.line(`older than retention, applied by every active server: ${range(preview.withinRetention)}`);
      out.line(`  bounded by the cursors of: ${preview.respecting.join(', ') || '(no active server)'}`);
      out.line(`older than the hard cap, applied or not: ${range(preview.pastMaxRetention)}`);
      out.line(`may be flagged to cold-boot: ${preview.mayColdBoot.join(', ') || 'none'}`);
      out.line(`would be forgotten: ${preview.wouldForget.join(', ') || 'none'}`);
      return;
    }
    const result = await admin.prune(rules, (deleted) => out.progress(`pruning: ${count(deleted)} rows deleted…`), {
      originated: cliOrigin(),
    });
    out.clearProgress();
    if (out.json) return out.document({ dryRun: false, ...result, durationMs: Math.round(result.durationMs) });
    out.line(`deleted ${plural(result.deleted, 'row')} in ${Math.round(result.durationMs)} ms`);
    if (result.marked.length > 0) out.line(`flagged to cold-boot (they had not applied deleted rows): ${result.marked.join(', ')}`);
    if (result.forgotten.length > 0) out.line(`forgot: ${result.forgotten.join(', ')}`);
  },
};

function pruneRules(values: OptionValues): PruneRules {
  const d = defaultPruneRules();
  const retention = durationOption(values, 'retention', d.retention, 'prune');
  const maxRetention = durationOption(values, 'max-retention', Math.max(d.maxRetention, retention), 'prune');
  return {
    retention,
    maxRetention: Math.max(maxRetention, retention),
    staleServerTimeout: durationOption(values, 'stale-after', d.staleServerTimeout, 'prune'),
    forgetServersAfter: durationOption(values, 'forget-after', Math.max(DEFAULTS.forgetServersAfter, maxRetention), 'prune'),
    chunkSize: integerOption(values, 'chunk-size', d.chunkSize, 1, 'prune'),
    dutyCycle: fractionOption(values, 'duty-cycle', d.dutyCycle, 'prune'),
  };
}
