import { sql } from "drizzle-orm";
import { check, index, int, mysqlEnum, mysqlTable } from "drizzle-orm/mysql-core";
import { buyerId, createdAt, id, ref, timestamp } from "./columns";
import { products } from "./products";

export const holdStatuses = ["active", "converted", "released", "expired"] as const;

export const holds = mysqlTable(
  "holds",
  {
    id: id(),
    productId: ref("product_id")
      .notNull()
      .references(() => products.id),
    // The JWT `sub` of the buyer (binary: ids compare byte for byte); null when anonymous.
    buyerId: buyerId(),
    qty: int("qty").notNull(),
    status: mysqlEnum("status", holdStatuses).notNull().default("active"),
    expiresAt: timestamp("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("holds_status_expires_at_idx").on(t.status, t.expiresAt),
    index("holds_product_status_expires_at_idx").on(t.productId, t.status, t.expiresAt),
    index("holds_product_buyer_status_idx").on(t.productId, t.buyerId, t.status),
    // A buyer's own holds, newest first.
    index("holds_buyer_idx").on(t.buyerId),
    check("holds_qty_positive", sql`${t.qty} > 0`),
  ],
);

export type HoldStatus = (typeof holdStatuses)[number];
