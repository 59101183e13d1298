import type { Context, Env, ValidationTargets } from "hono";
import type { z } from "zod";
import { malformedJson, unsupportedMediaType, validationFailed } from "./problem";
import { ID_PATTERN, IdempotencyHeaders, IdParams } from "./schemas";

/** A request part validated by `schema`, synchronously; a failure is the contract's 422. */
export function parseNow<Schema extends z.ZodType>(
  target: keyof ValidationTargets,
  schema: Schema,
  value: unknown,
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(target, result.error);
  return result.data;
}

/**
 * A path's `:id`, as `IdParams` reads it, for the cached product read: the schema's own
 * pattern, tested directly, where running the schema was a tenth of that read. The schema runs
 * only to build the error of a bad id, so the 422 is the same.
 */
export function parseId(value: string): number {
  return ID_PATTERN.test(value) ? Number(value) : parseNow("param", IdParams, { id: value }).id;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

/**
 * The body as JSON: 415 for another media type, 400 for a body that does not parse. Written
 * with `then`, as are the keyed routes (docs/hot-path.md, rule 1).
 */
export function readJson(c: Context): Promise<unknown> {
  if (!JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? "")) {
    return Promise.reject(unsupportedMediaType());
  }
  return c.req.json().then(undefined, malformedJson);
}

/**
 * A route taking a JSON body validated by `schema` and an optional `Idempotency-Key` header:
 * checked in that order (header 422, 415, 400, body 422), then `serve` runs with both; `quick`
 * may give the schema's output for a valid body without running it (see `quickHoldInput`). One
 * handler rather than validator middleware before it (docs/hot-path.md, rule 2).
 */
export function keyedJsonRoute<Schema extends z.ZodType, E extends Env>(
  schema: Schema,
  serve: (
    c: Context<E>,
    input: z.output<Schema>,
    key: string | undefined,
  ) => Response | Promise<Response>,
  quick?: (value: unknown) => z.output<Schema> | undefined,
): (c: Context<E>) => Promise<Response> {
  return (c) => {
    const key = c.req.header("idempotency-key");
    // Most requests carry no key: nothing to check.
    if (key !== undefined) parseNow("header", IdempotencyHeaders, { "idempotency-key": key });
    return readJson(c).then((body) =>
      serve(c, quick?.(body) ?? parseNow("json", schema, body), key),
    );
  };
}
