import type { Context } from "hono";
import { toAppError } from "../db/errors";
import { AppError } from "../errors";
import type { Logger } from "../lib/logger";
import { requestIdOf, stampedResponse } from "./bindings";

export const PROBLEM_JSON = "application/problem+json";

type Prepared = { body: string; headers: Record<string, string> };

/** Errors answered many times over (sold out, queue full) are written out once. */
const prepared = new WeakMap<AppError, Prepared>();

/** The problem document; given the request's context, stamped with its request id. */
export function problemResponse(error: AppError, c?: Context): Response {
  let ready = prepared.get(error);
  if (!ready) {
    const headers: Record<string, string> = { "content-type": PROBLEM_JSON };
    if (error.retryAfterSeconds !== undefined)
      headers["retry-after"] = String(error.retryAfterSeconds);
    if (error.code === "unauthorized") headers["www-authenticate"] = "Bearer";
    ready = { body: JSON.stringify(error.toProblem()), headers };
    prepared.set(error, ready);
  }
  if (c) return stampedResponse(c, ready.body, error.status, ready.headers);
  return new Response(ready.body, { status: error.status, headers: ready.headers });
}

/** The one place that turns anything thrown into a response; a 500 says nothing internal. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    const requestId = requestIdOf(c);
    const mapped = toAppError(err);
    if (mapped instanceof AppError) {
      // An outage fails every request: the database health tracker logs it once instead.
      if (mapped.status >= 500) {
        logger.debug({ requestId, code: mapped.code, cause: err.message }, mapped.detail);
      }
      return problemResponse(mapped);
    }
    logger.error({ requestId, err }, "unhandled error");
    return problemResponse(
      new AppError(
        "internal_error",
        `An unexpected error occurred; quote request id ${requestId}.`,
      ),
    );
  };
}
