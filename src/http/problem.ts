import type { Context, ValidationTargets } from "hono";
import { toAppError } from "../db/errors";
import { AppError, type FieldError } from "../errors";
import type { Logger } from "../lib/logger";
import { requestIdOf, stampedResponse } from "./bindings";

// Where every failure that is not already an AppError is given one (a request that does not
// parse or validate, anything else as a 500; a database failure through db/errors.ts, which says
// what one is and which 503 it is) and every problem is written out.

export const PROBLEM_JSON = "application/problem+json";

type Issues = { issues: readonly { path: readonly PropertyKey[]; message: string }[] };

function fieldErrors(error: Issues): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "body",
    message: issue.message,
  }));
}

/** A request part that failed its schema: the contract's 422 with the issues as `errors[]`. */
export function validationFailed(target: keyof ValidationTargets, error: Issues): AppError {
  const what = target === "json" ? "request body" : target === "param" ? "path" : target;
  return new AppError("validation_failed", `The ${what} is not valid.`, {
    errors: fieldErrors(error),
  });
}

export const malformedJson = (): never => {
  throw new AppError("malformed_json", "The request body is not valid JSON.");
};

export function unsupportedMediaType(): AppError {
  return new AppError("unsupported_media_type", "Send the request body as application/json.");
}

export function payloadTooLarge(bound: number): AppError {
  return new AppError("payload_too_large", `The request body is larger than ${bound / 1024} KiB.`);
}

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

/** The server's own handler, reached only if something throws outside the app's `onError`. */
export function runtimeErrorHandler(logger: Logger) {
  return (err: Error): Response => {
    logger.error({ err }, "unhandled error outside the app");
    const response = problemResponse(
      new AppError("internal_error", "An unexpected error occurred."),
    );
    response.headers.set("x-content-type-options", "nosniff");
    return response;
  };
}
