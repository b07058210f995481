import { describeError, errors } from '../errors.js';
import { REFRESHER_ID_PATTERN } from '../identifiers.js';
import { decodeInstructions, encodeInstructions, ID_RULE, isCacheId } from '../instructions/codec.js';
import { DEFAULTS } from '../options.js';
import { instructionRows } from '../write/rows.js';
import { INSTRUCTION_KINDS, type CacheId, type Instruction, type InstructionKind, type JsonValue } from '../instructions/types.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { operatorOrigin } from './origin.js';
import { readPublishedRefreshers } from '../cluster/published-refreshers.js';
import { closest } from '../suggest.js';

export interface SendRequest {
  kind: InstructionKind;
  refresher: string;
  /** For `refresh` and `remove`. */
  ids?: CacheId[];
  /** For `payload`. */
  payloads?: JsonValue[];
  /** Send even when no registered server publishes this refresher (or none publishes any). */
  force?: boolean;
  /** Who wrote it, shown by `tail` and `show`. @default `admin:<user>@<host>` (the CLI passes `cli:<user>@<host>`) */
  originated?: string;
  /** @default 1000, as servers write */
  maxInstructionsPerRow?: number;
}

export interface SendResult {
  originated: string;
  refresher: string;
  kind: InstructionKind;
  /** The rows written, in one transaction. */
  rowIds: number[];
  /** Summed weight (ids, payloads, or 1 for refresh-all). */
  instructions: number;
  /** Whether the refresher was checked against the ids servers publish (false with `force` and nothing published). */
  verified: boolean;
}

/**
 * Writes one instruction by hand, as any server would (coalesced, packed, one transaction), but
 * from an operator's origin (`originated`) and with no origin instance, so every server applies it.
 * Refuses a refresher that no registered server of the cluster publishes, unless `force`.
 */
export async function send(ctx: AdminContext, request: SendRequest): Promise<SendResult> {
  const instruction = buildInstruction(request);
  const verified = await checkRefresher(ctx, instruction.refresher, request.force === true);
  const originated = request.originated ?? operatorOrigin('admin');
  const { rows } = instructionRows([instruction], {
    originated,
    originInstance: null,
    maxInstructionsPerRow: request.maxInstructionsPerRow ?? DEFAULTS.maxInstructionsPerRow,
  });
  const rowIds = await ctx.store.insert(rows);
  return {
    originated,
    refresher: instruction.refresher,
    kind: instruction.kind,
    rowIds,
    instructions: rows.reduce((sum, r) => sum + r.instructionCount, 0),
    verified,
  };
}

/** Checks the request and builds the instruction; the row must decode exactly as every reader decodes it. */
export function buildInstruction(request: SendRequest): Instruction {
  const { kind, refresher } = request;
  if (!(INSTRUCTION_KINDS as readonly string[]).includes(kind)) {
    throw new AdminError(
      'E_INVALID_ARGUMENT',
      `${JSON.stringify(kind)} is not an instruction kind; use one of ${INSTRUCTION_KINDS.join(', ')}`,
    );
  }
  if (typeof refresher !== 'string' || !REFRESHER_ID_PATTERN.test(refresher)) {
    throw new AdminError('E_INVALID_ARGUMENT', `${JSON.stringify(refresher)} is not a refresher id; ids use letters, digits and . _ : / -`);
  }
  const ids = request.ids ?? [];
  const payloads = request.payloads ?? [];
  let instruction: Instruction;
  switch (kind) {
    case 'refresh-all':
      if (ids.length > 0 || payloads.length > 0) throw new AdminError('E_INVALID_ARGUMENT', 'refresh-all takes no ids and no payloads');
      instruction = { refresher, kind };
      break;
    case 'refresh':
    case 'remove': {
      if (payloads.length > 0)
        throw new AdminError('E_INVALID_ARGUMENT', `${kind} takes ids, not payloads; to send payloads use the payload kind`);
      if (ids.length === 0)
        throw new AdminError('E_INVALID_ARGUMENT', `${kind} needs at least one id; to refresh everything use refresh-all`);
      const bad = ids.find((id) => !isCacheId(id));
      if (bad !== undefined) throw new AdminError('E_INVALID_ARGUMENT', `id ${JSON.stringify(bad)} is not valid; ${ID_RULE}`);
      instruction = { refresher, kind, ids };
      break;
    }
    case 'payload':
      if (ids.length > 0) throw new AdminError('E_INVALID_ARGUMENT', 'payload takes payloads, not ids');
      if (payloads.length === 0) throw new AdminError('E_INVALID_ARGUMENT', 'payload needs at least one payload');
      instruction = { refresher, kind, payloads };
      break;
  }
  // A payload readers would refuse (a "__proto__" key, say) would be skipped as malformed by every
  // server; refuse it here instead.
  try {
    decodeInstructions(encodeInstructions([instruction]));
  } catch (err) {
    throw new AdminError('E_INVALID_ARGUMENT', `servers would refuse this instruction: ${describeError(err)}`, { cause: err });
  }
  return instruction;
}

async function checkRefresher(ctx: AdminContext, refresher: string, force: boolean): Promise<boolean> {
  const published = await readPublishedRefreshers(ctx.sql);
  const known = new Set<string>();
  for (const ids of published?.values() ?? []) ids?.forEach((id) => known.add(id));
  if (known.has(refresher)) return true;
  if (force) return false;
  if (known.size === 0) {
    const servers =
      published === null
        ? 'the server table has no refreshers column yet: run `distcache migrate`'
        : published.size === 0
          ? 'no server is registered'
          : `its ${published.size} registered server(s) run a distcache version that does not publish them`;
    throw new AdminError(
      'E_NO_PUBLISHED_REFRESHERS',
      `cannot check refresher '${refresher}': no server of cluster '${ctx.cluster}' has published its refresher ids ` +
        `(${servers}); check the id against your code and pass --force to send it anyway`,
    );
  }
  const list = [...known].sort();
  const guess = closest(refresher, list);
  throw new errors.UnknownRefresherError(
    `no server of cluster '${ctx.cluster}' has a refresher '${refresher}'.${guess ? ` Did you mean '${guess}'?` : ''} Known ` +
      `ids: ${list.join(', ')}. Pass --force to send it anyway (for servers not deployed yet)`,
  );
}
