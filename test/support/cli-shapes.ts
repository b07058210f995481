import { z } from 'zod';

/**
 * The documented `--json` shapes of docs/cli.md, as strict schemas: a key added, removed or
 * retyped fails the test, so the documentation and the output cannot drift apart.
 */
const iso = z.iso.datetime();
const id = z.union([z.number(), z.string()]);
const json: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(json), z.record(z.string(), json)]),
);

export const instruction = z.strictObject({
  refresher: z.string(),
  kind: z.enum(['refresh-all', 'refresh', 'remove', 'payload']),
  count: z.number().int(),
  ids: z.array(id).nullable(),
  payloads: z.array(json).nullable(),
  truncated: z.boolean(),
});

const rowFields = {
  id: z.number().int(),
  at: iso,
  originated: z.string(),
  originInstance: z.string().nullable(),
  instructionCount: z.number().int(),
  instructions: z.array(instruction).nullable(),
  malformed: z.string().nullable(),
  /** Only on a row whose body is over tail's or show's --max-bytes. */
  oversizeBytes: z.number().int().optional(),
};
export const row = z.strictObject(rowFields);
export const fullRow = z.strictObject({ ...rowFields, json: z.string() });
export const pendingRow = z.strictObject({ ...rowFields, appliedAtWrite: z.boolean() });

const role = z.enum(['single', 'scheduling-publisher', 'subscriber', 'unknown', 'stopped']);

export const publisher = z.strictObject({
  identity: z.string(),
  instanceId: z.string(),
  acquiredAt: iso.nullable(),
  renewedAt: iso.nullable(),
  expiresAt: iso.nullable(),
});

export const server = z.strictObject({
  identity: z.string(),
  registered: z.boolean(),
  host: z.string().nullable(),
  pid: z.number().int().nullable(),
  packageVersion: z.string().nullable(),
  instanceId: z.string().nullable(),
  role: role.nullable(),
  active: z.boolean(),
  publisher: z.boolean(),
  registeredAt: iso.nullable(),
  lastHeartbeat: iso.nullable(),
  heartbeatAgeSeconds: z.number().nullable(),
  refreshers: z.array(z.string()).nullable(),
  regions: z
    .array(
      z.strictObject({
        region: z.string(),
        hits: z.number(),
        misses: z.number(),
        loads: z.number(),
        loadErrors: z.number(),
        loadsDiscarded: z.number(),
        servedFromGrace: z.number(),
        size: z.number(),
        evictions: z.number(),
      }),
    )
    .nullable(),
  wakeUp: z.enum(['on', 'off', 'connecting', 'disabled']).nullable(),
  cursor: z
    .strictObject({
      position: z.string(),
      lastSynced: iso.nullable(),
      coldBootRequested: z.boolean(),
      databaseIdentity: z.string().nullable(),
    })
    .nullable(),
  pendingRows: z.number().int().nullable(),
  pendingInstructions: z.number().int().nullable(),
  lagSeconds: z.number().nullable(),
  lastError: z.string().nullable(),
});

export const status = z.strictObject({
  database: z.strictObject({ dialect: z.enum(['postgres', 'sqlite', 'mysql']), source: z.string(), display: z.string() }),
  cluster: z.string(),
  tablePrefix: z.string(),
  dialect: z.enum(['postgres', 'sqlite', 'mysql']),
  now: iso,
  schema: z.strictObject({ applied: z.array(z.string()), pending: z.array(z.string()) }),
  publisher: publisher.nullable(),
  servers: z.array(server),
  hiddenStopped: z.number().int().nonnegative(),
  log: z.strictObject({
    rows: z.number().int(),
    instructions: z.number().int(),
    minId: z.number().int().nullable(),
    maxId: z.number().int().nullable(),
    oldest: iso.nullable(),
    newest: iso.nullable(),
    pastRetention: z.number().int(),
    retentionSeconds: z.number(),
  }),
  failures: z.strictObject({ count: z.number().int() }),
  history: z.strictObject({ databaseIdentity: z.string().nullable(), foreignRows: z.number().int(), otherDatabase: z.array(z.string()) }),
  unreadable: z.array(z.enum(['servers', 'log', 'failures', 'history'])),
});

export const servers = z.strictObject({
  cluster: z.string(),
  publisher: publisher.nullable(),
  servers: z.array(server),
  hiddenStopped: z.number().int().nonnegative(),
});

export const pendingOverview = z.strictObject({
  cluster: z.string(),
  servers: z.array(
    z.strictObject({
      identity: z.string(),
      registered: z.boolean(),
      active: z.boolean(),
      pendingRows: z.number().int().nullable(),
      pendingInstructions: z.number().int().nullable(),
      lagSeconds: z.number().nullable(),
      coldBootRequested: z.boolean().nullable(),
    }),
  ),
});

export const serverPending = z.strictObject({
  cluster: z.string(),
  server: z.string(),
  position: z.string().nullable(),
  coldBootRequested: z.boolean().nullable(),
  pendingRows: z.number().int().nullable(),
  pendingInstructions: z.number().int().nullable(),
  lagSeconds: z.number().nullable(),
  limit: z.number().int(),
  truncated: z.boolean(),
  leftOut: z.number().int(),
  rows: z.array(pendingRow),
});

export const tail = z.strictObject({ cluster: z.string(), rows: z.array(row), leftOut: z.number().int() });

export const send = z.strictObject({
  originated: z.string().regex(/^cli:.+@.+$/),
  refresher: z.string(),
  kind: z.enum(['refresh-all', 'refresh', 'remove', 'payload']),
  rowIds: z.array(z.number().int()),
  instructions: z.number().int(),
  verified: z.boolean(),
});

export const resync = z.strictObject({ server: z.string(), alreadyRequested: z.boolean(), active: z.boolean() });
export const resyncAll = z.strictObject({ all: z.literal(true), flagged: z.number().int(), servers: z.array(z.string()) });

const range = z.strictObject({ rows: z.number().int(), minId: z.number().int().nullable(), maxId: z.number().int().nullable() });
export const prunePreview = z.strictObject({
  dryRun: z.literal(true),
  retentionSeconds: z.number(),
  maxRetentionSeconds: z.number(),
  respecting: z.array(z.string()),
  withinRetention: range,
  pastMaxRetention: range,
  mayColdBoot: z.array(z.string()),
  wouldForget: z.array(z.string()),
});
export const prune = z.strictObject({
  dryRun: z.literal(false),
  deleted: z.number().int(),
  marked: z.array(z.string()),
  forgotten: z.array(z.string()),
  durationMs: z.number().int(),
});

export const failures = z.strictObject({
  cluster: z.string(),
  total: z.number().int(),
  server: z.string().nullable(),
  limit: z.number().int(),
  failures: z.array(
    z.strictObject({
      id: z.number().int(),
      at: iso.nullable(),
      server: z.string(),
      rowId: z.number().int().nullable(),
      refresher: z.string().nullable(),
      kind: z.string().nullable(),
      action: z.enum([
        'fell-back-to-refresh-all',
        'gave-up',
        'skipped-malformed-row',
        'skipped-malformed-instruction',
        'skipped-unknown-refresher',
        'rejected-payload',
      ]),
      error: z.string(),
      detail: z.string().nullable(),
    }),
  ),
});

export const actions = z.strictObject({
  cluster: z.string(),
  actions: z.array(
    z.strictObject({
      id: z.number().int(),
      at: iso.nullable(),
      action: z.enum(['resync', 'resync-all', 'prune']),
      server: z.string().nullable(),
      originated: z.string(),
      result: z.unknown(),
    }),
  ),
});

export const forget = z.strictObject({ server: z.string(), registration: z.boolean(), cursor: z.boolean() });

export const migrate = z.strictObject({ dryRun: z.literal(false), applied: z.array(z.string()) });
export const migratePlan = z.strictObject({
  dryRun: z.literal(true),
  pending: z.array(z.string()),
  statements: z.array(z.strictObject({ migration: z.string(), sql: z.string(), bindings: z.array(z.unknown()) })),
});

/** Parses `value` with `schema`, failing with zod's description of every mismatch. */
export function shaped<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new Error(
      `${what} does not match its documented shape:\n${z.prettifyError(result.error)}\n${JSON.stringify(value, null, 2).slice(0, 3000)}`,
    );
  return result.data;
}
