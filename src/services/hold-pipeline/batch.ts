import { randomBytes } from "node:crypto";
import type { AutoIncrement, Tx } from "../../db/client";
import { combines, runStatements } from "../../db/connection";
import { Abandoned } from "../../db/errors";
import { type Closing, query, transactClosing } from "../../db/transaction";
import { allOf } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, gaveUp, notFound } from "../../errors";
import { type ClaimResult, claimKey, replayTaken, responseOf, storeResponse } from "../idempotency";
import { publishProducts } from "../products/cache";
import { lockProduct } from "../products/stock";
import { grantedHoldView, type HoldView } from "../views";
import { type Allocation, allocate, buyersOf } from "./allocate";
import { holdExists, provenHoldIds } from "./commit-proof";
import type { HoldAnswer, HoldRequest } from "./queue";
import {
  autoIncrementOf,
  holdsWrite,
  lockedProductOf,
  lockProductStatement,
  ownedOf,
  unitsByBuyerStatement,
} from "./sql";

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

type Granted = { replayed: false; value: HoldView };

/** What a batch's transaction decided, handed out of it to be applied after COMMIT. */
type Decided = {
  allocation: Allocation;
  /** Requests whose key was claimed before, by place in the batch: replayed after COMMIT. */
  taken: Map<number, ClaimResult>;
  /** Each request's answer (none for a taken key), once its holds' ids are known. */
  answers?: (Granted | AppError | undefined)[];
  /** The writes, when they go with COMMIT: the holds' ids then come from their results. */
  closing?: Closing<number[]>;
};

/**
 * One transaction for a batch: the product row is locked once, requests are decided in
 * arrival order, each all-or-nothing. The batch is answered after COMMIT.
 */
async function reserveBatch(
  deps: Deps,
  batch: HoldRequest[],
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
    allOf(batch.map((request) => request.deadline)),
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

/**
 * What a batch without keys sends with BEGIN: the product's locking read and, where this
 * process's copy of the product says it has a per-buyer limit, the buyers' units (read under
 * the lock it just took), so that the batch spends no round trip of its own on them.
 */
function openingOf(deps: Deps, productId: number, batch: HoldRequest[]): string[] {
  const lock = lockProductStatement(productId);
  if (deps.productCache.get(productId)?.view.max_per_buyer == null) return [lock];
  const buyers = buyersOf(batch, new Set());
  return buyers.length === 0 ? [lock] : [lock, unitsByBuyerStatement(productId, buyers, "NOW(3)")];
}

/** How a batch's transaction runs: see reserveBatch. */
type Setting = {
  productId: number;
  /** The rows of each statement sent with BEGIN, if they were. */
  opened: unknown[] | undefined;
  locked: () => void;
  autoIncrement: AutoIncrement;
  keyless: boolean;
};

/**
 * The batch's transaction: keys claimed, the product locked, its units allocated, the writes
 * run (or, for a batch without keys, handed back to go with COMMIT), the keyed answers stored.
 */
async function decide(
  tx: Tx,
  deps: Deps,
  batch: HoldRequest[],
  { productId, opened, locked, autoIncrement, keyless }: Setting,
): Promise<Decided> {
  const taken = await claimKeys(tx, batch, deps.config.IDEMPOTENCY_KEY_TTL_HOURS);
  const product =
    opened === undefined ? await lockProduct(tx, productId) : lockedProductOf(opened[0]);
  locked();
  if (!product) {
    const allocation = missing(productId, batch, taken);
    return stored(tx, batch, {
      allocation,
      taken,
      answers: answersOf(productId, allocation, []),
    });
  }
  const counted = opened?.[1] === undefined ? undefined : ownedOf(opened[1]);
  const allocation = await allocate(tx, deps, product, batch, new Set(taken.keys()), counted);
  const grants = allocation.granted.map((i) => batch[i] as HoldRequest);
  const defer = keyless && combines(tx);
  // Sent with COMMIT, the writes' answer can be lost with the connection; a batch row
  // written with them then tells whether they committed (see provenHoldIds).
  const token = defer && grants.length > 0 ? randomBytes(16) : undefined;
  const write = holdsWrite(autoIncrement, productId, grants, {
    createdAt: product.now,
    expiresAt: allocation.expiresAt,
    stockChange: allocation.stockChange,
    token,
  });
  if (defer && write.statements.length > 0) {
    // Without a token the batch granted nothing: its refusals are true either way.
    const recover = token
      ? (db: Tx) => provenHoldIds(db, productId, token, grants.length)
      : async () => [];
    return {
      allocation,
      taken,
      closing: { statements: write.statements, read: write.ids, recover },
    };
  }
  const holdIds =
    write.statements.length > 0 ? write.ids(await runStatements(tx, write.statements)) : [];
  return stored(tx, batch, {
    allocation,
    taken,
    answers: answersOf(productId, allocation, holdIds),
  });
}

/** Claims the batch's keys in a fixed order, so two batches sharing keys cannot deadlock. */
async function claimKeys(
  tx: Tx,
  batch: HoldRequest[],
  ttlHours: number,
): Promise<Map<number, ClaimResult>> {
  const taken = new Map<number, ClaimResult>();
  const keyed = batch
    .map((request, index) => ({ idem: request.idem, index }))
    .filter((entry) => entry.idem !== undefined)
    .sort((a, b) => compareKeys(a.idem?.key ?? "", b.idem?.key ?? ""));
  for (const { idem, index } of keyed) {
    if (!idem) continue;
    const claim = await claimKey(tx, idem, ttlHours);
    if (claim !== "claimed") taken.set(index, claim);
  }
  return taken;
}

/** A batch for a product that does not exist: every request not taken is a 404. */
function missing(productId: number, batch: HoldRequest[], taken: Map<number, ClaimResult>) {
  const error = notFound.product(productId);
  const decisions = batch.map((_, i) =>
    taken.has(i) ? undefined : ({ kind: "refused", error } as const),
  );
  return { decisions, granted: [], reclaimedHolds: 0 };
}

/** Each decided request's answer; a granted hold's id is the next of `holdIds`. */
function answersOf(
  productId: number,
  allocation: Allocation,
  holdIds: number[],
): (Granted | AppError | undefined)[] {
  // One expiry for the whole batch, written out once rather than per hold.
  const expires = allocation.expiresAt?.toISOString() ?? "";
  let n = 0;
  return allocation.decisions.map((decision) => {
    if (!decision) return undefined;
    if (decision.kind === "refused") return decision.error;
    const hold = { id: holdIds[n++] ?? 0, productId, buyerId: decision.buyer, qty: decision.qty };
    return { replayed: false, value: grantedHoldView(hold, expires) };
  });
}

/** The keyed requests' answers stored with their keys, in the batch's transaction. */
async function stored(tx: Tx, batch: HoldRequest[], decided: Decided): Promise<Decided> {
  for (const [i, request] of batch.entries()) {
    const answer = decided.answers?.[i];
    if (!request.idem || !answer) continue;
    const response = answer instanceof AppError ? answer : { status: 201, value: answer.value };
    await storeResponse(tx, request.idem, responseOf(response));
  }
  return decided;
}

/**
 * Whether a batch whose writes ran before COMMIT committed, after COMMIT lost its answer: all
 * or nothing, so its first granted hold tells. One that granted nothing answers refusals and
 * replays, true either way.
 */
async function firstHoldCommitted(db: Tx, decided: Decided): Promise<boolean> {
  const [first] = decided.allocation.granted;
  const answer = first === undefined ? undefined : decided.answers?.[first];
  if (!answer || answer instanceof AppError) return true;
  return holdExists(db, answer.value);
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

/** A stable order: the same key twice in one batch keeps arrival order, so the first claims it. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
