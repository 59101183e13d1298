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

/** zValidator whose failures are the contract's 422 `validation_failed` problem. */
export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const errors = fieldErrors(result.error);
      const what = target === "json" ? "request body" : target === "param" ? "path" : target;
      throw new AppError("validation_failed", `The ${what} is not valid.`, { errors });
    }
  });
}
