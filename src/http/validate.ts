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
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body's bytes as text, refusing bytes that are not UTF-8 (a 400, as JSON text is UTF-8):
 * `Request.json()` and `text()` would put U+FFFD in their place, and two different strings
 * would then be stored as one. Hono keeps the bytes, so a signature checked before over the
 * same body reads them again, not a decoded copy.
 */
function strictText(c: Context): Promise<string> {
  return c.req.arrayBuffer().then((bytes) => strictUtf8.decode(bytes));
}

/**
 * The body as JSON: 415 for another media type, 400 for a body that does not parse or is not
 * UTF-8. Written with `then`, as are the keyed routes (docs/hot-path.md, rule 1).
 */
export function readJson(c: Context): Promise<unknown> {
  if (!JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? "")) {
    return Promise.reject(unsupportedMediaType());
  }
  return strictText(c).then(JSON.parse).then(undefined, malformedJson);
}

/**
 * The body as the webhook signers' libraries read it (bytes that are not UTF-8 as U+FFFD),
 * from the bytes Hono keeps, so that `readJson` still sees the bytes themselves.
 */
export function signedText(c: Context): Promise<string> {
  return c.req.arrayBuffer().then((bytes) => Buffer.from(bytes).toString("utf8"));
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
