import { toAppError } from "../db/errors";
import type { Deps } from "../deps";
import { AppError } from "../errors";

/**
 * A job run that failed. A database outage is already logged once by the health tracker, so
 * a run that failed because of it stays quiet instead of adding a line every second.
 */
export function logJobFailure(deps: Pick<Deps, "logger">, job: string, err: unknown): void {
  const mapped = toAppError(err);
  if (mapped instanceof AppError && mapped.code === "service_unavailable") {
    deps.logger.debug(
      { job, cause: (err as Error).message },
      "job run failed: database busy or down",
    );
    return;
  }
  deps.logger.error({ job, err }, "job run failed");
}
