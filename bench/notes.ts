/** The prose around the results table in BENCHMARKS.md. Edit here, then `node dist/bench/run.js --render=.tmp/bench-last.json`. */

export const INTRO = `
Written by \`npm run bench\` (\`bench/run.ts\`; about 30 minutes on a 2-core machine (28 on 2026-12-08), most of it
writing and pruning the 1,000,000-row logs and starting the 1,000-server fleet); \`npm run bench -- --quick\` runs
the same figures with small backlogs, small fleets and short runs in about two minutes. Each figure follows
issue 5's table (#1 to #8) and the issues that added #9 to #12. Each comparison is measured side by side in the same run:
operation by operation (#1, #2) or in short alternating blocks (#3). Where a floor is not met,
the verdict says so, and the notes below say what limits it.
`;

export const NOTES =
  `
## How each figure is measured

1. **Propagation.** The writer is the benchmark process; the receiver is a child process with its
   own pool and a refresher that stamps each arrival. Both read one wall clock
   (\`performance.timeOrigin + performance.now()\`, the same machine). A change counts from the moment the
   writer's \`refreshPayload()\` returned (the row is committed) to the moment the receiver's refresher
   ran. The NOTIFY baseline is a bare \`pg_notify()\` on its own connection, heard by a bare \`LISTEN\`
   in the receiver, counted from just before it was sent. The two alternate, one sample each. Changes
   are spaced 55 to 65 ms apart, beyond the default \`wakeThrottle\` (50 ms): a wake-up polls at once only
   when the last poll started at least that long ago, and closer changes are a stream, answered with one
   poll per \`wakeThrottle\` by design. The PgBouncer row is spaced the same way, the SQLite row twice as far
   (its WAL watch wakes twice per commit, and the second poll opens a window of its own). The
   poll-only rows write at random moments, so each change waits for a random part of the interval.
2. **Write throughput.** One writer, one call at a time. distcache's call and a raw knex insert of
   the same row into the same table alternate operation by operation, each timed, so both see the
   same machine at the same moment. On PostgreSQL the wake-up NOTIFY is included. Instructions/s
   counts ids: a \`batch()\` of 100 \`refresh(id)\` calls is 100 instructions in one row.
3. **Concurrent writers.** 8 or 32 connections, each inserting one row per statement, in 0.75 s
   blocks that rotate between the three ways of writing (see the figure's note).
4. **Catch-up.** The backlog (1,000,000 rows in a full run) is written by SQL on the server, in transactions of 1,000 rows, dated
   30 days ago, behind the cursor of one server. Statistics are gathered (\`ANALYZE\`), as autovacuum
   would have done on a table that grew over time. A child process then reads it three times: a
   raw keyset-paged SELECT of 100 rows a page (on MariaDB naming its \`(cluster, id)\` index, without
   which MariaDB scans from the start of the log for every page), then \`cache.sync()\` (pageSize 100), which
   decodes, coalesces, applies and stores the cursor, then the raw SELECT again. The ratio compares
   distcache with the mean of the two raw scans, so the machine's drift during the run shows on both
   sides (the backlog can be caught up only once). Memory is the child's peak RSS and heap above
   what it used before the sync (sampled every 5 ms and at every refresher call, after a
   \`gc()\`). The note splits the sync's time between the statements (from knex's \`query\` event to
   its \`query-response\`: the database and the driver) and distcache's own work between them. A
   catch-up that does not finish by its deadline, twice the first raw scan's time plus 30 s (10 s in a
   quick run), is stopped, and its rate is compared: at the floor a catch-up takes 1.25× the raw scan.
   The coalescing row writes 10,000 rows that each refresh id 42.
5. **Idle poll.** First the database settles after writing the backlog (PostgreSQL \`CHECKPOINT\`,
   InnoDB's dirty pages flushed until they stop falling, SQLite's WAL checkpointed), and the bench
   waits until the whole machine has been at most 10 % busy over a second (the figure's note says
   how busy). Then a fresh server whose cursor is at the head of that table polls back to back in a
   child process. Each poll alternates with a \`select 1\` through the same knex pool and one on a
   bare driver connection (no knex, no pool), the floors this machine allows at that moment, and with
   the poll's own statement (its SQL text and bindings as the store sent them, captured from knex's
   \`query\` event) prepared on that bare connection: what the database and the driver cost without
   distcache. A server polls for as long as it runs, so the figure is the steady state: 5,000 rounds
   of all four run before any is timed. The floor compares the poll's p50 with the pooled \`select 1\`.
   Queries are counted with knex's \`query\` event. The second row writes three bursts of 400 rows to
   a server woken by each commit, then records when each of its polls ends over 10 s: the loop's rate
   is one over the mean gap between polls an interval apart (a count in a window would read 9 or 10
   polls for the same loop), and a poll that comes early was woken. SQLite's WAL watch wakes on every
   commit to the file, heartbeats and cursors included, twice each (at once, and 5 ms later for a
   commit still being written), so early polls there are checked against the writes seen.
6. **Prune.** Four writers call \`refresh()\` through DistributedCache back to back. They run alone for
   a baseline (before and after), then while \`cache.prune()\` deletes every expired row ` +
  `with the default \`pruneChunkSize\` and \`pruneDutyCycle\` (a quick run uses a duty cycle of 0.5, and says so).
7. **Fleet.** Four child processes with five DistributedCache instances each (own identities, one
   shared pool per process, default heartbeat and the prune schedule), polling every second. One writer
   sends 10 changes a second, then nothing for the idle phase. CPU comes from \`process.cpuUsage()\` in
   each child and from \`/proc\` for the database.
8. **Cache regions.** Hit path: 1,000 cached keys read in turn, \`await region.get(k)\` against an
   async read-through written by hand over lru-cache (get; on a miss load and set), in alternating
   blocks of 200,000 gets in one process; the median rate of each, the first pair left out as JIT
   warm-up. Cold key: 1,000 concurrent \`get\`s of one key whose loader takes 5 ms; the loader calls are
   counted. Memory: one child process per mode, started with \`--expose-gc\`, fills 100,000 entries
   \`{ id, name, price }\` into a region or a plain lru-cache; the heap grown between two full GCs.
   Remote refresh: the receiver child holds every key in a region and stamps the moment each leaves it
   (the apply is synchronous, so from then on \`peek()\` returns undefined); the writer's
   \`refresh()\` alternates with #1's payload to a bare refresher, spaced as #1, so the baseline is
   measured in the same run, on the same machine load.
11. **Dashboard** (issue 26). A 1,000,000-row analyzed log, its newest 50,000 rows restamped into
   the last hour, and 200 registered servers, each with its cursor at its own position (one row,
   its own transaction, written between two servers' positions, so the 200 pending counts are 200
   different statements). Issue 26's floor is 100 ms for the Overview page and \`GET /api/overview\`
   on that cluster; each is requested 50 times in a row over HTTP from this process after 3
   warm-up requests. The comparison: the 200 pending counts the overview needs, in one statement
   (\`pendingMany\`) against one statement per server (how the overview counted before), alternating,
   30 of each, on the same pool of 10 connections.
12. **Read-your-writes.** Two DistributedCache instances in the benchmark process, each on its own
   connection pool, both polling every second: A calls \`refresh()\`, and B is handed the token at once
   and calls \`waitFor(token)\`; the time until it resolves true, over 300 rounds (60 quick) after 10
   warm-up rounds. Wake-up on: B's poll, started by the NOTIFY or the WAL watch, is often already
   running; off: the wait polls by itself. Neither is bounded by the poll interval. **Across
   processes:** this process writes (an item's row, then the region's \`refresh()\`) and hands the key,
   the value and the token over IPC to a reader process whose region has every item cached (the
   user's next request landing on another server). Each round the reader reads one key written so at
   once, and another after \`waitFor(token)\`: waitFor's p50 and p99 in the reader, and the reads
   older than the write (stale) with and without the wait, over 300 rounds (60 quick) after 10
   warm-up rounds.

## Where these figures are checked

Nothing in this file is written by hand: \`npm run bench\` writes it whole from the run named at the
top, and the last column of the table is the command that measures that figure again (after
\`npm run build\`). Floors are reported, never enforced: the machine is shared, so it is the ratio
to the baseline measured in the same run that carries over. What #4 and #5 depend on most, the
plan of each hot statement on a large analyzed log, is checked deterministically on every
\`npm test\` by the plan gate (docs/testing.md, "The plan gate").
`;
