import { randomBytes } from "node:crypto";
import type { AutoIncrement, Tx } from "../../db/client";
import { combines, runStatements } from "../../db/connection";
import type { Closing } from "../../db/transaction";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import { type ClaimResult, claimKey, responseOf, storeResponse } from "../idempotency";
import { lockProduct } from "../products/stock";
import { grantedHoldView, type HoldView } from "../views";
import { type Allocation, allocate, buyersOf } from "./allocate";
import { holdExists, provenHoldIds } from "./commit-proof";
import type { HoldRequest } from "./queue";
import {
  holdsWrite,
  lockedProductOf,
  lockProductStatement,
  ownedOf,
  unitsByBuyerStatement,
} from "./sql";

// Inside a batch's transaction (batch.ts runs it): keys claimed, the product locked, its units
// allocated, the writes run or handed back to go with COMMIT; the decisions returned, not applied.

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
 * What a batch without keys sends with BEGIN: the product's locking read and, where this
 * process's copy of the product says it has a per-buyer limit, the buyers' units (read under
 * the lock it just took), so that the batch spends no round trip of its own on them.
 */
export function openingOf(deps: Deps, productId: number, batch: HoldRequest[]): string[] {
  const lock = lockProductStatement(productId);
  if (deps.productCache.get(productId)?.view.max_per_buyer == null) return [lock];
  const buyers = buyersOf(batch, new Set());
  return buyers.length === 0 ? [lock] : [lock, unitsByBuyerStatement(productId, buyers, "NOW(3)")];
}

/** How a batch's transaction runs: see reserveBatch in batch.ts. */
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
export async function decide(
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
export function answersOf(
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
export async function firstHoldCommitted(db: Tx, decided: Decided): Promise<boolean> {
  const [first] = decided.allocation.granted;
  const answer = first === undefined ? undefined : decided.answers?.[first];
  if (!answer || answer instanceof AppError) return true;
  return holdExists(db, answer.value);
}

/** A stable order: the same key twice in one batch keeps arrival order, so the first claims it. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
