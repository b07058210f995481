/** The prose around the results table in BENCHMARKS.md. Edit here, then `node dist/bench/run.js --render=.tmp/bench-last.json`. */

export const INTRO = `
Written by \`npm run bench\` (\`bench/run.ts\`); \`npm run bench -- --quick\` runs the same figures
with small backlogs and short runs in under two minutes. Each figure follows issue 5's table
(#1 to #7). Each comparison is measured side by side in the same run:
operation by operation (#1, #2) or in short alternating blocks (#3). Where a floor is not met,
the verdict says so, and the notes below say what limits it.
`;

export const NOTES = `
## How each figure is measured

1. **Propagation.** The writer is the benchmark process; the receiver is a child process with its
   own pool and a refresher that stamps each arrival. Both read one wall clock
   (\`performance.timeOrigin + performance.now()\`, the same machine). A change counts from the moment the
   writer's \`refreshPayload()\` returned (the row is committed) to the moment the receiver's refresher
   ran. The NOTIFY baseline is a bare \`pg_notify()\` on its own connection, heard by a bare \`LISTEN\`
   in the receiver, counted from just before it was sent. The two alternate, one sample each, every
   4 to 12 ms. The poll-only rows write at random moments, so each change waits for a random part of the
   interval.
2. **Write throughput.** One writer, one call at a time. distcache's call and a raw knex insert of
   the same row into the same table alternate operation by operation, each timed, so both see the
   same machine at the same moment. On PostgreSQL the wake-up NOTIFY is included. Instructions/s
   counts ids: a \`batch()\` of 100 \`refresh(id)\` calls is 100 instructions in one row.
3. **Concurrent writers.** 8 or 32 connections, each inserting one row per statement, in 0.75 s
   blocks that rotate between the three ways of writing (see the figure's note).
4. **Catch-up.** The backlog is written by SQL on the server, in transactions of 1,000 rows, dated
   30 days ago, behind the cursor of one server. Statistics are gathered (\`ANALYZE\`), as autovacuum
   would have done on a table that grew over time. A child process then reads it twice: first with a
   raw keyset-paged SELECT of 100 rows a page (on MariaDB naming its \`(cluster, id)\` index, without
   which MariaDB scans from the start of the log for every page), then with \`cache.sync()\` (pageSize 100), which
   decodes, coalesces, applies and stores the cursor. Memory is the child's peak RSS and heap above
   what it used before the sync (sampled every 5 ms and at every refresher call, after a
   \`gc()\`). A catch-up that does not finish by its deadline is stopped, and its rate is compared.
   The coalescing row writes 10,000 rows that each refresh id 42.
5. **Idle poll.** First the database settles after writing the backlog (PostgreSQL \`CHECKPOINT\`,
   InnoDB's dirty pages flushed until they stop falling, SQLite's WAL checkpointed). Then a fresh
   server whose cursor is at the head of that table polls back to back in a child process. Each poll
   alternates with a \`select 1\` through the same knex pool and one on a bare driver connection
   (no knex, no pool), the floors this machine allows at that moment. A server polls for as long as
   it runs, so the figure is the steady state: 1,000 rounds of all three run before any is timed.
   Queries are counted with knex's \`query\` event.
6. **Prune.** Four writers call \`refresh()\` through DistributedCache back to back. They run alone for
   a baseline (before and after), then while \`cache.prune()\` deletes every expired row with the default \`pruneChunkSize\` and \`pruneDutyCycle\`.
7. **Fleet.** Four child processes with five DistributedCache instances each (own identities, one
   shared pool per process, default heartbeat and the prune schedule), polling every second. One writer
   sends 10 changes a second, then nothing for the idle phase. CPU comes from \`process.cpuUsage()\` in
   each child and from \`/proc\` for the database.

## What changed since the previous full run

The previous full run (same command, same machine, quiet: load 0.4) measured, before the changes
listed in CHANGELOG.md under "speed": #1 PostgreSQL wake-up p50 2.78 ms / p99 5.43 ms; #2 ratios
0.43–0.65 on PostgreSQL, 0.52–0.82 on MariaDB, 0.29–0.50 on SQLite; #3 distcache/plain 0.56–0.57
on PostgreSQL; #4 catch-up 0.36 (PostgreSQL), 0.65 (MariaDB, 100,000 rows), 0.28 (SQLite); #5 idle
poll p50 0.63 ms (PostgreSQL), 0.51 ms (MariaDB), 0.11 ms (SQLite); #6 ratios 2.49 (PostgreSQL),
2.92 (MariaDB), 1.80 (SQLite); #7 with wake-up 407 queries/s and 30 % of a core while writing.
What moved them, measured one change at a time with the same interleaved method (ad hoc scripts
over the bench's own helpers):
- **Statements kept prepared** (the poll and the one-row write, every dialect): an idle PostgreSQL
  poll 0.69 → 0.22 ms at p50 (p99 1.1 → 0.4 ms when measured alone); MariaDB 0.53 → 0.22 ms,
  half of it from a parenthesized UNION instead of a derived table.
- **The write path** (no timer for synchronous refreshers, no second coalescing, payloads of
  events and hooks built only when listened to, one shared promise inside \`batch()\`, a Set fast
  path in coalescing): SQLite one refresh() of 1,000 ids 0.39 → 0.87 before the statements were
  kept prepared.
- **NOTIFY as a plain statement** on a session with \`synchronous_commit = off\`: 0.2 → 0.13 ms per
  NOTIFY; PostgreSQL one-row writes with the wake-up on 0.85 → 0.99 of raw.
- **Decoding without a reviver** when a row cannot hold a forbidden key: the largest JavaScript
  cost of a catch-up (0.7 µs of about 1 µs per row).
- **MariaDB position scans name the (cluster, seq) index**: without it each page of a catch-up cost
  more than the last (1 ms at row 1,000, 4 ms at row 45,000); the raw baseline here names its
  (cluster, id) index for the same reason, which made the baseline about 7 times faster than in
  the previous run. The MariaDB backlog is now 1,000,000 rows like the others.
- **Cursor writes at most once per interval** for wake-up polls: #7 went from 407 to 224
  queries/s while writing, and from 30 % to 14 % of a core.

## What limits the floors that are not met

- **#2, a \`batch()\` of 1,000 separate \`refresh(id)\` calls (PostgreSQL 0.79, SQLite 0.74).** The raw
  baseline inserts one ready-made row of 1,000 ids: about 0.25 ms on SQLite, 0.8 ms on PostgreSQL.
  distcache pays for the 1,000 calls themselves (about 55–95 ns each once warm, measured without
  the insert: argument checks, the AsyncLocalStorage lookup that finds the open batch, the
  registry check) and for coalescing 1,000 instructions (a Set of 1,000 ids), about 0.15 ms in all.
  One \`refresh()\` of the same 1,000 ids, which skips the per-call work, is at 0.91 and 1.09. The
  floor is met for every other size and database, with PostgreSQL's batch of 1,000 at 0.78–0.81
  over four runs.
- **#5 idle poll p99 ≤ 0.5 ms (PostgreSQL, MariaDB).** Each idle poll is one query, and its median
  is within 0.1 ms of a bare \`select 1\` on the same pool (0.28 against 0.21 ms, 0.26 against
  0.17 ms). The p99 is set by the machine: the bare \`select 1\` measured in between has a p99 of
  1.6–1.7 ms in this run, above the floor by itself, and the poll's p99 is no worse than it. Measured
  alone on a quiet moment (3,000 polls), the prepared PostgreSQL poll had p99 0.41 ms and the
  MariaDB poll 0.48 ms; SQLite meets the floor here.
- **#6 prune, p99 ratio ≤ 2× (PostgreSQL 3.1, MariaDB 2.2).** Pruning now rests twice as long as
  each chunk took (\`pruneDutyCycle\` 1/3), uses chunks of 250 rows, and no longer locks rows before
  deleting them on PostgreSQL (that doubled the WAL it wrote). The writers' p99 during the prune
  stays near 5 ms whatever the pace: 4.9–5.2 ms over four runs with chunks of 250 or 1,000 rows and
  duty cycles of 1/3 or 1/2, while the baseline p99 moved between 1.6 and 4.3 ms from run to run, so
  the ratio ranges from 1.3 to 3.1 (ad hoc runs on 300,000 rows: 1.06–1.4 with a duty cycle of 0.1
  or chunks of 100). What sets that 5 ms is not established; deleting 1,000,000 rows writes tens of
  megabytes of WAL on the same two cores and disk as the writers, and checkpoints it triggers are
  the likely cause. An operator can trade prune speed for latency with \`pruneChunkSize\` and
  \`pruneDutyCycle\`. SQLite meets the floor (1.03).
- **#3 (no floor): MariaDB.** The exact cursor costs about half of plain inserts with 8 or 32
  writers: one counter row, locked from each INSERT until its COMMIT, serializes instruction
  writers. distcache itself adds nothing on top (distcache/plain equals exact/plain, as one-row
  writes are single autocommit statements). On PostgreSQL the exact cursor (an xid8 default and one
  more index) costs nothing measurable, and distcache, NOTIFY included, matches plain inserts.
- **#7 (no floor).** Every server converges, with or without the wake-up. With it, each change makes
  each of the 20 servers poll at once (one query each); cursor writes are now at most one per
  server per second. Idle, the fleet costs the same either way (about 28 queries/s: 20 polls plus
  heartbeats).
`;
