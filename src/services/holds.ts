import { and, eq, isNull } from "drizzle-orm";
import { dbNow, type Tx } from "../db/client";
import { holds, orders } from "../db/schema";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { AppError, notFound } from "../errors";
import type { BuyerId } from "./buyers";
import type { HoldRequest } from "./hold-batcher";
import { type IdempotencyHeader, type Outcome, precheckKey } from "./idempotency";
import { changeStock, lockProduct, publishProducts, refreshProduct } from "./products";
import { windowRefusalFromMemory } from "./sale-window";
import { query, transact } from "./transact";
import { type HoldView, parseDbTime, toHoldView } from "./views";

export type CreateHoldInput = { product_id: number; qty: number };

export const HOLDS_SCOPE = "POST /api/holds";

/**
 * A hold, or the domain refusal (409, 401, 429, ...) as a value rather than thrown: at the end
 * of a sale nearly every request is one, and throwing each cost a tenth of the refusal's time.
 * A refusal decided from memory (sold out, or the product's line full) comes back at once, not
 * as a promise: each asynchronous layer is a share of such a refusal, and at 2,000 connections
 * most requests are 429s. Database failures are still thrown (503).
 */
export function createHold(
  deps: Deps,
  input: CreateHoldInput,
  buyer: BuyerId,
  deadline: CommitGuard,
  idempotency?: IdempotencyHeader,
): AppError | Promise<Outcome<HoldView> | AppError> {
  const refusal = refuseFromMemory(deps, input.product_id, buyer, idempotency);
  if (refusal) return refused(deps, refusal);
  const request: HoldRequest = {
    productId: input.product_id,
    qty: input.qty,
    buyer,
    deadline,
  };
  return idempotency ? keyedHold(deps, request, idempotency) : queued(deps, request);
}

/** The request in its product's line; a full line's 429 is counted and answered at once. */
function queued(
  deps: Deps,
  request: HoldRequest,
): AppError | Promise<Outcome<HoldView> | AppError> {
  const answer = deps.holdBatcher.submit(request);
  return answer instanceof AppError ? refused(deps, answer) : answer;
}

function refused(deps: Deps, refusal: AppError): AppError {
  deps.metrics.holdsRefused.inc({ reason: refusal.code });
  return refusal;
}

/** A keyed hold: a key already answered is replayed before the request joins the queue. */
async function keyedHold(
  deps: Deps,
  request: HoldRequest,
  idempotency: IdempotencyHeader,
): Promise<Outcome<HoldView> | AppError> {
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
 * sold-out product (see sold-out.ts). Not for a keyed request, whose 409 must be remembered
 * with its key.
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

/**
 * A buyer sees only their own holds and orders: another buyer's is "not found", and is never
 * even locked. Anonymous shoppers (null) see the holds made anonymously.
 */
export function ownedBy(column: typeof holds.buyerId | typeof orders.buyerId, buyer: BuyerId) {
  return buyer === null ? isNull(column) : eq(column, buyer);
}

/** What a hold's view needs, with the database clock that decides whether it expired. */
const holdColumns = {
  id: holds.id,
  productId: holds.productId,
  buyerId: holds.buyerId,
  qty: holds.qty,
  status: holds.status,
  expiresAt: holds.expiresAt,
  now: dbNow,
};

/** The buyer's hold, locked; undefined when it does not exist or is someone else's. */
export async function lockHold(tx: Tx, id: number, buyer: BuyerId) {
  const [row] = await tx
    .select(holdColumns)
    .from(holds)
    .where(and(eq(holds.id, id), ownedBy(holds.buyerId, buyer)))
    .for("update");
  return row && { ...row, now: parseDbTime(row.now) };
}

export type LockedHold = NonNullable<Awaited<ReturnType<typeof lockHold>>>;

/** The 409 for a hold that already became an order, naming that order. */
export async function holdAlreadyUsed(tx: Tx, holdId: number): Promise<AppError> {
  const [row] = await tx
    .select({ id: orders.id })
    .from(orders)
    .where(eq(orders.holdId, holdId))
    .limit(1);
  return new AppError("hold_already_used", `Hold ${holdId} already became order ${row?.id}.`, {
    order_id: row?.id,
  });
}

/**
 * Marks an active hold whose time has passed as expired and returns its units, in the caller's
 * transaction (the hold is locked; the product gets locked here, in hold → product order).
 */
export async function expireHold(tx: Tx, hold: LockedHold) {
  const product = await lockProduct(tx, hold.productId);
  if (!product) throw notFound.product(hold.productId);
  await tx.update(holds).set({ status: "expired" }).where(eq(holds.id, hold.id));
  return changeStock(tx, product, { reserved: -hold.qty });
}

/**
 * Whether this very hold exists: a granted hold's row is its transaction's proof of commit.
 * The id alone is not enough: after a database crash rolled the hold back, the same id can be
 * given to a new hold, so the product, quantity, buyer and expiry (to the millisecond) must
 * match too.
 */
export async function holdExists(db: Tx, hold: HoldView): Promise<boolean> {
  const [row] = await db
    .select({ id: holds.id })
    .from(holds)
    .where(
      and(
        eq(holds.id, hold.hold_id),
        eq(holds.productId, hold.product_id),
        eq(holds.qty, hold.qty),
        ownedBy(holds.buyerId, hold.buyer_id),
        eq(holds.expiresAt, new Date(hold.expires_at)),
      ),
    )
    .limit(1)
    .for("update");
  return row !== undefined;
}

/** Whether a hold has the status a transaction answered with, i.e. that it committed. */
async function statusIs(db: Tx, id: number, status: HoldView["status"]): Promise<boolean> {
  const [row] = await db
    .select({ status: holds.status })
    .from(holds)
    .where(eq(holds.id, id))
    .limit(1)
    .for("update");
  // A hold read as expired by the clock may still be active in its row; both answers are true.
  return status === "expired" || row?.status === status;
}

export async function getHold(
  deps: Deps,
  id: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<HoldView> {
  const [row] = await query(deps, deadline, (db) =>
    db
      .select({ ...holdColumns, orderId: orders.id })
      .from(holds)
      .leftJoin(orders, eq(orders.holdId, holds.id))
      .where(and(eq(holds.id, id), ownedBy(holds.buyerId, buyer)))
      .limit(1),
  );
  if (!row) throw notFound.hold(id);
  return toHoldView(row, parseDbTime(row.now), row.orderId ?? undefined);
}

/** Releases an active hold now; releasing a released or expired hold changes nothing. */
export async function releaseHold(
  deps: Deps,
  id: number,
  buyer: BuyerId,
  deadline: CommitGuard,
): Promise<HoldView> {
  const { view, snapshot } = await transact(
    deps,
    deadline,
    async (tx) => {
      const hold = await lockHold(tx, id, buyer);
      if (!hold) throw notFound.hold(id);
      if (hold.status === "converted") throw await holdAlreadyUsed(tx, id);
      if (hold.status !== "active")
        return { view: toHoldView(hold, hold.now), snapshot: undefined };
      if (hold.expiresAt <= hold.now) {
        const snapshot = await expireHold(tx, hold);
        return { view: toHoldView({ ...hold, status: "expired" }, hold.now), snapshot };
      }
      const product = await lockProduct(tx, hold.productId);
      if (!product) throw notFound.product(hold.productId);
      await tx.update(holds).set({ status: "released" }).where(eq(holds.id, id));
      const snapshot = await changeStock(tx, product, { reserved: -hold.qty });
      return { view: toHoldView({ ...hold, status: "released" }, hold.now), snapshot };
    },
    { committed: (db, result) => statusIs(db, id, result.view.status) },
  );
  if (snapshot) publishProducts(deps, [snapshot]);
  return view;
}
