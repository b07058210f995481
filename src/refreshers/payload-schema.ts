import { DistcacheError } from '../errors.js';
import { errors } from '../errors.js';
import type { CacheRefresher } from './refresher.js';

/** The Standard Schema interface (zod 3.24+ and 4, valibot, arktype), to the extent used here. */
export interface StandardSchemaLike<T> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<T> | Promise<StandardResult<T>>;
  };
}

type StandardResult<T> =
  | { readonly value: T; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

/**
 * How payloads are checked: a Standard Schema (a zod schema, for one), or a plain function that
 * returns the typed payload and throws when it is invalid.
 */
export type PayloadSchema<T> = StandardSchemaLike<T> | ((payload: unknown) => T);

/** One payload that failed validation, and why. */
export interface PayloadRejection {
  payload: unknown;
  reason: string;
}

/** The code of the error thrown for rejected payloads; see `RejectedPayloadError`. */
export const REJECTED_PAYLOAD = 'E_REJECTED_PAYLOAD';

/**
 * Thrown by a validating refresher after it applied the valid payloads of a call, naming those it
 * rejected. The applier records it as a failure of the instruction with action `rejected-payload`,
 * without retries or a refreshAll() fallback: the payload would fail the same way again.
 */
export class RejectedPayloadError extends DistcacheError {
  constructor(
    readonly refresher: string,
    readonly rejected: readonly PayloadRejection[],
  ) {
    const shown = rejected
      .slice(0, 3)
      .map((r) => `${preview(r.payload)}: ${r.reason}`)
      .join('; ');
    super(
      REJECTED_PAYLOAD,
      `refresher '${refresher}' rejected ${rejected.length} payload${rejected.length === 1 ? '' : 's'} that failed validation ` +
        `(${shown}${rejected.length > 3 ? '; …' : ''})`,
    );
    this.name = 'RejectedPayloadError';
  }
}

export function isRejectedPayloadError(err: unknown): err is Error & { code: typeof REJECTED_PAYLOAD } {
  return err instanceof Error && (err as { code?: unknown }).code === REJECTED_PAYLOAD;
}

/**
 * Wraps a refresher so each incoming payload is validated before it reaches `refreshPayload()`.
 * Valid payloads are applied (with the schema's output, so defaults and transforms apply); then, if
 * any failed, the call throws a `RejectedPayloadError` naming them, and the failure is recorded in
 * the failure table. An invalid payload is never applied.
 *
 * @example
 * const Product = z.object({ id: z.number(), price: z.number() });
 * const refresher = withPayloadSchema(
 *   mapRefresher({ id: 'product', map: productCache, entry: (p: z.infer<typeof Product>) => [p.id, p] }),
 *   Product,
 * );
 */
export function withPayloadSchema<T>(refresher: CacheRefresher<T>, schema: PayloadSchema<T>): CacheRefresher<T> {
  const inner = refresher.refreshPayload;
  if (typeof inner !== 'function') {
    throw new errors.InvalidOptionError(
      `withPayloadSchema: refresher '${refresher.id}' has no refreshPayload() method, so it takes no payloads to validate`,
    );
  }
  if (!isStandardSchema(schema) && typeof schema !== 'function') {
    throw new errors.InvalidOptionError(
      `withPayloadSchema('${refresher.id}'): schema must be a Standard Schema (such as a zod schema) or a function that returns ` +
        `the payload and throws when it is invalid`,
    );
  }
  const validate = validator(schema);
  return {
    ...refresher,
    async refreshPayload(payloads: unknown[]) {
      const valid: T[] = [];
      const rejected: PayloadRejection[] = [];
      for (const payload of payloads) {
        const result = await validate(payload);
        if (result.ok) valid.push(result.value);
        else rejected.push({ payload, reason: result.reason });
      }
      if (valid.length > 0) await inner.call(refresher, valid);
      if (rejected.length > 0) throw new RejectedPayloadError(refresher.id, rejected);
    },
  } as CacheRefresher<T>;
}

type Validation<T> = { ok: true; value: T } | { ok: false; reason: string };

function validator<T>(schema: PayloadSchema<T>): (payload: unknown) => Promise<Validation<T>> {
  if (isStandardSchema(schema)) {
    return async (payload) => {
      const result = await schema['~standard'].validate(payload);
      if (result.issues === undefined) return { ok: true, value: result.value };
      return { ok: false, reason: result.issues.map(describeIssue).join(', ') || 'invalid' };
    };
  }
  return async (payload) => {
    try {
      return { ok: true, value: schema(payload) };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  };
}

function isStandardSchema<T>(schema: PayloadSchema<T>): schema is StandardSchemaLike<T> {
  return typeof schema === 'object' && schema !== null && typeof (schema as StandardSchemaLike<T>)['~standard']?.validate === 'function';
}

function describeIssue(issue: { message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }): string {
  const path = issue.path?.map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
