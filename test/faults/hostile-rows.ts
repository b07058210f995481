import { randomBytes } from 'node:crypto';
import { DistributedCache, type CacheRefresher, type JsonValue } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import type { DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { faultDatabase } from './setup.js';

export interface HostileRowsOptions {
  dialect: DialectName;
  /** Rows inserted in all, good and bad. */
  total: number;
  note?: (line: string) => void;
}

export interface HostileRowsResult {
  report: CheckerReport;
  rows: number;
  goodRows: number;
  badRows: number;
  unknownRefresherRows: number;
  /** Per server: bad rows recorded, and rows recorded more than once (must be 0). */
  mixedRows: number;
  /** Rows with prototype-style keys or unknown fields inserted after the bad ones, each applied by the refresher itself. */
  carriedAfter: number;
  /** Per server: bad rows (and rows with a bad instruction) recorded, rows recorded more than once (must be 0), refreshAll() calls. */
  recorded: Record<
    string,
    {
      malformed: number;
      unknown: number;
      missing: number[];
      twice: number[];
      malformedEvents: number;
      syncErrors: number;
      refreshAlls: number;
      pollsWithMalformed: number;
    }
  >;
  badByCategory: Record<string, number>;
  durationMs: number;
}

/**
 * good: every instruction applies; bad: nothing in it may apply, and the row is recorded once;
 * mixed: one bad instruction among good ones, which apply; the bad one is recorded once.
 */
type Row = { json: string | Buffer; kind: 'good' | 'bad' | 'mixed' | 'unknown'; category: string };

const MB5 = 5 * 1024 * 1024;

/** Text of random bytes that the column can hold (PostgreSQL text takes no NUL). */
function randomText(n: number): string {
  return [...randomBytes(n)].map((b) => String.fromCharCode(b === 0 ? 1 : b)).join('');
}

const doc = (instructions: unknown) => JSON.stringify({ v: 1, instructions });

/**
 * The small bad rows: every way a plain SQL writer (or an attacker with INSERT rights) can get a
 * row wrong. The big ones (5 MB, deep nesting, huge id arrays) are added a few times each.
 */
function badRow(i: number, dialect: DialectName): Row {
  const kinds: Array<[string, () => string | Buffer]> = [
    ['random-bytes', () => randomText(1 + (i % 200))],
    ['empty', () => ''],
    ['truncated-json', () => doc([{ refresher: 'item', kind: 'refresh', ids: [`bad${i}`] }]).slice(0, 20 + (i % 30))],
    ['not-an-object', () => ['[1,2,3]', '42', '"text"', 'null', 'true', '[]'][i % 6]!],
    [
      'wrong-version',
      () =>
        [
          JSON.stringify({ v: 2, instructions: [] }),
          JSON.stringify({ v: '1', instructions: [] }),
          '{}',
          JSON.stringify({ instructions: [] }),
        ][i % 4]!,
    ],
    ['instructions-not-array', () => JSON.stringify({ v: 1, instructions: [{}, 'x', null][i % 3] })],
    [
      'wrong-types',
      () =>
        doc(
          [
            [{ refresher: 5, kind: 'refresh', ids: [1] }],
            [{ refresher: 'item', kind: 'nuke', ids: [1] }],
            [{ refresher: 'item', kind: 'refresh', ids: [true] }],
            [{ refresher: 'item', kind: 'refresh', ids: [{ id: 1 }] }],
            [{ refresher: 'item', kind: 'refresh', ids: 'abc' }],
            [{ refresher: 'item', kind: 'payload', payloads: { a: 1 } }],
            ['refresh'],
            [{ refresher: '', kind: 'refresh-all' }],
            [{ refresher: 'x'.repeat(300), kind: 'refresh-all' }],
            [{ refresher: 'item', kind: 'refresh', ids: [null] }],
          ][i % 10],
        ),
    ],
  ];
  const index = i % kinds.length;
  const [category, make] = kinds[index]!;
  if (category === 'random-bytes' && dialect === 'sqlite' && i % 2 === 0)
    return { json: randomBytes(1 + (i % 64)), kind: 'bad', category: 'random-blob' };
  return { json: make(), kind: 'bad', category };
}

/**
 * Rows that old readers refused whole and that now apply: prototype-style keys are carried as own
 * data properties, and unknown fields are ignored. And rows with one bad instruction among good ones.
 */
function carriedRow(i: number): Row {
  const made: Array<[string, string, Row['kind']]> = [
    [
      'proto-key-payload',
      doc([{ refresher: 'item', kind: 'payload', payloads: [{}] }]).replace('[{}]', `[{"__proto__":{"polluted":${i}},"key":"proto${i}"}]`),
      'good',
    ],
    [
      'constructor-key-payload',
      doc([{ refresher: 'item', kind: 'payload', payloads: [{ key: `ctor${i}`, constructor: { prototype: { polluted: i } } }] }]),
      'good',
    ],
    [
      'proto-key-document',
      `{"v":1,"__proto__":{"instructions":[]},"instructions":[{"refresher":"item","kind":"refresh","ids":["protodoc${i}"]}]}`,
      'good',
    ],
    ['extra-field', doc([{ refresher: 'item', kind: 'refresh', ids: [`extra${i}`], prototype: 1 }]), 'good'],
    [
      'mixed',
      doc([
        { refresher: 'item', kind: 'refresh', ids: [`mixed${i}`] },
        [{ refresher: 'item', kind: 'refresh', ids: [null] }, 'x', { refresher: 'item', kind: 'nuke' }][i % 3],
        { refresher: 'item', kind: 'remove', ids: [`mixedr${i}`] },
      ]),
      'mixed',
    ],
  ];
  const [category, json, kind] = made[i % made.length]!;
  return { json, kind, category };
}

/**
 * Fault 4: rows written by plain SQL, good ones mixed with every kind of bad one, including a
 * 5 MB payload, huge id arrays, deep nesting and prototype keys. Two servers read them in the
 * background. No crash; every good instruction applied; every bad row recorded exactly once per
 * server, with its row id; unknown refreshers recorded, the rest of their row applied.
 */
export async function hostileRowsScenario(options: HostileRowsOptions): Promise<HostileRowsResult> {
  const started = Date.now();
  const db = await faultDatabase(options.dialect);
  const checker = new FaultChecker(options.dialect);
  const caches: DistributedCache[] = [];
  const recorded: HostileRowsResult['recorded'] = {};
  let ok = false;
  try {
    const servers = ['s0', 's1'];
    const malformedEvents = new Map<string, number>();
    const syncErrors = new Map<string, number>();
    const refreshAlls = new Map<string, number>();
    const pollsWithMalformed = new Map<string, number>();
    /** Keys each server's refresher was called with, as opposed to reloaded by a refreshAll(). */
    const appliedKeys = new Map(servers.map((name) => [name, new Set<string>()]));
    for (const name of servers) {
      checker.expect(name);
      const item: CacheRefresher<JsonValue> = {
        id: 'item',
        // A bad row is replaced by a refreshAll(), which reloads whatever was committed before it began.
        refreshAll: () => {
          refreshAlls.set(name, (refreshAlls.get(name) ?? 0) + 1);
          checker.cover({ server: name, pid: process.pid, at: Date.now(), refresher: 'item', reason: 'fallback' });
        },
        refresh: (ids) => ids.forEach((id) => (checker.applied(name, process.pid, String(id)), appliedKeys.get(name)!.add(String(id)))),
        remove: (ids) => ids.forEach((id) => (checker.applied(name, process.pid, String(id)), appliedKeys.get(name)!.add(String(id)))),
        refreshPayload: (payloads) =>
          payloads.forEach((p) => {
            if (p && typeof p === 'object' && !Array.isArray(p) && typeof p.key === 'string') {
              checker.applied(name, process.pid, p.key);
              appliedKeys.get(name)!.add(p.key);
            }
          }),
      };
      const cache = new DistributedCache({
        knex: options.dialect === 'sqlite' ? db.knex : db.connection(),
        tablePrefix: db.prefix,
        serverIdentity: name,
        refreshers: [item],
        syncInterval: 50,
        maxPendingInstructions: 100_000_000,
        pruneSchedule: false,
        logger: silentLogger,
      });
      cache.on('instruction:malformed', () => malformedEvents.set(name, (malformedEvents.get(name) ?? 0) + 1));
      cache.on('sync:error', () => syncErrors.set(name, (syncErrors.get(name) ?? 0) + 1));
      cache.on('sync:complete', (e) => e.malformed > 0 && pollsWithMalformed.set(name, (pollsWithMalformed.get(name) ?? 0) + 1));
      caches.push(cache);
      await cache.start();
    }

    // The rows, in a shuffled mix; a fifth of them addressed to a refresher nobody has.
    const rows: Row[] = [];
    let badCount = 0;
    let carried = 0;
    const special: Row[] = [
      {
        json: doc([{ refresher: 'item', kind: 'payload', payloads: [{ key: 'big-5mb', blob: 'x'.repeat(MB5) }] }]),
        kind: 'good',
        category: '5mb-payload',
      },
      { json: 'y'.repeat(MB5), kind: 'bad', category: '5mb-garbage' },
      {
        json: doc([{ refresher: 'item', kind: 'refresh', ids: Array.from({ length: 100_000 }, (_, j) => `huge-${j}`) }]),
        kind: 'good',
        category: 'huge-id-array',
      },
      {
        json: doc([
          { refresher: 'item', kind: 'payload', payloads: [{ key: 'deep-1000', nested: JSON.parse('['.repeat(1000) + ']'.repeat(1000)) }] },
        ]),
        kind: 'good',
        category: 'deep-1000',
      },
      {
        json: doc([
          {
            refresher: 'item',
            kind: 'refresh',
            ids: [`'; drop table ${db.table('cache_cursor')}; --`, 'Robert"); DROP TABLE students;--', '\u0000nul', 'ünï©ødé 🚀'],
          },
        ]),
        kind: 'good',
        category: 'sql-in-ids',
      },
      ...Array.from({ length: 5 }, (_, j): Row => ({
        json:
          `{"v":1,"instructions":[{"refresher":"item","kind":"payload","payloads":[` +
          `${'['.repeat(50_000 * (j + 1))}${']'.repeat(50_000 * (j + 1))}]}]}`,
        kind: 'bad',
        category: 'deep-nesting',
      })),
      ...Array.from({ length: 2 }, (_, j): Row => ({
        json: doc([
          { refresher: 'item', kind: 'refresh', ids: [...Array.from({ length: 100_000 }, (_, k) => `bad-huge${j}-${k}`), { evil: true }] },
        ]),
        kind: 'bad',
        category: 'huge-bad-id-array',
      })),
    ];
    for (let i = 0; i < options.total - special.length; i++) {
      const r = i % 5;
      if (r === 0 && i % 4 === 0) rows.push(carriedRow(carried++));
      else if (r < 2)
        rows.push({
          json: doc([
            { refresher: 'item', kind: 'refresh', ids: [`g${i}`] },
            { refresher: 'item', kind: 'remove', ids: [`r${i}`] },
          ]),
          kind: 'good',
          category: 'good',
        });
      else if (r === 2)
        rows.push({
          json: doc([
            { refresher: 'ghost', kind: 'refresh', ids: [i] },
            { refresher: 'item', kind: 'refresh', ids: [`u${i}`] },
          ]),
          kind: 'unknown',
          category: 'unknown-refresher',
        });
      else rows.push(badRow(badCount++, options.dialect));
    }
    rows.splice(Math.floor(rows.length / 3), 0, ...special);

    const table = db.table('cache_instruction');
    const inserted: Array<{ id: number; row: Row; at: number }> = [];
    const insertChunk = async (chunk: Row[]) => {
      const values = chunk.map((row) => ({ json_instruction: row.json, originated: 'hostile-sql', instruction_count: 1 }));
      if (options.dialect === 'mysql') {
        // mysql2 returns only the first id of a multi-row insert.
        for (const [j, value] of values.entries())
          inserted.push({ id: Number((await db.knex(table).insert(value))[0]), row: chunk[j]!, at: Date.now() });
        return;
      }
      const ids = await db.knex(table).insert(values).returning('id');
      const at = Date.now();
      ids.forEach((r: unknown, j: number) =>
        inserted.push({ id: Number(typeof r === 'object' ? (r as { id: unknown }).id : r), row: chunk[j]!, at }),
      );
    };
    // Big rows alone, the rest 100 at a time, while the servers poll.
    let chunk: Row[] = [];
    for (const row of rows) {
      if (row.json.length > 100_000) {
        if (chunk.length) await insertChunk(chunk);
        chunk = [];
        await insertChunk([row]);
      } else {
        chunk.push(row);
        if (chunk.length === 100) {
          await insertChunk(chunk);
          chunk = [];
        }
      }
    }
    if (chunk.length) await insertChunk(chunk);
    for (const { row, at } of inserted) {
      if (row.kind === 'bad') continue;
      for (const key of keysOfGoodRow(row.json as string)) checker.committed(key, { at });
    }
    await waitFor(
      async () => {
        await Promise.all(caches.map((c) => c.sync()));
        return checker.report().totals.lost === 0;
      },
      { timeout: 120_000, interval: 100, describe: () => describeReport(checker.report()) },
    );
    // Another poll must not record anything again.
    await Promise.all(caches.map((c) => c.sync()));

    // With no bad row after them, rows that old readers refused whole (prototype-style keys,
    // unknown fields) reach the refresher itself, not only through a refreshAll().
    const mainRows = inserted.length;
    const after: Row[] = Array.from({ length: 40 }, (_, j) => carriedRow(carried + j)).filter((row) => row.kind === 'good');
    carried += 40;
    await insertChunk(after);
    const afterKeys = after.flatMap((row) => keysOfGoodRow(row.json as string));
    for (const key of afterKeys) checker.committed(key, { at: Date.now() });
    await waitFor(
      async () => {
        await Promise.all(caches.map((c) => c.sync()));
        return servers.every((name) => afterKeys.every((key) => appliedKeys.get(name)!.has(key)));
      },
      {
        timeout: 30_000,
        interval: 50,
        describe: () => servers.map((name) => `${name}: ${afterKeys.filter((k) => !appliedKeys.get(name)!.has(k)).join(',')}`).join('; '),
      },
    );

    // A row with one bad instruction is recorded like a bad row, once.
    const bad = inserted.filter((x) => x.row.kind === 'bad' || x.row.kind === 'mixed').map((x) => x.id);
    const unknown = inserted.filter((x) => x.row.kind === 'unknown').map((x) => x.id);
    const failures: Array<{ server_identity: string; instruction_id: unknown; action: string }> = await db
      .knex(db.table('cache_failure'))
      .select('server_identity', 'instruction_id', 'action');
    for (const name of servers) {
      const mine = failures.filter((f) => f.server_identity === name);
      const count = (...actions: string[]) => {
        const seen = new Map<number, number>();
        for (const f of mine)
          if (actions.includes(f.action)) seen.set(Number(f.instruction_id), (seen.get(Number(f.instruction_id)) ?? 0) + 1);
        return seen;
      };
      const malformed = count('skipped-malformed-row', 'skipped-malformed-instruction');
      const unknownSeen = count('skipped-unknown-refresher');
      recorded[name] = {
        malformed: malformed.size,
        unknown: unknownSeen.size,
        missing: [...bad.filter((id) => !malformed.has(id)), ...unknown.filter((id) => !unknownSeen.has(id))].slice(0, 20),
        twice: [...malformed, ...unknownSeen]
          .filter(([, n]) => n > 1)
          .map(([id]) => id)
          .slice(0, 20),
        malformedEvents: malformedEvents.get(name) ?? 0,
        syncErrors: syncErrors.get(name) ?? 0,
        refreshAlls: refreshAlls.get(name) ?? 0,
        pollsWithMalformed: pollsWithMalformed.get(name) ?? 0,
      };
      // Nothing recorded for a good row, and nothing for a row id that does not exist.
      const known = new Set([...bad, ...unknown]);
      const stray = mine.filter((f) => !known.has(Number(f.instruction_id)));
      if (stray.length) recorded[name]!.missing.push(...stray.slice(0, 5).map((f) => -Number(f.instruction_id)));
    }
    const badByCategory: Record<string, number> = {};
    for (const { row } of inserted) if (row.kind === 'bad') badByCategory[row.category] = (badByCategory[row.category] ?? 0) + 1;
    const report = checker.report();
    options.note?.(describeReport(report));
    ok = report.totals.lost === 0 && report.totals.unexpected === 0;
    return {
      report,
      rows: mainRows,
      carriedAfter: after.length,
      goodRows: inserted.filter((x) => x.row.kind === 'good').length,
      badRows: inserted.filter((x) => x.row.kind === 'bad').length,
      mixedRows: inserted.filter((x) => x.row.kind === 'mixed').length,
      unknownRefresherRows: unknown.length,
      recorded,
      badByCategory,
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.all(caches.map((c) => c.stop()));
    await db.cleanup(!ok);
  }
}

/** The keys a good (or mixed) row's good instructions apply. */
function keysOfGoodRow(json: string): string[] {
  const parsed = JSON.parse(json) as {
    instructions: Array<{ refresher: string; kind: string; ids?: unknown[]; payloads?: Array<{ key?: string }> }>;
  };
  return parsed.instructions.flatMap((i) => {
    if (i?.refresher !== 'item' || !['refresh', 'remove', 'payload'].includes(i.kind)) return [];
    if (i.ids) return i.ids.every((id) => id !== null) ? i.ids.map(String) : [];
    return (i.payloads ?? []).flatMap((p) => (p?.key ? [p.key] : []));
  });
}
