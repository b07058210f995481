import type { CacheId, InstructionKind, JsonValue } from '../../instructions/types.js';
import { buildInstruction, type SendRequest } from '../../admin/send.js';
import { INSTRUCTION_KINDS } from '../../instructions/types.js';
import { closest } from '../../suggest.js';
import { cliOrigin } from '../origin.js';
import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { plural } from '../format.js';

export const sendCommand: Command<SendRequest> = {
  name: 'send',
  summary: 'write an instruction by hand, from origin cli:<user>@<host>',
  usage: 'send refresh|refresh-all|remove|payload REFRESHER [IDS...] [--payload JSON]...',
  description:
    'Ids that are whole numbers are sent as numbers (42), anything else as strings; --string-ids sends every id as a string (42 ' +
    'and "42" are different ids). Each --payload is one JSON payload. The refresher must be one that a registered server of the ' +
    'cluster publishes; --force skips that check. Put negative ids after --.',
  examples: [
    'distcache send refresh product 42 43',
    'distcache send refresh-all member',
    'distcache send remove product --string-ids sku-7 42',
    `distcache send payload price --payload '{"id":42,"price":10}'`,
  ],
  options: {
    payload: { type: 'string', multiple: true, value: 'JSON', description: 'one payload (repeat for several); for the payload kind' },
    'string-ids': { type: 'boolean', description: 'send every id as a string' },
    force: { type: 'boolean', description: 'send even when no registered server publishes this refresher' },
  },
  positionals: { min: 2, max: Number.POSITIVE_INFINITY, names: 'KIND REFRESHER [IDS...]' },
  parse(values, positionals) {
    const [kindArg, refresher, ...idArgs] = positionals as [string, string, ...string[]];
    if (!(INSTRUCTION_KINDS as readonly string[]).includes(kindArg)) {
      const guess = closest(kindArg, INSTRUCTION_KINDS);
      throw new UsageError(
        `${JSON.stringify(kindArg)} is not an instruction kind.${guess ? ` Did you mean ${guess}?` : ''} Use one ` +
          `of: ${INSTRUCTION_KINDS.join(', ')}`,
        'send',
      );
    }
    const kind = kindArg as InstructionKind;
    const payloads = ((values.payload as string[] | undefined) ?? []).map((text, n) => parsePayload(text, n));
    const ids: CacheId[] = idArgs.map((arg) =>
      values['string-ids'] !== true && /^-?\d+$/.test(arg) && Number.isSafeInteger(Number(arg)) ? Number(arg) : arg,
    );
    if ((kind === 'refresh' || kind === 'remove') && ids.length === 0)
      throw new UsageError(`${kind} needs ids, as in: distcache send ${kind} ${refresher} 42 43`, 'send');
    if (kind === 'payload' && payloads.length === 0)
      throw new UsageError(`payload needs --payload JSON, as in: distcache send payload ${refresher} --payload '{"id":42}'`, 'send');
    if (kind !== 'payload' && payloads.length > 0) throw new UsageError(`--payload goes with the payload kind, not ${kind}`, 'send');
    if ((kind === 'payload' || kind === 'refresh-all') && ids.length > 0)
      throw new UsageError(`${kind} takes no ids; got ${idArgs.join(' ')}`, 'send');
    const request = { kind, refresher, ids, payloads, force: values.force === true };
    // The same checks the Admin API makes (the row must decode as every server decodes it), now, before connecting.
    try {
      buildInstruction(request);
    } catch (err) {
      throw new UsageError((err as Error).message, 'send');
    }
    return request;
  },
  access: () => 'write',
  async run({ admin, out }, request) {
    const result = await admin.send({ ...request, originated: cliOrigin() });
    if (out.json) return out.document(result);
    out.line(
      `wrote ${plural(result.rowIds.length, 'row')} ` +
        `(${result.rowIds.join(', ')}): ${result.refresher} ${result.kind}, ${plural(result.instructions, 'instruction')}, ` +
        `as ${result.originated}`,
    );
    if (!result.verified) out.error('note: the refresher was not checked against what servers publish (--force)');
  },
};

function parsePayload(text: string, index: number): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError(
      `--payload number ${index + 1} is not JSON (${(err as Error).message}); quote it for your shell, as in: --payload ` +
        `'{"id":42,"price":10}'`,
      'send',
    );
  }
}
