/**
 * Type-checks every `@example` in the JSDoc of src/ (kysely does the same), so an example cannot
 * name what does not exist (a `prismaExecutor` once did) or call an API with the wrong shape.
 * `npm test` runs it right after the build. Each example becomes a module of its own: its
 * `import` lines at the top, its body inside an async function, after a preamble that imports the
 * package's entry points and declares what an example may take as given (`knex`, `cache`, `db`,
 * `app`, `Product`; see PREAMBLE). An example that is one option (`role: ...`) is checked as a property of
 * DistributedCacheOptions. `distcache` and `distcache/*` resolve to the sources through the
 * package's own exports map. Exits 1, listing each error at its example's file and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

export interface Example {
  /** Where it is written: src-relative file and the line of its `@example` tag. */
  file: string;
  line: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The `@example` blocks of one file's JSDoc comments: to the next tag or the end of the comment. */
export function examplesOf(file: string, text: string): Example[] {
  const examples: Example[] = [];
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const lines = comment[0].split('\n').map((l) => l.replace(/^\s*\/?\*\*?\/?\s?/, '').replace(/\s*\*\/$/, ''));
    const startLine = text.slice(0, comment.index).split('\n').length;
    for (let i = 0; i < lines.length; i++) {
      const tag = /^@example\b\s*(.*)$/.exec(lines[i]!);
      if (!tag) continue;
      const body = tag[1] ? [tag[1]] : [];
      let j = i + 1;
      for (; j < lines.length && !lines[j]!.startsWith('@'); j++) body.push(lines[j]!);
      examples.push({ file, line: startLine + i, code: body.join('\n').trim() });
      i = j - 1;
    }
  }
  return examples;
}

const PREAMBLE = `import knexFactory, { type Knex } from 'knex';
import { DistributedCache, type CacheRefresher, type DistributedCacheOptions } from 'distcache';
import { Admin } from 'distcache/admin';
import { mapRefresher, lruRefresher, keyvRefresher, cacheManagerRefresher, withPayloadSchema } from 'distcache/refreshers';
import { numbered, type Executor } from 'distcache/executors';
import { z } from 'zod';
import type pg from 'pg';
import { LRUCache } from 'lru-cache';
import Keyv from 'keyv';
import { createCache } from 'cache-manager';
interface Product { id: number; price: number; draft?: boolean; hot?: boolean; categoryId: number }
declare const knex: Knex;
declare const cache: DistributedCache;
/** The application's own objects: anything goes. */
declare const db: any, app: any, queue: any, priceFile: Array<{ id: number; price: number }>;
declare const client: pg.Client;
declare const products: CacheRefresher, productCache: Map<number, { id: number; price: number }>;
declare function importPrices(data: unknown): Promise<void>;
declare function runNightlyImport(): void;
declare function requireLogin(req: unknown, res: unknown, next: () => void): void;
/** The application's own session lookup. */
declare function adminName(req: unknown): string | undefined;
void [knexFactory, DistributedCache, Admin, mapRefresher, lruRefresher, keyvRefresher, cacheManagerRefresher, withPayloadSchema];
void [LRUCache, Keyv, createCache, numbered, z];
export type { CacheRefresher, DistributedCacheOptions, Executor, Product };
`;

/** One example as a module: a preamble line count is kept so errors point into the example. */
export function exampleModule(example: Example): { text: string; bodyStart: number } {
  const lines = example.code.split('\n');
  const imports = lines.filter((l) => /^import\s/.test(l));
  let body = lines.filter((l) => !/^import\s/.test(l)).join('\n');
  // `(...)` stands for arguments the example leaves out.
  body = body.replace(/\(\.\.\.\)/g, '(undefined as never)');
  // One option of DistributedCacheOptions, as `name: value`.
  if (/^[a-zA-Z]+:\s/.test(body) && !body.includes('\n')) body = `const options: DistributedCacheOptions = { ${body} };\nvoid options;`;
  const head = `${PREAMBLE}${imports.join('\n')}\nexport async function example(): Promise<void> {\n`;
  return { text: `${head}${body}\n}\n`, bodyStart: head.split('\n').length - 1 };
}

/** `distcache` and `distcache/<entry>` -> the sources, from the package's exports map. */
function packagePaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const paths: Record<string, string[]> = {};
  for (const [entry, target] of Object.entries(pkg.exports)) {
    const types = (target as { types?: string }).types;
    if (!types) continue;
    paths[entry === '.' ? 'distcache' : `distcache/${entry.slice(2)}`] = [
      join(ROOT, types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts')),
    ];
  }
  return paths;
}

export function checkExamples(examples: Example[]): string[] {
  const dir = join(ROOT, 'src', '__examples__');
  const files = new Map<string, { example: Example; bodyStart: number; text: string }>();
  examples.forEach((example, i) => {
    const { text, bodyStart } = exampleModule(example);
    files.set(join(dir, `example-${i}.ts`), { example, bodyStart, text });
  });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    // The application objects (`app`, `db`) are \`any\`; their callbacks' parameters may be too.
    noImplicitAny: false,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    // The distcache/nestjs examples use Nest's decorators, which are the legacy kind.
    experimentalDecorators: true,
    baseUrl: ROOT,
    paths: packagePaths(),
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.readFile = (name) => files.get(name)?.text ?? read(name);
  host.fileExists = (name) => files.has(name) || exists(name);
  const getSource = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) => {
    const own = files.get(name);
    return own ? ts.createSourceFile(name, own.text, version) : getSource(name, version, onError, create);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const problems: string[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const own = diagnostic.file && files.get(diagnostic.file.fileName);
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!own) {
      problems.push(`(outside the examples) ${diagnostic.file?.fileName ?? ''}: ${message}`);
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const at =
      line >= own.bodyStart
        ? `${own.example.file}:${own.example.line} (example line ${line - own.bodyStart + 1})`
        : `${own.example.file}:${own.example.line} (its imports)`;
    problems.push(`${at}: ${message}`);
  }
  return problems;
}

export function allExamples(): Example[] {
  return sourceFiles(SRC).flatMap((file) => examplesOf(relative(ROOT, file), readFileSync(file, 'utf8')));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const examples = allExamples();
  const problems = checkExamples(examples);
  if (problems.length > 0) {
    console.error(`check-examples: ${problems.length} type error(s) in the JSDoc @example blocks of src/:\n${problems.join('\n')}`);
    process.exitCode = 1;
  } else console.log(`check-examples: the ${examples.length} @example blocks of src/ type-check`);
}
