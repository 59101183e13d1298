import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { z } from "zod";
import { AppError, type FieldError } from "../errors";

function fieldErrors(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "body",
    message: issue.message,
  }));
}

function validationFailed(
  target: keyof ValidationTargets,
  error: Parameters<typeof fieldErrors>[0],
) {
  const what = target === "json" ? "request body" : target === "param" ? "path" : target;
  return new AppError("validation_failed", `The ${what} is not valid.`, {
    errors: fieldErrors(error),
  });
}

/** zValidator whose failures are the contract's 422 `validation_failed` problem. */
export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw validationFailed(target, result.error);
  });
}

/**
 * The same validation, synchronously, for a route that must be able to answer without
 * awaiting anything (zValidator always awaits): the cached product read.
 */
export function parseNow<Schema extends z.ZodType>(
  target: keyof ValidationTargets,
  schema: Schema,
  value: unknown,
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(target, result.error);
  return result.data;
}
