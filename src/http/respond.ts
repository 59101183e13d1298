import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { fingerprintOf, type IdempotencyHeader, type Outcome } from "../services/idempotency";
import { PROBLEM_JSON } from "./problem";

/** The validated Idempotency-Key with the fingerprint of the validated body, if a key came. */
export function idempotencyOf(
  key: string | undefined,
  scope: string,
  body: unknown,
): IdempotencyHeader | undefined {
  return key === undefined ? undefined : { key, fingerprint: fingerprintOf(scope, body) };
}

/** A fresh result as JSON, or the first response to the same key again, byte for byte. */
export function sendOutcome<T>(
  c: Context,
  outcome: Outcome<T>,
  status: ContentfulStatusCode,
): Response {
  if (!outcome.replayed) return c.json(outcome.value, status);
  const { response } = outcome;
  return c.body(response.body, response.status as ContentfulStatusCode, {
    "content-type": response.status >= 400 ? PROBLEM_JSON : "application/json",
    "idempotent-replayed": "true",
  });
}
