import { toAppError } from "../db/errors";
import type { Deps } from "../deps-type";
import { AppError } from "../errors";

/**
 * A job run that failed, counted. A database outage is already logged once by the health
 * tracker, and on a Galera cluster two nodes' sweepers can take the same rows (SKIP LOCKED
 * sees only its own node's locks) and one fails certification: both are transient, the next
 * run picks up what was left, so they are counted and logged at debug level only.
 */
export function logJobFailure(
  deps: Pick<Deps, "logger" | "metrics">,
  job: string,
  err: unknown,
): void {
  const mapped = toAppError(err);
  const busy = mapped instanceof AppError && mapped.code === "service_unavailable";
  deps.metrics.jobRunsFailed.inc({ job, reason: busy ? "busy" : "error" });
  if (busy) {
    deps.logger.debug(
      { job, cause: (err as Error).message },
      "job run failed: database busy or down",
    );
    return;
  }
  deps.logger.error({ job, err }, "job run failed");
}
