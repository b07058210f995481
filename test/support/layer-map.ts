/**
 * The folder dependency matrix of src/, read from its one home: the table between the layer-map
 * markers in docs/design.md. test/layers.test.ts checks every import of src/ against it.
 */
import { posix } from 'node:path';

export interface Layer {
  name: string;
  /** Folders (`store/`) and files (`events.ts`) under src/ that make up the layer. */
  holds: string[];
  /** Layers it may import values and types from. */
  imports: string[];
  /** Layers it may import types only from. */
  typesOnly: string[];
}

export interface LayerMap {
  layers: Layer[];
  byName: Map<string, Layer>;
}

const START = '<!-- layer-map:start -->';
const END = '<!-- layer-map:end -->';

export function readLayerMap(markdown: string): LayerMap {
  const from = markdown.indexOf(START);
  const to = markdown.indexOf(END);
  if (from < 0 || to < from) throw new Error(`docs/design.md has no ${START} ... ${END} table`);
  const rows = markdown
    .slice(from + START.length, to)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter(([name]) => name !== 'layer' && !/^-+$/.test(name ?? ''));
  const names = rows.map(([name]) => name!);
  const layers = rows.map(([name, holds, mayImport]) => {
    const [values, types = ''] = mayImport!.split(/;\s*types only:/);
    const list = (text: string) =>
      text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && s !== '—');
    const every = /^every layer but (.+)$/.exec(values!.trim());
    return {
      name: name!,
      holds: holds!.split(/\s+/).filter(Boolean),
      imports: every ? names.filter((n) => n !== name && !list(every[1]!).includes(n)) : list(values!),
      typesOnly: list(types),
    };
  });
  return { layers, byName: new Map(layers.map((l) => [l.name, l])) };
}

/** Whether `entry` (a folder `x/` or a file `x.ts` of the map) holds `path` (relative to src/). */
export function holds(entry: string, path: string): boolean {
  return entry.endsWith('/') ? path.startsWith(entry) : path === entry;
}

export function layerOf(map: LayerMap, path: string): Layer | undefined {
  return map.layers.find((l) => l.holds.some((h) => holds(h, path)));
}

/** What is wrong with the map itself: unknown layer names, or a cycle through value imports. */
export function mapProblems(map: LayerMap): string[] {
  const problems: string[] = [];
  for (const l of map.layers)
    for (const n of [...l.imports, ...l.typesOnly]) if (!map.byName.has(n)) problems.push(`${l.name} names an unknown layer '${n}'`);
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.push(`cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const n of map.byName.get(name)?.imports ?? []) visit(n, [...path, name]);
    state.set(name, 'done');
  };
  for (const l of map.layers) visit(l.name, []);
  return problems;
}

/** One import of a file: where it points, and whether it brings types only. */
interface Import {
  spec: string;
  typeOnly: boolean;
}

/** Every relative import of a source text: static imports and re-exports (with `type` or not), `import()`, bare `import '...'`. */
export function importsOf(text: string): Import[] {
  const found: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*'(\.{1,2}\/[^']+)'/gm)) {
    const clause = m[3]!.trim();
    const braces = /^\{([\s\S]*)\}$/.exec(clause);
    const allTypes =
      !!braces &&
      braces[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .every((s) => s.startsWith('type '));
    found.push({ spec: m[4]!, typeOnly: !!m[2] || allTypes });
  }
  for (const m of text.matchAll(/\bimport\s*\(\s*'(\.{1,2}\/[^']+)'/g)) found.push({ spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/^\s*import\s+'(\.{1,2}\/[^']+)'/gm)) found.push({ spec: m[1]!, typeOnly: false });
  return found;
}

/** The imports of one file of src/ (path relative to src/) that the map does not allow. */
export function importViolations(map: LayerMap, path: string, text: string): string[] {
  const from = layerOf(map, path);
  if (!from) return [`${path} is in no layer of the map`];
  const problems: string[] = [];
  for (const { spec, typeOnly } of importsOf(text)) {
    const target = posix.normalize(posix.join(posix.dirname(path), spec)).replace(/\.js$/, '.ts');
    const why = (reason: string) => problems.push(`${path} imports '${spec}' (${reason})`);
    if (target.startsWith('../')) {
      // Outside src/: only the runner's list of the frozen migration files may reach there.
      if (!(from.name === 'migrations' && target.startsWith('../migrations/'))) why('outside src/');
      continue;
    }
    const dialect = /^dialects\/([^/]+)\//;
    const a = dialect.exec(path)?.[1];
    const b = dialect.exec(target)?.[1];
    if (a && b && a !== b) {
      why("one dialect's folder never imports another's");
      continue;
    }
    const to = layerOf(map, target);
    if (!to) why('into no layer of the map');
    else if (to === from || from.imports.includes(to.name)) continue;
    else if (from.typesOnly.includes(to.name)) {
      if (!typeOnly) why(`${from.name} may import ${to.name} for types only`);
    } else why(`${from.name} may not import ${to.name}`);
  }
  return problems;
}
