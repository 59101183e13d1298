import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../errors";
import { fingerprintOf, type IdempotencyHeader, type Outcome } from "../services/idempotency";
import { stampedResponse } from "./bindings";
import { PROBLEM_JSON, problemResponse } from "./problem";

/** The validated Idempotency-Key with the fingerprint of the validated body, if a key came. */
export function idempotencyOf(
  key: string | undefined,
  scope: string,
  body: unknown,
): IdempotencyHeader | undefined {
  return key === undefined ? undefined : { key, fingerprint: fingerprintOf(scope, body) };
}

export const JSON_TYPE = { "content-type": "application/json" };

/**
 * A fresh result as JSON, or the first response to the same key again, byte for byte. Built
 * stamped with the request id: a granted hold is the hot path's answer.
 */
export function sendOutcome<T>(
  c: Context,
  outcome: Outcome<T>,
  status: ContentfulStatusCode,
): Response {
  if (!outcome.replayed)
    return stampedResponse(c, JSON.stringify(outcome.value), status, JSON_TYPE);
  const { response } = outcome;
  return stampedResponse(c, response.body, response.status, {
    "content-type": response.status >= 400 ? PROBLEM_JSON : "application/json",
    "idempotent-replayed": "true",
  });
}

/**
 * A service's outcome or refusal as the response, now or once it is known: a refusal decided
 * from memory stays synchronous (docs/hot-path.md, rule 1).
 */
export function sendAnswer<T>(
  c: Context,
  answer: Outcome<T> | AppError | Promise<Outcome<T> | AppError>,
  status: ContentfulStatusCode,
): Response | Promise<Response> {
  const send = (settled: Outcome<T> | AppError): Response =>
    settled instanceof AppError ? problemResponse(settled, c) : sendOutcome(c, settled, status);
  return answer instanceof Promise ? answer.then(send) : send(answer);
}
