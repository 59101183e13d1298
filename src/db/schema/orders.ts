import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  uniqueIndex,
} from "drizzle-orm/mysql-core";
import { buyerId, createdAt, id, ref, timestamp } from "./columns";
import { holds } from "./holds";
import { products } from "./products";

export const orderStatuses = ["pending", "paid", "cancelled"] as const;

export const orders = mysqlTable(
  "orders",
  {
    id: id(),
    holdId: ref("hold_id")
      .notNull()
      .references(() => holds.id),
    productId: ref("product_id")
      .notNull()
      .references(() => products.id),
    buyerId: buyerId(),
    qty: int("qty").notNull(),
    unitPriceCents: int("unit_price_cents").notNull(),
    totalCents: bigint("total_cents", { mode: "number" }).notNull(),
    status: mysqlEnum("status", orderStatuses).notNull().default("pending"),
    createdAt: createdAt(),
    // The last change of status (written by order-changes.ts, where every change goes through).
    updatedAt: timestamp("updated_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`),
  },
  (t) => [
    uniqueIndex("orders_hold_id_unique").on(t.holdId),
    // A buyer's own orders, newest first (the primary key rides along in the index).
    index("orders_buyer_idx").on(t.buyerId),
    index("orders_status_created_at_idx").on(t.status, t.createdAt),
    index("orders_product_status_idx").on(t.productId, t.status),
    index("orders_product_buyer_status_idx").on(t.productId, t.buyerId, t.status),
    check("orders_qty_positive", sql`${t.qty} > 0`),
  ],
);

/**
 * One row per order id that an order or a payment event for it has touched. Both write it, so
 * that an event arriving before its order and the order's creation conflict on a real row: on
 * one server they queue on its row lock; on a Galera cluster, where gap locks do not
 * replicate, the later of the two fails certification and is run again, and then sees the
 * other. `writes` changes on every touch because a write that changes nothing is not
 * replicated, and so would not conflict.
 */
export const orderGates = mysqlTable("order_gates", {
  orderId: bigint("order_id", { mode: "number", unsigned: true }).primaryKey(),
  writes: int("writes", { unsigned: true }).notNull().default(1),
});

export type OrderStatus = (typeof orderStatuses)[number];
