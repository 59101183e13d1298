import { AppError } from "../../src/errors";
import type { HoldAnswer } from "../../src/services/hold-pipeline/queue";
import type { createHold } from "../../src/services/holds";

/** A hold answer reduced to what the batch tests compare: granted qty, refusal code, or replay. */
export function summary(answer: HoldAnswer | Awaited<ReturnType<typeof createHold>>) {
  if (answer instanceof AppError) return { code: answer.code, available: answer.extras.available };
  if (answer.replayed) return { replayed: answer.response.status };
  return { granted: answer.value.qty };
}
