import { and, eq } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { writesFeed } from "../../db/keyset";
import { holds, orders } from "../../db/schema";
import { query, transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import type { BuyerId } from "../buyers";
import { expireHold, holdAlreadyUsed, lockHold } from "../holds";
import {
  type ClaimResult,
  claimKey,
  type IdempotencyHeader,
  type IdempotencyRequest,
  type Outcome,
  precheckKey,
  replayTaken,
  responseOf,
  storeResponse,
} from "../idempotency";
import { applyDeferredEvents } from "../payments/webhook";
import { publishProducts } from "../products/cache";
import { changeStock, lockProduct, type ProductSnapshot } from "../products/stock";
import { type OrderView, toOrderView } from "../views";
import { insertOrder } from "./changes";
import { touchOrderGate } from "./locking";

export type CreateOrderInput = { hold_id: number };

export const ORDERS_SCOPE = "POST /api/orders";

/** The order id a request's first attempt drew, kept across retries of its transaction. */
type DrawnId = { orderId?: number };

type Redeemed =
  | { view: OrderView; error?: undefined; snapshot: ProductSnapshot }
  | { view?: undefined; error: AppError; snapshot?: ProductSnapshot };

/**
 * Turns an active hold into a pending order: hold locked first, then its product. Refusals are
 * returned, not thrown, because some of them (an expired hold) still have work to commit.
 */
async function redeemHold(
  tx: Tx,
  holdId: number,
  buyer: BuyerId,
  drawn: DrawnId,
): Promise<Redeemed> {
  const hold = await lockHold(tx, holdId, buyer);
  if (!hold) return { error: notFound.hold(holdId) };
  switch (hold.status) {
    case "converted":
      return { error: await holdAlreadyUsed(tx, holdId) };
    case "released":
      return { error: new AppError("hold_released", `Hold ${holdId} was released.`) };
    case "expired":
      return { error: holdExpired(holdId) };
    case "active":
      break;
  }
  if (hold.expiresAt <= hold.now) {
    return { error: holdExpired(holdId), snapshot: await expireHold(tx, hold) };
  }

  const product = await lockProduct(tx, hold.productId);
  if (!product) throw notFound.product(hold.productId);
  await tx.update(holds).set({ status: "converted" }).where(eq(holds.id, holdId));
  let snapshot = await changeStock(tx, product, { available: -hold.qty, reserved: -hold.qty });
  // A retry of this transaction (after a deadlock or a certification conflict) keeps the id
  // its first attempt drew: a payment event may already name it.
  const order = await insertOrder(tx, {
    id: drawn.orderId,
    holdId,
    productId: hold.productId,
    buyerId: hold.buyerId,
    qty: hold.qty,
    unitPriceCents: product.priceCents,
    totalCents: product.priceCents * hold.qty,
    createdAt: hold.now,
  });
  drawn.orderId = order.id;
  await touchOrderGate(tx, order.id);
  const deferred = await applyDeferredEvents(tx, order, product);
  snapshot = deferred.snapshot ?? snapshot;
  return { view: toOrderView(order), snapshot };
}

/**
 * An order's row proves its transaction committed; a refusal or a replay is true either way.
 * The id alone is not proof (a crash that rolled the order back can hand its id to another
 * order); an order with this id for this hold is, since a hold becomes at most one order.
 */
async function orderCommitted(db: Tx, result: Redeemed | { claim: ClaimResult }): Promise<boolean> {
  if ("claim" in result || !result.view) return true;
  const [row] = await db
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.id, result.view.order_id), eq(orders.holdId, result.view.hold_id)))
    .limit(1)
    .for("update");
  return row !== undefined;
}

function holdExpired(holdId: number): AppError {
  return new AppError("hold_expired", `Hold ${holdId} has expired; its units are back on sale.`);
}

export async function createOrder(
  deps: Deps,
  input: CreateOrderInput,
  buyer: BuyerId,
  deadline: CommitGuard,
  idempotency?: IdempotencyHeader,
): Promise<Outcome<OrderView>> {
  let request: IdempotencyRequest | undefined;
  if (idempotency) {
    const checked = await query(deps, deadline, (db) =>
      precheckKey(db, { scope: ORDERS_SCOPE, buyer: buyer ?? "", ...idempotency }),
    );
    if ("replayed" in checked) return checked;
    request = checked;
  }
  const drawn: DrawnId = {};
  const result = await transact(
    deps,
    deadline,
    async (tx): Promise<Redeemed | { claim: ClaimResult }> => {
      if (request) {
        const claim = await claimKey(tx, request, deps.config.IDEMPOTENCY_KEY_TTL_HOURS);
        if (claim !== "claimed") return { claim };
      }
      const redeemed = await redeemHold(tx, input.hold_id, buyer, drawn);
      if (request) {
        const response = redeemed.error
          ? responseOf(redeemed.error)
          : responseOf({ status: 201, value: redeemed.view });
        await storeResponse(tx, request, response);
      }
      return redeemed;
    },
    { ...writesFeed, committed: orderCommitted },
  );

  if ("claim" in result) {
    const taken = request;
    if (!taken) throw new Error("a key was taken for a request without one");
    const response = await query(deps, deadline, (db) => replayTaken(db, taken, result.claim));
    return { replayed: true, response };
  }
  if (result.snapshot) publishProducts(deps, [result.snapshot]);
  if (result.error) throw result.error;
  if (result.view.status === "cancelled")
    deps.metrics.ordersCancelled.inc({ reason: "payment_failed" });
  return { replayed: false, value: result.view };
}
