import { and, eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { holds } from "../../db/schema";
import type { Deps } from "../../deps-type";
import { AppError, buyerLimitExceeded, insufficientStock } from "../../errors";
import type { SoldOutSighting } from "../../state/sold-out-board";
import type { BuyerId } from "../buyers";
import { reclaimExpiredHolds } from "../holds/expire";
import { type LockedProduct, type ProductSnapshot, stockChangeStatement } from "../products/stock";
import { windowRefusal } from "../sale-window";
import { parseDbTime, toProductView } from "../views";
import { checkAdmission } from "../waiting-room/admission";
import type { HoldRequest } from "./queue";
import { type Owned, unitsByBuyer } from "./sql";

// Allocation: a locked product's units shared out over a batch's requests, in arrival order.
// It decides and says what to write; decide.ts writes it, batch.ts answers.

/** What allocation decided for one request of a batch. */
export type Decision =
  | { kind: "granted"; qty: number; buyer: BuyerId }
  | { kind: "refused"; error: AppError };

export type Allocation = {
  /** One per request of the batch; none for a request decided before (a key already taken). */
  decisions: (Decision | undefined)[];
  /** The granted requests' places in the batch, in the order their holds are written. */
  granted: number[];
  /** The stock UPDATE, when units were granted or reclaimed. */
  stockChange?: string;
  /** When the batch's holds expire (a batch for a missing product has none). */
  expiresAt?: Date;
  snapshot?: ProductSnapshot;
  reclaimedHolds: number;
  soldOut?: boolean;
  /** Nothing left after this batch: what the sold-out board may refuse from, after commit. */
  sighting?: SoldOutSighting;
};

/**
 * Decides the requests of a batch not `decided` already against a locked product, in arrival
 * order. On a product with `max_per_buyer`, each buyer's units (held or ordered, plus what this
 * batch already gave them) are checked first, from `counted` when the batch read them already.
 * The first shortfall of either kind reclaims the product's expired holds before anyone is
 * refused.
 */
export async function allocate(
  tx: Tx,
  deps: Deps,
  product: LockedProduct,
  batch: HoldRequest[],
  decided: ReadonlySet<number>,
  counted?: Map<string, Owned>,
): Promise<Allocation & { expiresAt: Date }> {
  const decisions: (Decision | undefined)[] = new Array(batch.length).fill(undefined);
  const expiresAt = new Date(product.now.getTime() + deps.config.HOLD_TTL_SECONDS * 1000);
  const closed = windowRefusal(
    product.saleStartsAt?.getTime() ?? null,
    product.saleEndsAt?.getTime() ?? null,
    product.now.getTime(),
  );
  if (closed) {
    batch.forEach((_, i) => {
      if (!decided.has(i)) decisions[i] = { kind: "refused", error: closed };
    });
    // The product as the database stands, so that this process refuses the rest of a storm
    // before the opening from memory.
    const view = toProductView(product, product.now.getTime());
    const snapshot = { version: product.version, view };
    return { decisions, granted: [], expiresAt, reclaimedHolds: 0, snapshot };
  }
  // The waiting room next, before stock and the per-buyer limit; nothing for a product without one.
  const unadmitted =
    product.admitPerSecond === null ? undefined : await checkAdmission(tx, product, batch, decided);
  for (const [i, error] of unadmitted ?? []) decisions[i] = { kind: "refused", error };
  const settled = unadmitted ? new Set([...decided, ...unadmitted.keys()]) : decided;
  const availableBefore = product.stockAvailable - product.stockReserved;
  const limit = product.maxPerBuyer;
  const buyers = limit === null ? [] : buyersOf(batch, settled);
  let owned =
    limit === null
      ? new Map<string, Owned>()
      : (counted ?? (await unitsByBuyer(tx, product.id, buyers, product.now)));
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
  let reserved = 0;
  for (const [i, request] of batch.entries()) {
    if (settled.has(i)) continue;
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
      reserved += qty;
      granted.push(i);
      decisions[i] = { kind: "granted", qty, buyer };
      if (buyer !== null) grantedTo.set(buyer, (grantedTo.get(buyer) ?? 0) + qty);
    } else {
      decisions[i] = { kind: "refused", error: insufficientStock(available) };
    }
  }
  const changed = granted.length > 0 || (reclaimed?.holds ?? 0) > 0;
  const change = changed
    ? stockChangeStatement(product, { reserved: reserved - (reclaimed?.units ?? 0) })
    : undefined;
  // Our own holds may not be written yet, and expire last.
  const earliest =
    available === 0
      ? ((await nextExpiry(tx, product.id)) ?? (granted.length > 0 ? expiresAt : null))
      : null;
  return {
    decisions,
    granted,
    stockChange: change?.sql,
    expiresAt,
    snapshot: change?.applied(),
    reclaimedHolds: reclaimed?.holds ?? 0,
    soldOut: availableBefore > 0 && available === 0,
    sighting:
      available === 0
        ? { dbNow: product.now, nextExpiry: earliest, maxPerBuyer: product.maxPerBuyer }
        : undefined,
  };
}

/** The buyers of a batch's requests not `decided` already, each once. */
export function buyersOf(batch: HoldRequest[], decided: ReadonlySet<number>): string[] {
  return [
    ...new Set(batch.flatMap((r, i) => (decided.has(i) || r.buyer === null ? [] : [r.buyer]))),
  ];
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

/** One refusal per limit and count, shared (docs/hot-path.md, rule 7). */
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
