import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { keysetPage, type PageInput, writesFeed } from "../../db/keyset";
import { type OrderStatus, orders } from "../../db/schema";
import { query, transactProven } from "../../db/transaction";
import { type CommitGuard, Deadline } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import { csvRecord } from "../../lib/csv";
import { type Actor, recordAudit } from "../audit";
import { publishProducts } from "../products/cache";
import { type ProductSnapshot, returnStock } from "../products/stock";
import { type OrderView, toOrderView } from "../views";
import { settleOrders } from "./changes";
import { lockOrder } from "./locking";

// The operator's orders: the list, its CSV export and the cancel of a pending one.

export type OrderFilter = { status?: OrderStatus; product_id?: number; buyer_id?: string };

export type AdminOrderView = OrderView & { updated_at: string };

type OrderRow = typeof orders.$inferSelect;

const toAdminOrderView = (row: OrderRow): AdminOrderView => ({
  ...toOrderView(row),
  updated_at: row.updatedAt.toISOString(),
});

function matching(filter: OrderFilter, window: SQL | undefined): SQL | undefined {
  return and(
    window,
    filter.status === undefined ? undefined : eq(orders.status, filter.status),
    filter.product_id === undefined ? undefined : eq(orders.productId, filter.product_id),
    filter.buyer_id === undefined ? undefined : eq(orders.buyerId, filter.buyer_id),
  );
}

function pageOf(db: Tx, filter: OrderFilter, window: SQL | undefined, limit: number) {
  return db
    .select()
    .from(orders)
    .where(matching(filter, window))
    .orderBy(asc(orders.id))
    .limit(limit);
}

const ordersFeed = { table: orders, id: orders.id, createdAt: orders.createdAt };

export async function listOrders(
  deps: Deps,
  input: OrderFilter & PageInput,
  deadline: CommitGuard,
): Promise<{ orders: AdminOrderView[]; next_after_id: number | null }> {
  const { rows, next_after_id } = await query(deps, deadline, (db) =>
    keysetPage(db, ordersFeed, input, (window, limit) => pageOf(db, input, window, limit)),
  );
  return { orders: rows.map(toAdminOrderView), next_after_id };
}

export const ORDER_CSV_HEADER = [
  "order_id",
  "hold_id",
  "product_id",
  "buyer_id",
  "qty",
  "unit_price_cents",
  "total_cents",
  "status",
  "created_at",
  "updated_at",
];

/** Rows read per statement while exporting: one batch's text is what the export holds. */
const EXPORT_BATCH = 1000;

function csvOf(rows: OrderRow[]): string {
  let text = "";
  for (const row of rows) {
    const view = toAdminOrderView(row);
    text += csvRecord([
      view.order_id,
      view.hold_id,
      view.product_id,
      view.buyer_id,
      view.qty,
      view.unit_price_cents,
      view.total_cents,
      view.status,
      view.created_at,
      view.updated_at,
    ]);
  }
  return text;
}

/**
 * Every matching order as CSV, read in keyset batches only as fast as the client takes them
 * (the stream pulls a batch when its reader wants more), so memory stays flat whatever the
 * number of orders. The first batch is read under the request's deadline, so a database that
 * does not answer is a 503 before any byte; each later one is its own short read with a
 * deadline of its own: an export of a million orders outlasts any one request's deadline, and
 * holds no transaction open for it. It is the orders as they stand while it runs, not a feed to
 * page on: an order still committing as its batch is read is in the next export.
 */
export async function exportOrders(
  deps: Deps,
  filter: OrderFilter,
  deadline: CommitGuard,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const batch = (guard: CommitGuard, afterId: number) =>
    query(deps, guard, (db) => pageOf(db, filter, gt(orders.id, afterId), EXPORT_BATCH));
  let rows = await batch(deadline, 0);
  let first = true;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!first) {
          const last = rows.at(-1);
          if (rows.length < EXPORT_BATCH || !last) {
            controller.close();
            return;
          }
          const guard = Deadline.after(deps.config.REQUEST_TIMEOUT_MS);
          try {
            rows = await batch(guard, last.id);
          } catch (err) {
            // The headers are gone: the client sees the download cut off (no last CRLF).
            deps.logger.error({ err }, "order export failed part way");
            controller.error(err);
            return;
          } finally {
            guard.clear();
          }
        }
        const header = first ? csvRecord(ORDER_CSV_HEADER) : "";
        first = false;
        controller.enqueue(encoder.encode(header + csvOf(rows)));
      },
    },
    { highWaterMark: 0 },
  );
}

export type CancelOrderInput = { note?: string | null };

/**
 * The operator cancels a pending order (a customer who called): through the same change as
 * every cancel (order-changes.ts: its `order.cancelled` event, with reason `operator`), its
 * units back in stock and so back in the buyer's allowance, in one transaction with its audit
 * entry. A cancelled order is a 200 unchanged; a paid one is the payment provider's to refund.
 */
export async function cancelOrder(
  deps: Deps,
  id: number,
  input: CancelOrderInput,
  deadline: CommitGuard,
  actor: Actor,
): Promise<OrderView> {
  const result = await transactProven(
    deps,
    deadline,
    async (tx) => {
      const order = await lockOrder(tx, id);
      if (!order) throw notFound.order(id);
      if (order.status === "paid") {
        throw new AppError(
          "order_already_paid",
          `Order ${id} is paid: a refund is made at the payment provider.`,
          { order_id: id },
        );
      }
      if (order.status === "cancelled") return { view: toOrderView(order), snapshots: [] };
      // Order, then product: the lock order every transaction keeps.
      const snapshots: ProductSnapshot[] = await returnStock(tx, [order], "sold");
      await settleOrders(tx, [order], { status: "cancelled", reason: "operator" });
      await recordAudit(tx, actor, {
        action: "order.cancel",
        target: `order:${id}`,
        changes: { status: ["pending", "cancelled"] },
        note: input.note,
      });
      return { view: toOrderView(order), snapshots };
    },
    writesFeed,
  );
  publishProducts(deps, result.snapshots);
  if (result.snapshots.length > 0) {
    deps.metrics.ordersCancelled.inc({ reason: "operator" });
    deps.logger.info({ orderId: id }, "order cancelled by the operator");
  }
  return result.view;
}
