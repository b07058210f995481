import type { CacheId, Instruction, JsonValue } from './types.js';

type IdKind = 'refresh' | 'remove';

/**
 * Shrinks a list of instructions without changing what it means, per refresher:
 * - a refresh-all supersedes everything before it for that refresher;
 * - repeated refreshes (or removes) of one id collapse into one, but only while no other
 *   operation on that id sits between them, so "refresh 5, remove 5, refresh 5" stays three steps
 *   (Umbraco's dedupe kept the first two and lost the final refresh);
 * - operations on different ids commute, so each id's steps are laid out in rounds: the first step
 *   of every id, then the second, and so on, each round as at most one refresh and one remove;
 * - payloads are opaque, so they act as barriers; adjacent payloads join into one.
 *
 * Refreshers come out in the order they first appear. 10,000 refreshes of one id become one.
 */
export function coalesce(instructions: readonly Instruction[]): Instruction[] {
  const byRefresher = new Map<string, Instruction[]>();
  // Runs of one refresher are the norm (a batch of 1,000 refreshes of 'product'): remember the last list.
  let lastRefresher: string | undefined;
  let list: Instruction[] = [];
  for (const instruction of instructions) {
    if (instruction.refresher !== lastRefresher) {
      lastRefresher = instruction.refresher;
      let found = byRefresher.get(lastRefresher);
      if (!found) byRefresher.set(lastRefresher, (found = []));
      list = found;
    }
    if (instruction.kind === 'refresh-all') list.length = 0;
    list.push(instruction);
  }
  const out: Instruction[] = [];
  for (const [refresher, list] of byRefresher) out.push(...coalesceOne(refresher, list));
  return out;
}

function coalesceOne(refresher: string, list: Instruction[]): Instruction[] {
  const uniform = uniformIdKind(list);
  if (uniform) return [{ refresher, kind: uniform, ids: uniqueIds(list) }];
  const out: Instruction[] = [];
  let segment = new IdSegment(refresher);
  for (const instruction of list) {
    switch (instruction.kind) {
      case 'refresh-all':
        out.push(instruction);
        break;
      case 'payload': {
        out.push(...segment.flush());
        segment = new IdSegment(refresher);
        const last = out[out.length - 1];
        if (last && last.kind === 'payload') last.payloads = [...last.payloads, ...instruction.payloads];
        else out.push({ refresher, kind: 'payload', payloads: [...instruction.payloads] as JsonValue[] });
        break;
      }
      default:
        for (const id of instruction.ids) segment.add(instruction.kind, id);
    }
  }
  out.push(...segment.flush());
  return out;
}

/**
 * The common case, every instruction a refresh (or every one a remove): the rounds below then
 * reduce to one instruction with each id once, in first-appearance order, which a Set gives
 * directly. Writes and catch-ups of many ids spend most of their coalescing time here.
 */
function uniformIdKind(list: Instruction[]): IdKind | undefined {
  const kind = list[0]?.kind;
  if (kind !== 'refresh' && kind !== 'remove') return undefined;
  for (const instruction of list) if (instruction.kind !== kind) return undefined;
  return kind;
}

function uniqueIds(list: Instruction[]): CacheId[] {
  if (list.length === 1) {
    const ids = (list[0] as { ids: CacheId[] }).ids;
    if (strictlyAscending(ids)) return ids.slice();
    const unique = new Set(ids);
    if (unique.size === ids.length) return ids.slice();
    return [...unique];
  }
  // A Set keeps 42 and '42' apart (SameValueZero), as ids must be.
  const unique = new Set<CacheId>();
  for (const instruction of list) for (const id of (instruction as { ids: CacheId[] }).ids) unique.add(id);
  return [...unique];
}

/**
 * Whether every id is of one type and greater than the one before, so no id repeats. Ids read from
 * a database or generated in a loop usually come this way, and the check is a small part of the
 * cost of a Set (a batch of 1,000 ids: about 1 µs against 25 µs).
 */
function strictlyAscending(ids: readonly CacheId[]): boolean {
  const first = ids[0];
  if (first === undefined) return true;
  const type = typeof first;
  let previous = first;
  for (let i = 1; i < ids.length; i++) {
    const id = ids[i]!;
    if (typeof id !== type || !(id > previous)) return false;
    previous = id;
  }
  return true;
}

/** Steps per id within a run of refresh/remove instructions with no payload between them. */
class IdSegment {
  // Keyed by the id itself: a Map keeps 42 and '42' apart (SameValueZero), as ids must be.
  private readonly steps = new Map<CacheId, { id: CacheId; kinds: IdKind[] }>();
  constructor(private readonly refresher: string) {}

  add(kind: IdKind, id: CacheId): void {
    const entry = this.steps.get(id);
    if (!entry) this.steps.set(id, { id, kinds: [kind] });
    else if (entry.kinds[entry.kinds.length - 1] !== kind) entry.kinds.push(kind);
  }

  flush(): Instruction[] {
    const out: Instruction[] = [];
    for (let round = 0; ; round++) {
      const refresh: CacheId[] = [];
      const remove: CacheId[] = [];
      for (const { id, kinds } of this.steps.values()) {
        const kind = kinds[round];
        if (kind === 'refresh') refresh.push(id);
        else if (kind === 'remove') remove.push(id);
      }
      if (refresh.length === 0 && remove.length === 0) break;
      // Within a round every id appears once, so the order of the two groups does not matter.
      if (refresh.length) out.push({ refresher: this.refresher, kind: 'refresh', ids: refresh });
      if (remove.length) out.push({ refresher: this.refresher, kind: 'remove', ids: remove });
    }
    this.steps.clear();
    return out;
  }
}
