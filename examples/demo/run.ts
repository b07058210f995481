import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import { migrate, sqliteConfig } from 'distcache';
import type { CoordinatorMessage, ServerMessage } from './messages.js';

import { Tracker } from './tracker.js';

/**
 * `npm run demo`: three server processes share one SQLite file. web-1 changes product prices;
 * web-2 and web-3 print each invalidation as it arrives. It ends by itself with a summary.
 */
const CHANGES = Number(process.env.DEMO_CHANGES ?? 25);
const WRITER = 'web-1';
const identities = [WRITER, 'web-2', 'web-3'];
const filename = join(tmpdir(), `distcache-demo-${process.pid}.sqlite`);
const removeFiles = () => ['', '-wal', '-shm'].forEach((suffix) => rmSync(filename + suffix, { force: true }));

const knex = knexFactory(sqliteConfig(filename));
await migrate(knex);
await knex.schema.createTable('demo_product', (table) => {
  table.integer('id').primary();
  table.decimal('price', 10, 2).notNullable();
});
await knex('demo_product').insert(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, price: 10 + i })));
await knex.destroy();

console.log(`distcache demo: ${identities.length} servers share ${filename}\n`);
const tracker = new Tracker(identities.filter((id) => id !== WRITER));
const children = new Map<string, ChildProcess>();
const server = fileURLToPath(new URL('./server.js', import.meta.url));
for (const identity of identities) {
  const child = fork(server, [filename, identity], { stdio: 'inherit' });
  children.set(identity, child);
  child.on('message', (message: ServerMessage) => tracker.handle(message));
  child.on('exit', (code) => code && tracker.fail(new Error(`${identity} exited with code ${code}`)));
}
const send = (identity: string, message: CoordinatorMessage) => children.get(identity)!.send(message);

try {
  await tracker.until(() => tracker.ready.size === identities.length, 30_000, 'the servers to start');
  send(WRITER, { type: 'write', changes: CHANGES });
  await tracker.until(() => tracker.written === CHANGES, 60_000, `${WRITER} to write ${CHANGES} changes`);
  await tracker.until(() => tracker.converged(), 30_000, 'every server to apply every change');
} finally {
  for (const identity of identities) if (children.get(identity)!.connected) send(identity, { type: 'stop' });
  await Promise.all(
    [...children.values()].map((child) =>
      child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve(),
    ),
  );
  removeFiles();
}

console.log('\nsummary');
console.log(`  instructions written by ${WRITER}: ${tracker.written}`);
for (const [identity, count] of tracker.applied) console.log(`  instructions applied by ${identity}: ${count} (every change reached it)`);
const sorted = [...tracker.delays].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
console.log(`  median propagation delay: ${median.toFixed(1)} ms; largest propagation delay: ${tracker.maxDelay.toFixed(1)} ms`);
// The largest is nearly always one of the first changes: three Node.js processes have just started
// on a small machine (JIT, first statements prepared, SQLite's file lock contended by 3 pollers).
console.log(
  '  (each change reaches the other servers at their next poll, every 200 ms here, or sooner when the watch on the WAL file ' +
    'fires; a largest delay above that is a process still warming up or busy, usually at the first changes)',
);
