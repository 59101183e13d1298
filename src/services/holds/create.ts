import { query } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError } from "../../errors";
import type { BuyerId } from "../buyers";
import type { HoldRequest } from "../hold-pipeline/queue";
import { type IdempotencyHeader, type Outcome, precheckKey } from "../idempotency";
import { refreshProduct } from "../products/cache";
import { windowRefusalFromMemory } from "../sale-window";
import type { HoldView } from "../views";

// Granting a hold: a refusal from memory when one is certain, else the request joins its
// product's line in the hold pipeline (../hold-pipeline), which decides it in a batch.

export type CreateHoldInput = { product_id: number; qty: number };

export const HOLDS_SCOPE = "POST /api/holds";

/** A hold, or its refusal (409, 401, 429, ...) as a value. */
export type HoldOutcome = Outcome<HoldView> | AppError;

/**
 * A hold, or its refusal as a value; one decided from memory (sold out, the line full) comes
 * back at once (docs/hot-path.md, rule 1). Database failures are thrown (503).
 */
export function createHold(
  deps: Deps,
  input: CreateHoldInput,
  buyer: BuyerId,
  deadline: CommitGuard,
  idempotency?: IdempotencyHeader,
): HoldOutcome | Promise<HoldOutcome> {
  const refusal = refuseFromMemory(deps, input.product_id, buyer, idempotency);
  if (refusal) return countedRefusal(deps, refusal);
  const request: HoldRequest = {
    productId: input.product_id,
    qty: input.qty,
    buyer,
    deadline,
  };
  return idempotency ? keyedHold(deps, request, idempotency) : queued(deps, request);
}

/** The request in its product's line; a full line's 429 is counted and answered at once. */
function queued(deps: Deps, request: HoldRequest): HoldOutcome | Promise<HoldOutcome> {
  const answer = deps.holdBatcher.submit(request);
  return answer instanceof AppError ? countedRefusal(deps, answer) : answer;
}

/** The refusal, counted in the refusals metric by its code. */
function countedRefusal(deps: Deps, refusal: AppError): AppError {
  deps.metrics.holdsRefused.inc({ reason: refusal.code });
  return refusal;
}

/** A keyed hold: a key already answered is replayed before the request joins the queue. */
async function keyedHold(
  deps: Deps,
  request: HoldRequest,
  idempotency: IdempotencyHeader,
): Promise<HoldOutcome> {
  const checked = await query(deps, request.deadline, (db) =>
    precheckKey(db, { scope: HOLDS_SCOPE, buyer: request.buyer ?? "", ...idempotency }),
  );
  if ("replayed" in checked) return checked;
  request.idem = checked;
  return queued(deps, request);
}

/**
 * A refusal without the database: a sale that by this process's clock is far from open or long
 * over (see sale-window.ts), checked first as the database checks the window first, or a
 * sold-out product (see state/sold-out-board.ts). Not for a keyed request, whose 409 must be
 * remembered with its key.
 */
function refuseFromMemory(
  deps: Deps,
  productId: number,
  buyer: BuyerId,
  idempotency: IdempotencyHeader | undefined,
): AppError | undefined {
  if (idempotency) return undefined;
  const product = deps.productCache.get(productId);
  if (product !== undefined && (product.startsAt !== null || product.endsAt !== null)) {
    const now = deps.clock();
    const closed = windowRefusalFromMemory(product, now, deps.config.SALE_CLOCK_MARGIN_MS);
    if (closed) {
      // Read again before the copy expires (one read, shared): otherwise every request of the
      // storm would go to the database at once each time it did, and fill the queue.
      if (now >= product.refreshAt) refreshProduct(deps, productId);
      return closed;
    }
  }
  return deps.soldOut.refusal(productId, buyer === null);
}
