/**
 * Fails when modules of src/ import each other in a circle (BullMQ runs `madge --circular` in
 * `pretest` for the same reason). `npm test` runs it right after the build, before any test, so CI
 * stops on a cycle first. Every relative import counts, `import type` included: two files whose
 * types need each other still cannot be read, or moved, one without the other. Tarjan's strongly
 * connected components: each component of more than one file is one cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf } from '../test/support/layer-map.js';

/** The TypeScript sources (this runs compiled, from dist/scripts; the sources sit beside dist). */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = sourceFiles(SRC);
const known = new Set(files);
const graph = new Map(
  files.map((file) => [
    file,
    importsOf(readFileSync(file, 'utf8'))
      .map(({ spec }) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .filter((target) => known.has(target)),
  ]),
);

let index = 0;
const stack: string[] = [];
const state = new Map<string, { index: number; low: number; onStack: boolean }>();
const cycles: string[][] = [];
function visit(v: string): void {
  const sv = { index, low: index, onStack: true };
  state.set(v, sv);
  index++;
  stack.push(v);
  for (const w of graph.get(v)!) {
    const sw = state.get(w);
    if (!sw) {
      visit(w);
      sv.low = Math.min(sv.low, state.get(w)!.low);
    } else if (sw.onStack) sv.low = Math.min(sv.low, sw.index);
  }
  if (sv.low === sv.index) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      state.get(w)!.onStack = false;
      component.push(relative(SRC, w));
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) cycles.push(component.sort());
  }
}
for (const file of files) if (!state.has(file)) visit(file);

if (cycles.length > 0) {
  console.error(`src/ has ${cycles.length} import cycle(s); each line is a set of files that import each other in a circle:`);
  for (const c of cycles) console.error('  ' + c.join(' <-> '));
  process.exitCode = 1;
} else {
  console.log(`check-cycles: no import cycle among the ${files.length} files of src/`);
}
