import { Abandoned } from "../../db/errors";
import { query, transactClosing } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import { BatchDeadline, gone } from "../../deadline/shared-deadline";
import type { Deps } from "../../deps-type";
import { AppError, gaveUp } from "../../errors";
import { type ClaimResult, replayTaken } from "../idempotency";
import { publishProducts } from "../products/cache";
import type { Allocation } from "./allocate";
import { answersOf, decide, firstHoldCommitted, openingOf } from "./decide";
import type { HoldAnswer, HoldRequest } from "./queue";
import { autoIncrementOf } from "./sql";

// The batch: one transaction serves a batch of one product's hold requests (see queue.ts for
// why they are batched), retried without the requests whose clients gave up; what runs inside
// it is decide.ts, and its decisions are applied here after COMMIT.

/**
 * Serves a batch of hold requests for one product in one transaction. A batch commits only
 * while every one of its clients still waits; when some gave up (and were answered 503), it
 * is rolled back and served again without them. One timer watches the batch's deadlines
 * (docs/hot-path.md, rule 3); `leave` answers a request given up on at its deadline.
 */
export async function reserveHolds(
  deps: Deps,
  batch: HoldRequest[],
  locked: () => void = () => undefined,
  leave: (request: HoldRequest) => void = () => undefined,
): Promise<HoldAnswer[]> {
  const answers: HoldAnswer[] = new Array(batch.length);
  let live = batch;
  // Where each live request stands in `batch`; none until a request leaves (the common case).
  let positions: number[] | undefined;
  for (;;) {
    if (live.some(gone)) {
      const staying: HoldRequest[] = [];
      const at: number[] = [];
      for (const [i, request] of live.entries()) {
        const position = positions ? (positions[i] as number) : i;
        if (gone(request)) answers[position] = gaveUp();
        else {
          staying.push(request);
          at.push(position);
        }
      }
      live = staying;
      positions = at;
    }
    if (live.length === 0) return answers;
    const guard = new BatchDeadline(live, leave);
    try {
      const served = await reserveBatch(deps, live, guard, locked);
      if (!positions) return served;
      for (const [i, answer] of served.entries()) answers[positions[i] as number] = answer;
      return answers;
    } catch (err) {
      if (!(err instanceof Abandoned)) throw err;
    } finally {
      guard.stop();
    }
  }
}

/**
 * One transaction for a batch: the product row is locked once, requests are decided in
 * arrival order, each all-or-nothing. The batch is answered after COMMIT.
 */
async function reserveBatch(
  deps: Deps,
  batch: HoldRequest[],
  guard: CommitGuard,
  locked: () => void,
): Promise<HoldAnswer[]> {
  const productId = batch[0]?.productId;
  if (productId === undefined) return [];
  const autoIncrement = autoIncrementOf(deps.db, deps.logger);
  // A batch without keys locks its product first thing, so the lock goes with BEGIN, and its
  // writes go with COMMIT; keys are claimed before the product (the order every transaction
  // takes them in), and their answers stored before COMMIT.
  const keyless = batch.every((request) => !request.idem);
  const openWith = keyless ? openingOf(deps, productId, batch) : undefined;
  const { result, closed } = await transactClosing(
    deps,
    guard,
    (tx, opened) => decide(tx, deps, batch, { productId, opened, locked, autoIncrement, keyless }),
    {
      openWith,
      closeWith: (decided) => decided.closing,
      committed: (db, decided) => firstHoldCommitted(db, decided),
    },
  );

  const { allocation, taken } = result;
  if (allocation.snapshot) publishProducts(deps, [allocation.snapshot]);
  if (allocation.sighting) deps.soldOut.saw(productId, allocation.sighting);
  if (allocation.soldOut) {
    deps.logger.info({ productId }, "product sold out: every unit is held or sold");
  }
  countBatch(deps, batch.length, allocation);
  const answers = result.answers ?? answersOf(productId, allocation, closed ?? []);
  // Most batches have nothing to replay: no promise per answer then.
  if (taken.size === 0) return answers as HoldAnswer[];
  return Promise.all(
    answers.map((answer, i) => answer ?? replayAfterCommit(deps, batch[i], taken.get(i))),
  );
}

/** The batch's metrics, counted once per batch. */
function countBatch(deps: Deps, size: number, allocation: Allocation): void {
  const { metrics } = deps;
  metrics.holdBatchSize.observe(size);
  metrics.holdsGranted.inc(allocation.granted.length);
  if (allocation.reclaimedHolds > 0) {
    metrics.holdsExpired.inc({ by: "buyer" }, allocation.reclaimedHolds);
  }
  let reason: string | undefined;
  let count = 0;
  for (const decision of allocation.decisions) {
    if (decision?.kind !== "refused") continue;
    if (decision.error.code !== reason) {
      if (reason !== undefined) metrics.holdsRefused.inc({ reason }, count);
      reason = decision.error.code;
      count = 0;
    }
    count++;
  }
  if (reason !== undefined) metrics.holdsRefused.inc({ reason }, count);
}

async function replayAfterCommit(
  deps: Deps,
  request: HoldRequest | undefined,
  claim: ClaimResult | undefined,
): Promise<HoldAnswer> {
  const idem = request?.idem;
  if (!request || !idem || !claim) throw new Error("a key was taken for a request without one");
  try {
    const response = await query(deps, request.deadline, (db) => replayTaken(db, idem, claim));
    return { replayed: true, response };
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}
