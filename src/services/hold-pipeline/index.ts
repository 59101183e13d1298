import type { Config } from "../../config";
import type { Deps } from "../../deps-type";
import { reserveHolds } from "./batch";
import { HoldBatcher } from "./queue";

// The hold pipeline, the hot path of a sale, read top-down:
//   queue.ts         a product's requests wait in line; one batch at a time takes the lock
//   batch.ts         a batch's transaction, retried without clients that gave up, and
//                    its decisions applied after COMMIT
//   decide.ts        inside it: keys claimed, the product locked, the writes run or sent
//                    with COMMIT, the decisions returned
//   allocate.ts      the locked product's units shared out in arrival order
//   sql.ts           the statements the batch sends, written out as text
//   commit-proof.ts  after a lost answer to COMMIT, whether the batch committed
// A hold enters it from ../holds/create.ts. What must stay cheap on this path, and why, is
// written once in docs/hot-path.md; the code points to its rules by number.

export type { HoldAnswer, HoldRequest } from "./queue";

/** The process's hold pipeline; `deps` is read when the first batch runs. */
export function createHoldPipeline(config: Config, deps: () => Deps): HoldBatcher {
  return new HoldBatcher(
    config.HOLD_BATCH_MAX,
    (batch, locked, leave) => reserveHolds(deps(), batch, locked, leave),
    config.HOLD_QUEUE_MAX,
  );
}
