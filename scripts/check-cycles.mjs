#!/usr/bin/env node
// Fails when the modules of src/ import each other in a circle (BullMQ runs `madge --circular` for the
// same reason). Runs before the tests (`npm test`) and in `npm run lint`, so CI catches a cycle before
// any test starts. Every relative import counts, `import type` included: a cycle of types is still two
// files that cannot be read, or moved, one without the other.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative module a file names: static and type imports, re-exports, dynamic import(). */
export function importsOf(text) {
  const found = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)) found.push(m[1]);
  return found;
}

const files = sourceFiles(SRC);
const known = new Set(files);
const graph = new Map(
  files.map((file) => [
    file,
    importsOf(readFileSync(file, 'utf8'))
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .filter((target) => known.has(target)),
  ]),
);

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function visit(v) {
  state.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v)) {
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(relative(SRC, w));
    } while (w !== v);
    if (component.length > 1 || graph.get(v).includes(v)) cycles.push(component.sort());
  }
}
for (const file of files) if (!state.has(file)) visit(file);

if (cycles.length > 0) {
  console.error(`src/ has ${cycles.length} import cycle(s); each line is one set of files that import each other in a circle:`);
  for (const c of cycles) console.error('  ' + c.join(' <-> '));
  process.exitCode = 1;
} else {
  console.log(`no import cycles among ${files.length} files in src/`);
}
