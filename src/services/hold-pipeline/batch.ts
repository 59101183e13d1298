import { Abandoned } from "../../db/errors";
import { query, transact } from "../../db/transaction";
import { allOf } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, gaveUp, notFound } from "../../errors";
import { type ClaimResult, claimKey, replayTaken, responseOf, storeResponse } from "../idempotency";
import { publishProducts } from "../products/cache";
import { lockProduct } from "../products/stock";
import { type Allocation, allocate, type Decision } from "./allocate";
import { batchCommitted } from "./commit-proof";
import type { HoldAnswer, HoldRequest } from "./queue";
import { autoIncrementOf, lockedProductOf, lockProductStatement } from "./sql";

// The batch: one transaction serves a batch of one product's hold requests (see queue.ts for
// why they are batched), retried without the requests whose clients gave up.

/**
 * Serves a batch of hold requests for one product in one transaction. A batch commits only
 * while every one of its clients still waits; when some gave up (and were answered 503), it
 * is rolled back and served again without them.
 */
export async function reserveHolds(
  deps: Deps,
  batch: HoldRequest[],
  locked: () => void = () => undefined,
): Promise<HoldAnswer[]> {
  const answers: HoldAnswer[] = new Array(batch.length);
  let live = batch;
  // Where each live request stands in `batch`; none until a request leaves (the common case).
  let positions: number[] | undefined;
  for (;;) {
    if (live.some((request) => request.deadline.abandoned)) {
      const staying: HoldRequest[] = [];
      const at: number[] = [];
      for (const [i, request] of live.entries()) {
        const position = positions ? (positions[i] as number) : i;
        if (request.deadline.abandoned) answers[position] = gaveUp();
        else {
          staying.push(request);
          at.push(position);
        }
      }
      live = staying;
      positions = at;
    }
    if (live.length === 0) return answers;
    try {
      const served = await reserveBatch(deps, live, locked);
      if (!positions) return served;
      for (const [i, answer] of served.entries()) answers[positions[i] as number] = answer;
      return answers;
    } catch (err) {
      if (!(err instanceof Abandoned)) throw err;
    }
  }
}

/**
 * One transaction for a batch: the product row is locked once, requests are decided in
 * arrival order, each all-or-nothing.
 */
async function reserveBatch(
  deps: Deps,
  batch: HoldRequest[],
  locked: () => void,
): Promise<HoldAnswer[]> {
  const productId = batch[0]?.productId;
  if (productId === undefined) return [];
  const autoIncrement = await autoIncrementOf(deps.db);
  const guard = allOf(batch.map((request) => request.deadline));
  // A batch without keys locks its product first thing, so the lock goes with BEGIN; keys are
  // claimed before the product (the order every transaction takes them in).
  const keyless = batch.every((request) => !request.idem);
  const { decisions, snapshot, reclaimedHolds, soldOut, sighting } = await transact(
    deps,
    guard,
    async (tx, opened) => {
      const decisions: Decision[] = new Array(batch.length);
      // Keys are claimed in a fixed order so two batches sharing keys cannot deadlock.
      const keyed = batch
        .map((request, index) => ({ request, index }))
        .filter((entry) => entry.request.idem)
        .sort((a, b) => compareKeys(a.request.idem?.key ?? "", b.request.idem?.key ?? ""));
      for (const { request, index } of keyed) {
        if (!request.idem) continue;
        const claim = await claimKey(tx, request.idem, deps.config.IDEMPOTENCY_KEY_TTL_HOURS);
        if (claim !== "claimed") decisions[index] = { kind: "taken", claim };
      }

      const product =
        opened === undefined ? await lockProduct(tx, productId) : lockedProductOf(opened);
      locked();
      let outcome: Allocation = { reclaimedHolds: 0 };
      if (product) {
        outcome = await allocate(tx, deps, product, batch, decisions, autoIncrement, keyless);
      } else {
        batch.forEach((_, i) => {
          decisions[i] ??= { kind: "refused", error: notFound.product(productId) };
        });
      }

      for (const [i, request] of batch.entries()) {
        const decision = decisions[i];
        if (!request.idem || !decision || decision.kind === "taken") continue;
        const response =
          decision.kind === "granted"
            ? responseOf({ status: 201, value: decision.view })
            : responseOf(decision.error);
        await storeResponse(tx, request.idem, response);
      }
      return { decisions, ...outcome };
    },
    {
      committed: (db, result) => batchCommitted(db, result, productId),
      openWith: keyless ? lockProductStatement(productId) : undefined,
      closeWith: (result) => result.closing,
    },
  );

  if (snapshot) publishProducts(deps, [snapshot]);
  if (sighting) deps.soldOut.saw(productId, sighting);
  if (soldOut) deps.logger.info({ productId }, "product sold out: every unit is held or sold");
  deps.metrics.holdBatchSize.observe(batch.length);
  if (reclaimedHolds > 0) deps.metrics.holdsExpired.inc({ by: "buyer" }, reclaimedHolds);
  let granted = 0;
  let replays = false;
  const answers = decisions.map((decision, i): HoldAnswer | Promise<HoldAnswer> => {
    switch (decision.kind) {
      case "granted":
        granted++;
        return { replayed: false, value: decision.view };
      case "refused":
        deps.metrics.holdsRefused.inc({ reason: decision.error.code });
        return decision.error;
      default:
        replays = true;
        return replayAfterCommit(deps, batch[i], decision.claim);
    }
  });
  deps.metrics.holdsGranted.inc(granted);
  // Most batches have nothing to replay: no promise per answer then.
  return replays ? Promise.all(answers) : (answers as HoldAnswer[]);
}

async function replayAfterCommit(
  deps: Deps,
  request: HoldRequest | undefined,
  claim: ClaimResult,
): Promise<HoldAnswer> {
  const idem = request?.idem;
  if (!request || !idem) throw new Error("a key was taken for a request without one");
  try {
    const response = await query(deps, request.deadline, (db) => replayTaken(db, idem, claim));
    return { replayed: true, response };
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/** A stable order: the same key twice in one batch keeps arrival order, so the first claims it. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
