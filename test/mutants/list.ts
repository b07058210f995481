/**
 * Small, plausible bugs in the invariants distcache promises, each a search/replace on one source
 * file, and the targeted tests that must fail with it (see docs/testing.md). `npm run test:mutants`
 * applies them one at a time in a scratch copy.
 *
 * Each `search` must occur exactly once in its file, or the run stops before testing anything:
 * code moves, and a mutant that no longer applies must be updated, never silently skipped. Add one
 * whenever a guarantee is added. After a merge that moves or rewrites these files, re-run the list.
 */
export interface Mutant {
  /** A short name, stable across edits. */
  id: string;
  /** The invariant it breaks, as the docs state it. */
  invariant: string;
  /** Path from the repository root. */
  file: string;
  search: string;
  replace: string;
  /** What must fail: compiled test files (under dist/), a name pattern, the dialects to run on. */
  tests: { files: string[]; pattern?: string; dialects?: string };
}

const DIALECTS = ['sqlite', 'postgres', 'mysql'];
const CONFORMANCE = DIALECTS.map((d) => `dist/test/conformance-${d}.test.js`);
const STORE = DIALECTS.map((d) => `dist/test/store-conformance-${d}.test.js`);

// The lines of the cold boot (src/sync/cold-boot.ts), for cold-boot-head-after.
const HEAD = '    const head = await this.store.head();';
const LOG = "    this.logger.info({ reason, pendingInstructions }, 'cold boot: refreshing every cache');";
const HOOK = '    if (this.settings.onColdBoot) await this.settings.onColdBoot({ reason });';
const ALL = '    else await this.applier.refreshEverything();';

export const MUTANTS: readonly Mutant[] = [
  {
    id: 'paging-overlap',
    invariant: 'exact paging: a later page starts after the last row read, so no row comes twice',
    file: 'src/store/sql/commit-ordered-page.ts',
    search: 'where cluster = ? and ${pos} > ? order by ${pos}',
    replace: 'where cluster = ? and ${pos} >= ? order by ${pos}',
    tests: { files: STORE.slice(0, 1), pattern: 'paging|pending|interleaved|8 writers' },
  },
  {
    id: 'save-before-apply',
    invariant: 'the cursor is stored only after what it covers has been applied',
    file: 'src/sync/poller.ts',
    search: '    await this.flush(buffer, result, guard);\n    await this.save(position, result.rows > 0, saveWanted);',
    replace: '    await this.save(position, result.rows > 0, saveWanted);\n    await this.flush(buffer, result, guard);',
    tests: { files: CONFORMANCE, pattern: 'lag on a server whose refresher is blocked|wake-up polls store the cursor', dialects: 'sqlite' },
  },
  {
    id: 'heartbeat-cursor-unconditional',
    invariant: "a heartbeat's cursor save never overwrites a cursor written since (a cold boot's reset) with an older position",
    file: 'src/cluster/server-table.ts',
    search: '.where({ cluster: this.sql.cluster, server_identity: me.identity, position: cursor.previous })',
    replace: '.where({ cluster: this.sql.cluster, server_identity: me.identity })',
    tests: { files: CONFORMANCE, pattern: 'conditional on the position it last stored', dialects: 'sqlite' },
  },
  {
    id: 'own-rows-applied-twice',
    invariant: 'a server skips the rows it applied at write time (own writes), and only those',
    file: 'src/sync/page-rows.ts',
    search: 'if (row.originInstance === reader.instanceId && reader.ownWrites.consume(row.id)) {',
    replace: 'if (row.originInstance === reader.instanceId && reader.ownWrites.consume(row.id) && false) {',
    tests: { files: CONFORMANCE, pattern: 'applied locally after commit|earlier process with the same identity', dialects: 'sqlite' },
  },
  {
    id: 'coalesce-reorders',
    invariant: 'coalescing keeps order: refresh 5, remove 5, refresh 5 stays three steps',
    file: 'src/instructions/coalesce.ts',
    search: 'for (const instruction of list) if (instruction.kind !== kind) return undefined;',
    replace: "for (const instruction of list) if (instruction.kind === 'payload' || instruction.kind === 'refresh-all') return undefined;",
    tests: { files: ['dist/test/instructions.test.js'] },
  },
  {
    id: 'prune-newest',
    invariant: 'a prune never deletes the newest row, so the head never goes back',
    file: 'src/store/commit-ordered-prune.ts',
    search: ".where(this.positionColumn, '<', this.knex(this.t.instruction).where('cluster', this.cluster).max(this.positionColumn));",
    replace: ".where(this.positionColumn, '<=', this.knex(this.t.instruction).where('cluster', this.cluster).max(this.positionColumn));",
    tests: { files: STORE.slice(0, 1), pattern: 'prune' },
  },
  {
    id: 'prune-newest-postgres',
    invariant: 'a prune never deletes the newest row (PostgreSQL)',
    file: 'src/dialects/postgres/sql/prune.ts',
    search: 'and i.id < (select max(m.id) from ?? m where m.cluster = ?)',
    replace: 'and i.id <= (select max(m.id) from ?? m where m.cluster = ?)',
    tests: { files: STORE.slice(1, 2), pattern: 'prune' },
  },
  {
    id: 'prune-marks-by-lowest',
    invariant: 'a prune chunk marks every cursor below its highest deleted position, including one strictly inside it',
    file: 'src/store/commit-ordered-prune.ts',
    search: 'const highest = Math.max(...doomed.map((d) => d.pos));',
    replace: 'const highest = Math.min(...doomed.map((d) => d.pos));',
    tests: { files: [STORE[0]!, STORE[2]!], pattern: 'strictly inside' },
  },
  {
    id: 'prune-ignores-active-servers',
    invariant: 'a prune within retention keeps the rows an active server has not read',
    file: 'src/store/commit-ordered-prune.ts',
    search: 'const floor = Math.min(...options.coveredBy.map(Number));',
    replace: 'const floor = Math.max(...options.coveredBy.map(Number));',
    tests: { files: STORE.slice(0, 1), pattern: 'pruneChunk marks exactly' },
  },
  {
    id: 'cold-boot-head-after',
    invariant: 'a cold boot takes the head before the caches reload, so a row committed meanwhile is read next',
    file: 'src/sync/cold-boot.ts',
    search: [HEAD, LOG, HOOK, ALL].join('\n'),
    replace: [LOG, HOOK, ALL, HEAD].join('\n'),
    tests: { files: CONFORMANCE, pattern: 'during a cold boot' },
  },
  {
    id: 'no-refresh-all-fallback',
    invariant: 'an instruction that keeps failing falls back to refreshAll()',
    file: 'src/apply/applier.ts',
    search: "} else if (instruction.kind !== 'refresh-all') {",
    replace: "} else if (instruction.kind !== 'refresh-all' && false) {",
    tests: { files: CONFORMANCE, pattern: 'falls back', dialects: 'sqlite' },
  },
  {
    id: 'apply-before-commit',
    invariant: 'a write in a transaction is applied locally only if the transaction commits',
    file: 'src/write/writer.ts',
    search: '      if (committed) await this.applyCommitted(',
    replace: '      if (committed || true) await this.applyCommitted(',
    tests: { files: CONFORMANCE, pattern: 'with \\{ trx \\}|savepoint released', dialects: 'sqlite' },
  },
  {
    id: 'positions-follow-ids',
    invariant: 'MySQL/MariaDB positions follow commit order (seq), not ids',
    file: 'src/dialects/mysql/store.ts',
    search: "protected readonly positionColumn = 'seq';",
    replace: "protected readonly positionColumn = 'id';",
    tests: { files: CONFORMANCE.slice(2), pattern: 'concurrent writers' },
  },
  {
    id: 'prefix-unchecked',
    invariant: 'a table prefix is validated before any SQL is built',
    file: 'src/identifiers.ts',
    search: 'export const TABLE_PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;',
    replace: 'export const TABLE_PREFIX_PATTERN = /^[a-z][^]{0,31}$/;',
    tests: { files: ['dist/test/options.test.js', ...CONFORMANCE], pattern: 'migrate is idempotent|option', dialects: 'sqlite' },
  },
  {
    id: 'lease-renewed-blindly',
    invariant: 'a holder renews the publisher lease only while it still holds it',
    file: 'src/cluster/lease-table.ts',
    search: 'this.row().where({ holder_instance: me.instanceId, token }).update({ renewed_at: now, duration_ms: durationMs })',
    replace: 'this.row().update({ renewed_at: now, duration_ms: durationMs })',
    tests: { files: CONFORMANCE, pattern: 'taken over steps down' },
  },
  {
    id: 'pooler-cancel-half-close',
    invariant: 'a statement timeout through PgBouncer 1.18 never crashes the pooler: the cancel socket waits for the close (pgbouncer#801)',
    file: 'src/dialects/postgres/cancel.ts',
    search: "socket.once('connect', () => socket.write(packet));",
    replace: "socket.once('connect', () => socket.end(packet));",
    tests: { files: ['dist/test/pooler-postgres.test.js'] },
  },
  {
    id: 'plans-page-history',
    invariant: 'a poll costs the same on a large analyzed log: its history check runs once, as an index probe (issue 21)',
    file: 'src/dialects/postgres/sql/page.ts',
    search: 'coalesce(w.top_txid >= pg_snapshot_xmax(w.now), false) as foreign_rows,',
    replace: 'exists (select 1 from ${instruction} f where f.cluster = $5 and f.txid >= pg_snapshot_xmax(w.now)) as foreign_rows,',
    tests: { files: ['dist/test/plans-postgres.test.js'] },
  },
  {
    id: 'plans-prune-by-id',
    invariant: 'a prune chunk reads about a chunk of rows however many are past retention (issue 21)',
    file: 'src/store/commit-ordered-prune.ts',
    search: ".orderBy('utc_stamp').limit(options.limit)",
    replace: ".orderBy('id').limit(options.limit)",
    tests: { files: ['dist/test/plans-mysql.test.js'] },
  },
  // Regions: a load of any kind stores only while no invalidation overtook it (load identity).
  ...(
    [
      ['region-load-stores-overtaken', 'a load an invalidation overtook stores nothing', 'false'],
      [
        'bulk-load-stores-overtaken',
        'one key of a bulk load (getMany) that an invalidation overtook stores nothing',
        "load.kind !== 'bulk' && !this.r.loads.isCurrent(load)",
      ],
      [
        'background-load-stores-overtaken',
        'a refresh-ahead background load that an invalidation overtook stores nothing',
        "load.kind !== 'background' && !this.r.loads.isCurrent(load)",
      ],
      [
        'timed-out-load-stores-overtaken',
        'a load past its soft timeout that an invalidation overtook stores nothing',
        '!load.softTimedOut && !this.r.loads.isCurrent(load)',
      ],
    ] as const
  ).map(([id, invariant, condition]): Mutant => ({
    id,
    invariant,
    file: 'src/regions/load-runner.ts',
    search: '    if (!this.r.loads.isCurrent(load)) {\n      // Overtaken:',
    replace: `    if (${condition}) {\n      // Overtaken:`,
    tests: { files: ['dist/test/regions-model.test.js'], pattern: 'no interleaving' },
  })),
  // The request cache (perRequest): the no-stale rule inside a request.
  {
    id: 'request-memo-keeps-overtaken',
    invariant: 'a read that an invalidation overtook keeps nothing in the request cache',
    file: 'src/regions/request-scope.ts',
    search: '    if (generation !== this.generation) return;\n',
    replace: '',
    tests: { files: ['dist/test/request-cache-model.test.js', 'dist/test/request-cache.test.js'] },
  },
  {
    id: 'request-memo-not-invalidated',
    invariant: 'an invalidation applied during a request reaches its request cache',
    file: 'src/regions/request-scope.ts',
    search: '    if (this.open.size === 0) return;',
    replace: '    return;',
    tests: { files: ['dist/test/request-cache-model.test.js', 'dist/test/request-cache.test.js'] },
  },
  // Issue 22: each defence of docs/security.md, taken away, makes its attack in test/security/ succeed.
  {
    id: 'oversize-row-read',
    invariant: 'a reader never fetches a body over maxRowBytes (MySQL/SQLite page and body statements)',
    file: 'src/store/row-bytes.ts',
    search: 'return [`case when ${bytes} <= ${Math.trunc(maxRowBytes)} then ${quoted} end as json_instruction`',
    replace: 'return [`case when ${bytes} >= 0 then ${quoted} end as json_instruction`',
    tests: { files: ['dist/test/security-rows.test.js'], pattern: 'stays alive after a row over maxRowBytes', dialects: 'sqlite' },
  },
  {
    id: 'oversize-row-read-postgres',
    invariant: "a reader never fetches a body over maxRowBytes (PostgreSQL's page statement)",
    file: 'src/dialects/postgres/sql/page.ts',
    search: '`i.id, i.utc_stamp, case when ${bytes} <= ${Math.trunc(maxRowBytes)} then i.json_instruction end as json_instruction, `',
    replace: '`i.id, i.utc_stamp, case when ${bytes} >= 0 then i.json_instruction end as json_instruction, `',
    tests: { files: ['dist/test/security-rows.test.js'], pattern: 'stays alive after a row over maxRowBytes', dialects: 'postgres' },
  },
  {
    // Migration 007 is frozen; the mutant changes it only in the scratch copy, which is what the tests install.
    id: 'search-path-unpinned',
    invariant: 'the SQL functions pin search_path = pg_catalog, pg_temp (a planted operator never runs)',
    file: 'migrations/007_bounded_rows.ts',
    search: "const pinned = 'security definer set search_path = pg_catalog, pg_temp';",
    replace: "const pinned = 'security definer';",
    tests: { files: ['dist/test/security-postgres.test.js'], pattern: 'hijack|planted' },
  },
  {
    id: 'execute-granted-to-public',
    invariant: 'EXECUTE on the SQL functions is revoked from PUBLIC: a writer calls only what it was granted',
    file: 'migrations/007_bounded_rows.ts',
    search: '    ...signatures.map((signature) => `revoke execute on function ${signature} from public`),\n',
    replace: '    ...signatures.filter(() => false).map((signature) => `revoke execute on function ${signature} from public`),\n',
    tests: { files: ['dist/test/security-postgres.test.js'], pattern: 'app, writer and operator' },
  },
  {
    id: 'originated-names-definer',
    invariant: "MariaDB's procedures record the caller (SESSION_USER()) in originated, not their definer",
    file: 'migrations/007_bounded_rows.ts',
    search: "VALUES (v_json, LEFT(CONCAT('sql:', SESSION_USER()), 255), NULL, v_count, v_cluster);",
    replace: "VALUES (v_json, LEFT(CONCAT('sql:', CURRENT_USER()), 255), NULL, v_count, v_cluster);",
    tests: { files: ['dist/test/security-roles-mysql.test.js'] },
  },
  {
    id: 'guard-trusts-stored-count',
    invariant: '"too far behind" never reads the instruction_count a writer chose',
    file: 'src/sync/poller.ts',
    search: 'const rows = (await this.store.pending(position)).rows;',
    replace: 'const rows = (await this.store.pending(position)).instructions;',
    tests: { files: ['dist/test/security-writers.test.js'], pattern: 'forged instruction_count', dialects: 'sqlite' },
  },
  {
    id: 'guard-counts-instructions',
    invariant: 'the backlog guard weighs what it decodes (ids, payloads), so a forged count of 1 on 200,000 ids is caught',
    file: 'src/sync/backlog-guard.ts',
    search: 'const weight = (this.weights.get(refresher) ?? 0) + instructionWeight(instruction);',
    replace: 'const weight = (this.weights.get(refresher) ?? 0) + Math.min(1, instructionWeight(instruction));',
    tests: { files: ['dist/test/security-writers.test.js'], pattern: 'forged instruction_count', dialects: 'sqlite' },
  },
  {
    id: 'unknown-refresher-per-name',
    invariant: 'unknown refresher names make one failure record, log line and event per row, not one per name',
    file: 'src/apply/applier.ts',
    search: '[...unknown].map(([rowId, list]) => this.recordUnknown(list, rowId))',
    replace: '[...unknown].flatMap(([rowId, list]) => list.map((i) => this.recordUnknown([i], rowId)))',
    tests: { files: ['dist/test/security-writers.test.js'], pattern: 'unknown refreshers makes one failure record', dialects: 'sqlite' },
  },
  {
    id: 'wake-unthrottled',
    invariant: 'wake-driven polls are throttled to one per wakeThrottle (a NOTIFY flood costs a bounded number of polls)',
    file: 'src/sync/poll-loop.ts',
    search: 'return Math.max(0, this.lastStarted + (this.settings.wakeThrottle ?? 0) - this.settings.clock.now());',
    replace: 'return Math.max(0, this.lastStarted + 0 - this.settings.clock.now());',
    tests: { files: ['dist/test/security-postgres.test.js'], pattern: 'NOTIFY flood' },
  },
  {
    id: 'mask-first-at',
    invariant: "a URL's password ends at the last '@' of its authority, as the driver reads it",
    file: 'src/util/redact.ts',
    search: [
      '  let at = end - 1;',
      '  while (at >= afterScheme && text.charCodeAt(at) !== 64) at--;',
      '  if (at < afterScheme) return { end, password: null };',
    ].join('\n'),
    replace:
      '  let at = afterScheme;\n  while (at < end && text.charCodeAt(at) !== 64) at++;\n  if (at >= end) return { end, password: null };',
    tests: { files: ['dist/test/security-secrets.test.js'], pattern: 'never prints a password' },
  },
  {
    id: 'prune-mid-page-gap',
    invariant: 'a row pruned between a page and its body fetch ends the page there (never read as empty, never skipped)',
    file: 'src/store/commit-ordered-store.ts',
    search: '      if (vanished >= 0) {',
    replace: '      if (vanished >= 0 && false) {',
    tests: { files: ['dist/test/faults-prune-mid-page.test.js'], dialects: 'sqlite' },
  },
  {
    id: 'procedures-keep-migrator-definer',
    invariant: "with functionOwner, MariaDB's procedures are defined by the locked account, never the migrating user",
    file: 'src/migrations/procedure-definer.ts',
    search: '`CREATE OR REPLACE DEFINER=${who} PROCEDURE`',
    replace: '`CREATE OR REPLACE PROCEDURE`',
    tests: { files: ['dist/test/security-roles-mysql.test.js'], pattern: 'locked account' },
  },
  {
    id: 'admin-read-unbounded',
    invariant: "tail, show and follow's first rows bring at most --max-bytes of row bodies",
    file: 'src/admin/bounded-rows.ts',
    search: '    if (total + bytes > maxBytes) return { ids, leftOut: sizes.length - i };',
    replace: '    if (total + bytes > Infinity) return { ids, leftOut: sizes.length - i };',
    tests: { files: ['dist/test/security-rows.test.js'], pattern: 'max-bytes', dialects: 'sqlite' },
  },
  {
    id: 'catch-up-prefetch-unhandled',
    invariant: 'a page read ahead during a catch-up that fails fails the poll, never the process (no unhandled rejection)',
    file: 'src/sync/poller.ts',
    search: '    next.catch(() => undefined);\n',
    replace: '',
    tests: { files: ['dist/test/poll-loop.test.js'], pattern: 'later page' },
  },
];
