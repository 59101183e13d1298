import { randomBytes } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { AutoIncrement, Tx } from "../../db/client";
import { combines, runStatements } from "../../db/connection";
import { holds } from "../../db/schema";
import type { Closing } from "../../db/transaction";
import type { Deps } from "../../deps-type";
import { AppError, buyerLimitExceeded, insufficientStock } from "../../errors";
import type { SoldOutSighting } from "../../state/sold-out-board";
import { reclaimExpiredHolds } from "../holds/expire";
import type { ClaimResult } from "../idempotency";
import { type LockedProduct, type ProductSnapshot, stockChangeStatement } from "../products/stock";
import { windowRefusal } from "../sale-window";
import { grantedHoldView, type HoldView, parseDbTime, toProductView } from "../views";
import type { HoldRequest } from "./queue";
import { holdsWrite, type Owned, unitsByBuyer } from "./sql";

// Allocation: a locked product's units shared out over a batch's requests, in arrival order.

/** What became of one request of a batch. */
export type Decision =
  | { kind: "granted"; view: HoldView }
  | { kind: "refused"; error: AppError }
  | { kind: "taken"; claim: ClaimResult };

export type Allocation = {
  snapshot?: ProductSnapshot;
  reclaimedHolds: number;
  soldOut?: boolean;
  /** Nothing left after this batch: what the sold-out board may refuse from, after commit. */
  sighting?: SoldOutSighting;
  /** The batch's writes, when they go to the server with its COMMIT. */
  closing?: Closing;
  /** The row that proves such a batch committed, and how to grant its holds then. */
  proof?: { token: Buffer; holds: number; grant: (ids: number[]) => void };
};

/**
 * Decides the undecided requests of a batch against a locked product, in arrival order, and
 * writes the granted holds and the counter. On a product with `max_per_buyer`, each buyer's
 * units (held or ordered, plus what this batch already gave them) are checked first. The first
 * shortfall of either kind reclaims the product's expired holds before anyone is refused.
 */
export async function allocate(
  tx: Tx,
  deps: Deps,
  product: LockedProduct,
  batch: HoldRequest[],
  decisions: Decision[],
  autoIncrement: AutoIncrement,
  deferWrites: boolean,
): Promise<Allocation> {
  const closed = windowRefusal(
    product.saleStartsAt?.getTime() ?? null,
    product.saleEndsAt?.getTime() ?? null,
    product.now.getTime(),
  );
  if (closed) {
    batch.forEach((_, i) => {
      decisions[i] ??= { kind: "refused", error: closed };
    });
    // The product as the database stands, so that this process refuses the rest of a storm
    // before the opening from memory.
    const view = toProductView(product, product.now.getTime());
    return { reclaimedHolds: 0, snapshot: { version: product.version, view } };
  }
  const expiresAt = new Date(product.now.getTime() + deps.config.HOLD_TTL_SECONDS * 1000);
  const availableBefore = product.stockAvailable - product.stockReserved;
  const limit = product.maxPerBuyer;
  const buyers =
    limit === null
      ? []
      : [...new Set(batch.flatMap((r, i) => (decisions[i] || r.buyer === null ? [] : [r.buyer])))];
  let owned =
    limit === null
      ? new Map<string, Owned>()
      : await unitsByBuyer(tx, product.id, buyers, product.now);
  const grantedTo = new Map<string, number>();
  const usedBy = (buyer: string) => (owned.get(buyer)?.units ?? 0) + (grantedTo.get(buyer) ?? 0);
  let available = availableBefore;
  let reclaimed: { holds: number; units: number } | undefined;
  const reclaim = async () => {
    if (reclaimed) return;
    reclaimed = await reclaimExpiredHolds(tx, product);
    available += reclaimed.units;
    if (limit !== null && reclaimed.holds > 0) {
      owned = await unitsByBuyer(tx, product.id, buyers, product.now);
    }
  };
  const granted: number[] = [];
  for (const [i, request] of batch.entries()) {
    if (decisions[i]) continue;
    const { buyer, qty } = request;
    if (limit !== null) {
      if (buyer === null) {
        decisions[i] = { kind: "refused", error: noBuyer(limit) };
        continue;
      }
      // Only when the buyer's expired holds would make room: at a sale's end most buyers are
      // at their limit, and a read for expired holds per batch would be wasted on them.
      const over = usedBy(buyer) + qty - limit;
      if (over > 0 && over <= (owned.get(buyer)?.expired ?? 0)) await reclaim();
      if (usedBy(buyer) + qty > limit) {
        decisions[i] = { kind: "refused", error: limitRefusal(limit, usedBy(buyer)) };
        continue;
      }
    }
    if (qty > available) await reclaim();
    if (qty <= available) {
      available -= qty;
      granted.push(i);
      if (buyer !== null) grantedTo.set(buyer, (grantedTo.get(buyer) ?? 0) + qty);
    } else {
      decisions[i] = { kind: "refused", error: insufficientStock(available) };
    }
  }
  const rows = granted.map((i) => ({ qty: batch[i]?.qty ?? 0, buyer: batch[i]?.buyer ?? null }));
  const reserved = rows.reduce((sum, row) => sum + row.qty, 0) - (reclaimed?.units ?? 0);
  const changed = rows.length > 0 || (reclaimed?.holds ?? 0) > 0;
  const change = changed ? stockChangeStatement(product, { reserved }) : undefined;
  // Sent with COMMIT, the writes' answer can be lost with the connection; a batch row written
  // with them then tells whether they committed (see batchCommitted).
  const token = deferWrites && combines(tx) && rows.length > 0 ? randomBytes(16) : undefined;
  const write = holdsWrite(autoIncrement, product.id, rows, {
    createdAt: product.now,
    expiresAt,
    stockChange: change?.sql,
    token,
  });
  // One expiry for the whole batch, written out once rather than per hold.
  const expires = expiresAt.toISOString();
  const grant = (ids: number[]) => {
    granted.forEach((batchIndex, n) => {
      const row = rows[n];
      decisions[batchIndex] = {
        kind: "granted",
        view: grantedHoldView(
          {
            id: ids[n] ?? 0,
            productId: product.id,
            buyerId: row?.buyer ?? null,
            qty: row?.qty ?? 0,
          },
          expires,
        ),
      };
    });
  };
  let closing: Closing | undefined;
  if (write.statements.length === 0) grant([]);
  else if (deferWrites) {
    closing = { statements: write.statements, apply: (results) => grant(write.ids(results)) };
  } else grant(write.ids(await runStatements(tx, write.statements)));
  // Our own holds are not written yet when the writes are deferred, and expire last.
  const earliest =
    available === 0
      ? ((await nextExpiry(tx, product.id)) ?? (rows.length > 0 ? expiresAt : null))
      : null;
  return {
    snapshot: change?.applied(),
    reclaimedHolds: reclaimed?.holds ?? 0,
    soldOut: availableBefore > 0 && available === 0,
    sighting:
      available === 0
        ? { dbNow: product.now, nextExpiry: earliest, maxPerBuyer: product.maxPerBuyer }
        : undefined,
    closing,
    proof: token && { token, holds: rows.length, grant },
  };
}

/** When the product's first active hold expires: until then no unit can come back by expiry. */
async function nextExpiry(tx: Tx, productId: number): Promise<Date | null> {
  const [row] = await tx
    .select({ at: sql<string | null>`MIN(${holds.expiresAt})` })
    .from(holds)
    .where(and(eq(holds.productId, productId), eq(holds.status, "active")));
  return row?.at ? parseDbTime(row.at) : null;
}

function noBuyer(limit: number): AppError {
  return new AppError(
    "unauthorized",
    `This product allows ${limit} per buyer; holding it needs a buyer token, and none is configured or sent.`,
  );
}

const limitRefusals = new Map<string, AppError>();

/**
 * One refusal per limit and count, shared: at a sale's end most answers are these, and making
 * an error (its stack trace) for each was a share of the batch's time.
 */
function limitRefusal(limit: number, used: number): AppError {
  const key = `${limit}:${used}`;
  let refusal = limitRefusals.get(key);
  if (!refusal) {
    if (limitRefusals.size >= 1024) limitRefusals.clear();
    refusal = buyerLimitExceeded(limit, used);
    limitRefusals.set(key, refusal);
  }
  return refusal;
}
